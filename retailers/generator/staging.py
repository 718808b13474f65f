"""The neutral staging tables every retailer's load SQL reads from.

The generator COPYs its arrays into these session-local tables (dropped at commit); each
retailer then shapes them into its own tables with one `insert ... select` per table
(`retailers/retailerN/load.py`). So the per-retailer code is only the mapping.
"""

from __future__ import annotations

import numpy as np

from retailers.core.pgcopy import copy_in, copy_in_text
from retailers.generator.frames import DayData
from retailers.generator.master import MasterData

# Seconds since 2000-01-01 to Unix seconds, for to_timestamp in generated columns.
_UNIX_OFFSET = 946_684_800
_TS = f"generated always as (to_timestamp({{col}}_s + {_UNIX_OFFSET})) stored"

MASTER_STAGING = f"""
create temp table stg_store (store_no integer, name text, kind text, city text, region text,
    country text) on commit drop;
create temp table stg_product (product_no integer, name text, category text, created_s bigint,
    created_at timestamptz {_TS.format(col="created")}) on commit drop;
create temp table stg_price (product_no integer, valid_from timestamptz, price_cents bigint)
    on commit drop;
create temp table stg_customer (customer_no integer, signup_at timestamptz) on commit drop;
create temp table stg_customer_version (customer_no integer, valid_from_s bigint,
    first_name text, last_name text, email text, city text, region text, country text,
    valid_from timestamptz {_TS.format(col="valid_from")}) on commit drop;
"""

DAY_STAGING = """
create temp table stg_order (order_no bigint, created_at timestamptz, customer_no integer,
    store_no integer, total_cents bigint) on commit drop;
create temp table stg_line (line_key bigint, order_no bigint, line_no smallint,
    product_no integer, qty integer, unit_price_cents bigint, discount_cents bigint,
    line_total_cents bigint) on commit drop;
create temp table stg_event (order_no bigint, event smallint, occurred_at timestamptz,
    reported_on date) on commit drop;
"""


def _micros(seconds: np.ndarray) -> np.ndarray:
    """Binary timestamptz: microseconds since 2000-01-01 UTC."""
    return seconds.astype(np.int64) * 1_000_000


def stage_master(cur, master: MasterData) -> dict[str, int]:
    """Create and fill the master staging tables. Returns rows per table."""
    cur.execute(MASTER_STAGING)
    places = master.profile.places
    s, p, h, c = master.stores, master.products, master.prices, master.customers
    v = master.customer_versions()
    counts = {
        "stores": copy_in_text(cur, "stg_store", ("store_no", "name", "kind", "city", "region",
                                                   "country"),
                               [(no, name, kind, places[pi].city, places[pi].region,
                                 places[pi].country)
                                for no, name, kind, pi in zip(s.store_no.tolist(), s.name, s.kind,
                                                              s.place_idx.tolist(), strict=True)]),
        "products": copy_in_text(cur, "stg_product", ("product_no", "name", "category",
                                                       "created_s"),
                                 list(zip(p.product_no.tolist(), p.name, p.category,
                                          p.created_s.tolist(), strict=True))),
        "prices": copy_in(cur, "stg_price", {"product_no": h.product_no,
                                             "valid_from": _micros(h.valid_from_s),
                                             "price_cents": h.price}),
        "customers": copy_in(cur, "stg_customer", {"customer_no": c.customer_no,
                                                   "signup_at": _micros(c.signup_s)}),
        "customer_versions": copy_in_text(
            cur, "stg_customer_version",
            ("customer_no", "valid_from_s", "first_name", "last_name", "email", "city",
             "region", "country"),
            [(no, at, first, last, email, places[pi].city, places[pi].region, places[pi].country)
             for no, at, first, last, email, pi in
             zip(v.customer_no.tolist(), v.valid_from_s.tolist(), v.first_name, v.last_name,
                 v.email, v.place_idx.tolist(), strict=True)]),
    }
    cur.execute("analyze stg_store; analyze stg_product; analyze stg_price; "
                "analyze stg_customer; analyze stg_customer_version")
    return counts


def stage_day(cur, data: DayData) -> None:
    """Create and fill the day staging tables with one date's orders, lines and events."""
    cur.execute(DAY_STAGING)
    o, ln, e = data.orders, data.lines, data.events
    copy_in(cur, "stg_order", {"order_no": o.order_no, "created_at": _micros(o.created_s),
                               "customer_no": o.customer_no, "store_no": o.store_no,
                               "total_cents": o.total_cents})
    copy_in(cur, "stg_line", {"line_key": ln.line_key, "order_no": ln.order_no,
                              "line_no": ln.line_no, "product_no": ln.product_no, "qty": ln.qty,
                              "unit_price_cents": ln.unit_price, "discount_cents": ln.discount,
                              "line_total_cents": ln.line_total})
    copy_in(cur, "stg_event", {"order_no": e.order_no, "event": e.event,
                               "occurred_at": _micros(e.occurred_s),
                               "reported_on": e.reported_day})
