"""retailer3's mapping from the generator's staging tables: internal bigint keys with
public UUIDs and numeric-string references, euros as numeric, timestamptz.

UUIDs are md5 digests of the seed and the order number: deterministic, so re-seeding a
date gives the same order numbers and event ids.
"""

from retailers.core.spec import LoadSql

ARTICLE = "(40000000 + {col})::text"
OUTLET = "lpad({col}::text, 4, '0')"

LOAD = LoadSql(
    master=f"""
insert into outlet (outlet_ref, label, town, country, format)
select {OUTLET.format(col="store_no")}, name, city, country, kind from stg_store;

insert into article (article_number, label, product_group, created_at)
select {ARTICLE.format(col="product_no")}, name, category, created_at from stg_product;

insert into article_price (article_number, valid_from, price)
select {ARTICLE.format(col="product_no")}, valid_from, price_cents / 100.0 from stg_price;

insert into client (id, client_ref, registered_at)
select customer_no, (10000000 + customer_no)::text, signup_at from stg_customer;

-- Euromarché's CRM stores a missing email as an empty string, not null.
insert into client_version (client_id, changed_at, mail, name, town, country)
select customer_no, valid_from, coalesce(email, ''), first_name || ' ' || last_name, city,
       country
from stg_customer_version;
""",
    day=f"""
insert into sales_header (id, order_number, client_id, outlet_ref, created_at, currency,
                          grand_total)
select order_no, md5(%(seed)s::text || ':order:' || order_no)::uuid, customer_no,
       {OUTLET.format(col="store_no")}, created_at, 'EUR', total_cents / 100.0
from stg_order;

insert into sales_item (id, header_id, position, article_number, quantity, unit_price,
                        discount, line_total)
select line_key, order_no, line_no, {ARTICLE.format(col="product_no")}, qty,
       unit_price_cents / 100.0, discount_cents / 100.0, line_total_cents / 100.0
from stg_line;

insert into sales_event (id, event_id, header_id, event_type, occurred_at, reported_on)
select order_no * 8 + event, md5(%(seed)s::text || ':event:' || order_no || ':' || event)::uuid,
       order_no, (array['PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'REFUNDED'])[event],
       occurred_at, reported_on
from stg_event;
""",
    delete_day="""
delete from sales_event where header_id >= %(lo)s and header_id < %(hi)s;
delete from sales_item where header_id >= %(lo)s and header_id < %(hi)s;
delete from sales_header where id >= %(lo)s and id < %(hi)s;
""",
)
