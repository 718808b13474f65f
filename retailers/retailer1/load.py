"""retailer1's mapping from the generator's staging tables: integer ids, `NW-` SKUs,
dollars as numeric, naive timestamps holding UTC."""

from retailers.core.spec import LoadSql

SKU = "'NW-' || lpad({col}::text, 6, '0')"

LOAD = LoadSql(
    master=f"""
insert into store (store_id, store_name, city, state, kind)
select store_no, name, city, region, kind from stg_store;

insert into item (sku, title, category, created_ts)
select {SKU.format(col="product_no")}, name, category, created_at at time zone 'UTC'
from stg_product;

insert into item_price (sku, effective_ts, price)
select {SKU.format(col="product_no")}, valid_from at time zone 'UTC', price_cents / 100.0
from stg_price;

insert into customer (customer_id, signup_ts)
select customer_no, signup_at at time zone 'UTC' from stg_customer;

insert into customer_rev (customer_id, modified_ts, email, first_name, last_name, city, state)
select customer_no, valid_from at time zone 'UTC', email, first_name, last_name, city, region
from stg_customer_version;
""",
    day=f"""
insert into sales_order (order_id, order_ts, customer_id, store_id)
select order_no, created_at at time zone 'UTC', customer_no, store_no from stg_order;

insert into sales_order_line (row_id, order_id, line_no, sku, qty, unit_price, discount,
                              line_total)
select line_key, order_no, line_no, {SKU.format(col="product_no")}, qty,
       unit_price_cents / 100.0, discount_cents / 100.0, line_total_cents / 100.0
from stg_line;

insert into order_status_log (order_id, status, status_ts, logged_on)
select order_no, (array['paid', 'shipped', 'delivered', 'canceled', 'refunded'])[event],
       occurred_at at time zone 'UTC', reported_on
from stg_event;
""",
    delete_day="""
delete from order_status_log where order_id >= %(lo)s and order_id < %(hi)s;
delete from sales_order_line where order_id >= %(lo)s and order_id < %(hi)s;
delete from sales_order where order_id >= %(lo)s and order_id < %(hi)s;
""",
)
