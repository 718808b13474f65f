"""retailer3's storage mapping: internal bigint keys with public UUIDs and numeric-string
references, euros as numeric, timestamptz, events in upper case.

UUIDs are drawn from the date's own random stream, so re-seeding a date gives the same
order numbers and event ids.
"""

from __future__ import annotations

from retailers.core.pgcopy import CopyTable, Numeric
from retailers.core.spec import DayBlock, Storage
from retailers.generator.calendar import day_index
from retailers.generator.columns import (
    constant,
    micros,
    number_codes,
    padded_codes,
    random_uuids,
    words,
)
from retailers.generator.frames import DayData

EVENT_TYPES = ("PAID", "SHIPPED", "DELIVERED", "CANCELLED", "REFUNDED")  # by Event code
ARTICLE_OFFSET = 40_000_000     # article numbers are 8-digit strings: 40000123
CLIENT_OFFSET = 10_000_000      # client refs: 10000042
OUTLET_DIGITS = 4               # outlet refs: 0007
ORDER_UUIDS, EVENT_UUIDS = 1, 2

MASTER = f"""
insert into outlet (outlet_ref, label, town, country, format)
select lpad(store_no::text, {OUTLET_DIGITS}, '0'), name, city, country, kind from stg_store;

insert into article (article_number, label, product_group, created_at)
select ({ARTICLE_OFFSET} + product_no)::text, name, category, created_at from stg_product;

insert into article_price (article_number, valid_from, price)
select ({ARTICLE_OFFSET} + product_no)::text, valid_from, price_cents / 100.0 from stg_price;

insert into client (id, client_ref, registered_at)
select customer_no, ({CLIENT_OFFSET} + customer_no)::text, signup_at from stg_customer;

-- Euromarché's CRM stores a missing email as an empty string, not null.
insert into client_version (client_id, changed_at, mail, name, town, country)
select customer_no, valid_from, coalesce(email, ''), first_name || ' ' || last_name, city,
       country
from stg_customer_version;
"""


def day_tables(data: DayData, seed: int) -> list[CopyTable]:
    o, ln, e = data.orders, data.lines, data.events
    idx = day_index(data.day)
    return [
        CopyTable("sales_header", {
            "id": o.order_no,
            "order_number": random_uuids(seed, 3, idx, ORDER_UUIDS, len(o.order_no)),
            "client_id": o.customer_no.astype("int64"),
            "outlet_ref": padded_codes("", o.store_no, OUTLET_DIGITS),
            "created_at": micros(o.created_s), "currency": constant("EUR", len(o.order_no)),
            "grand_total": Numeric(o.total_cents)}),
        CopyTable("sales_item", {
            "id": ln.line_key, "header_id": ln.order_no, "position": ln.line_no.astype("int32"),
            "article_number": number_codes(ln.product_no, ARTICLE_OFFSET),
            "quantity": ln.qty, "unit_price": Numeric(ln.unit_price),
            "discount": Numeric(ln.discount), "line_total": Numeric(ln.line_total)}),
        CopyTable("sales_event", {
            # one event per order and type: a stable key that sorts by order, then type
            "id": e.order_no * 8 + e.event,
            "event_id": random_uuids(seed, 3, idx, EVENT_UUIDS, len(e.order_no)),
            "header_id": e.order_no, "event_type": words(EVENT_TYPES, e.event),
            "occurred_at": micros(e.occurred_s), "reported_on": e.reported_day}),
    ]


STORAGE = Storage(
    master=MASTER,
    day_tables=day_tables,
    partitions={"sales_header": DayBlock(), "sales_item": DayBlock(per_order=16),
                "sales_event": DayBlock(per_order=8)},
)
