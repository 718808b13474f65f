"""retailer2's mapping from the generator's staging tables: prefixed text ids, money in
integer cents, timestamptz."""

from retailers.core.spec import LoadSql

ORDER_ID = "'ORD-' || lpad({col}::text, 10, '0')"
PRODUCT_CODE = "'SKU-' || lpad({col}::text, 6, '0')"
SHOPPER_ID = "'CUS-' || lpad({col}::text, 7, '0')"
CHANNEL_CODE = "'CH-' || lpad({col}::text, 3, '0')"
# The first and past-the-last purchase id of a date (the text ids sort like the numbers).
LO = ORDER_ID.format(col="%(lo)s")
HI = ORDER_ID.format(col="%(hi)s")

LOAD = LoadSql(
    master=f"""
insert into channel (code, label, channel_type, city)
select {CHANNEL_CODE.format(col="store_no")}, name, kind, city from stg_store;

insert into product (code, name, department, created_at)
select {PRODUCT_CODE.format(col="product_no")}, name, category, created_at from stg_product;

insert into product_price (code, valid_from, price_cents)
select {PRODUCT_CODE.format(col="product_no")}, valid_from, price_cents from stg_price;

insert into shopper (id, created_at)
select {SHOPPER_ID.format(col="customer_no")}, signup_at from stg_customer;

insert into shopper_profile (shopper_id, valid_from, email, full_name, city, region)
select {SHOPPER_ID.format(col="customer_no")}, valid_from, email,
       first_name || ' ' || last_name, city, region
from stg_customer_version;
""",
    day=f"""
insert into purchase (id, shopper_id, channel_code, placed_at, total_cents)
select {ORDER_ID.format(col="order_no")}, {SHOPPER_ID.format(col="customer_no")},
       {CHANNEL_CODE.format(col="store_no")}, created_at, total_cents
from stg_order;

insert into purchase_item (item_id, purchase_id, line, product_code, quantity,
                           unit_price_cents, discount_cents, total_cents)
select line_key, {ORDER_ID.format(col="order_no")}, line_no,
       {PRODUCT_CODE.format(col="product_no")}, qty, unit_price_cents, discount_cents,
       line_total_cents
from stg_line;

insert into purchase_status (purchase_id, status, changed_at, recorded_day)
select {ORDER_ID.format(col="order_no")},
       (array['paid', 'shipped', 'delivered', 'canceled', 'refunded'])[event],
       occurred_at, reported_on
from stg_event;
""",
    delete_day=f"""
delete from purchase_status where purchase_id >= {LO} and purchase_id < {HI};
delete from purchase_item where purchase_id >= {LO} and purchase_id < {HI};
delete from purchase where id >= {LO} and id < {HI};
""",
)
