"""retailer1's storage mapping: integer ids, `NW-` SKUs, dollars as numeric, naive
timestamps holding UTC, status words in a log."""

from __future__ import annotations

from retailers.core.pgcopy import CopyTable, Numeric
from retailers.core.spec import DayBlock, Storage
from retailers.generator.columns import micros, padded_codes, words
from retailers.generator.frames import DayData

STATUSES = ("paid", "shipped", "delivered", "canceled", "refunded")  # by Event code
SKU = "'NW-' || lpad({col}::text, 6, '0')"

MASTER = f"""
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
"""


def day_tables(data: DayData, seed: int) -> list[CopyTable]:
    o, ln, e = data.orders, data.lines, data.events
    return [
        CopyTable("sales_order", {
            "order_id": o.order_no, "order_ts": micros(o.created_s),
            "customer_id": o.customer_no, "store_id": o.store_no}),
        CopyTable("sales_order_line", {
            "row_id": ln.line_key, "order_id": ln.order_no, "line_no": ln.line_no,
            "sku": padded_codes("NW-", ln.product_no, 6), "qty": ln.qty,
            "unit_price": Numeric(ln.unit_price), "discount": Numeric(ln.discount),
            "line_total": Numeric(ln.line_total)}),
        CopyTable("order_status_log", {
            "order_id": e.order_no, "status": words(STATUSES, e.event),
            "status_ts": micros(e.occurred_s), "logged_on": e.reported_day}),
    ]


STORAGE = Storage(
    master=MASTER,
    day_tables=day_tables,
    partitions={"sales_order": DayBlock(), "sales_order_line": DayBlock(per_order=16),
                "order_status_log": DayBlock()},
)
