"""retailer2's storage mapping: prefixed text ids, money in integer cents, timestamptz."""

from __future__ import annotations

from retailers.core.pgcopy import CopyTable
from retailers.core.spec import DayBlock, Storage
from retailers.generator.columns import micros, padded_codes, words
from retailers.generator.frames import DayData

STATUSES = ("paid", "shipped", "delivered", "canceled", "refunded")  # by Event code
# Id formats: (prefix, digits). Zero-padded, so the text ids sort like the numbers.
ORDER_ID = ("ORD-", 10)
PRODUCT_CODE = ("SKU-", 6)
SHOPPER_ID = ("CUS-", 7)
CHANNEL_CODE = ("CH-", 3)


def _sql(fmt: tuple[str, int], col: str) -> str:
    return f"'{fmt[0]}' || lpad({col}::text, {fmt[1]}, '0')"


MASTER = f"""
insert into channel (code, label, channel_type, city)
select {_sql(CHANNEL_CODE, "store_no")}, name, kind, city from stg_store;

insert into product (code, name, department, created_at)
select {_sql(PRODUCT_CODE, "product_no")}, name, category, created_at from stg_product;

insert into product_price (code, valid_from, price_cents)
select {_sql(PRODUCT_CODE, "product_no")}, valid_from, price_cents from stg_price;

insert into shopper (id, created_at)
select {_sql(SHOPPER_ID, "customer_no")}, signup_at from stg_customer;

insert into shopper_profile (shopper_id, valid_from, email, full_name, city, region)
select {_sql(SHOPPER_ID, "customer_no")}, valid_from, email,
       first_name || ' ' || last_name, city, region
from stg_customer_version;
"""

def day_tables(data: DayData, seed: int) -> list[CopyTable]:
    o, ln, e = data.orders, data.lines, data.events
    return [
        CopyTable("purchase", {
            "id": padded_codes(ORDER_ID[0], o.order_no, ORDER_ID[1]),
            "shopper_id": padded_codes(SHOPPER_ID[0], o.customer_no, SHOPPER_ID[1]),
            "channel_code": padded_codes(CHANNEL_CODE[0], o.store_no, CHANNEL_CODE[1]),
            "placed_at": micros(o.created_s), "total_cents": o.total_cents}),
        CopyTable("purchase_item", {
            "item_id": ln.line_key,
            "purchase_id": padded_codes(ORDER_ID[0], ln.order_no, ORDER_ID[1]),
            "line": ln.line_no,
            "product_code": padded_codes(PRODUCT_CODE[0], ln.product_no, PRODUCT_CODE[1]),
            "quantity": ln.qty, "unit_price_cents": ln.unit_price.astype("int32"),
            "discount_cents": ln.discount.astype("int32"),
            "total_cents": ln.line_total.astype("int32")}),
        CopyTable("purchase_status", {
            "purchase_id": padded_codes(ORDER_ID[0], e.order_no, ORDER_ID[1]),
            "status": words(STATUSES, e.event), "changed_at": micros(e.occurred_s),
            "recorded_day": e.reported_day}),
    ]


STORAGE = Storage(
    master=MASTER,
    day_tables=day_tables,
    partitions={"purchase": DayBlock(prefix=ORDER_ID[0], digits=ORDER_ID[1]),
                "purchase_item": DayBlock(per_order=16),
                "purchase_status": DayBlock(prefix=ORDER_ID[0], digits=ORDER_ID[1])},
)
