"""The neutral staging tables every retailer's master-data SQL reads from.

Master data is written once per seed: the generator COPYs it into these session-local
tables (dropped at commit) and each retailer shapes them into its own tables with one
`insert ... select` per table (`retailers/retailerN/storage.py`). Day data, a million rows
a day, skips staging: it is COPYed straight into the retailer's tables.
"""

from __future__ import annotations

from retailers.core.pgcopy import CopyTable, copy_in, copy_in_text
from retailers.generator.columns import micros
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
        "prices": copy_in(cur, CopyTable("stg_price", {"product_no": h.product_no,
                                                       "valid_from": micros(h.valid_from_s),
                                                       "price_cents": h.price})),
        "customers": copy_in(cur, CopyTable("stg_customer",
                                            {"customer_no": c.customer_no,
                                             "signup_at": micros(c.signup_s)})),
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
