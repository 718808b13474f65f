"""The same seed gives the same data: re-seeding a date rewrites identical rows, and a
date's rows do not depend on which other dates were seeded, or in which order."""

from __future__ import annotations

import datetime as dt

import pytest

from retailers.db import init_db
from retailers.generator import seed_dates
from tests.retailers.dbutil import drop_database, query

# One checksum per table of what the generator wrote for a date (its order-number range,
# see retailers.generator.calendar) plus the master tables.
DAY_TABLES = {
    "retailer1": {
        "sales_order": "order_id", "sales_order_line": "order_id", "order_status_log": "order_id",
    },
    "retailer2": {
        "purchase": "substr(id, 5)::bigint", "purchase_item": "substr(purchase_id, 5)::bigint",
        "purchase_status": "substr(purchase_id, 5)::bigint",
    },
    "retailer3": {"sales_header": "id", "sales_item": "header_id", "sales_event": "header_id"},
}
MASTER_TABLES = {
    "retailer1": ["store", "item", "item_price", "customer", "customer_rev"],
    "retailer2": ["channel", "product", "product_price", "shopper", "shopper_profile"],
    "retailer3": ["outlet", "article", "article_price", "client", "client_version"],
}
ORDER_BLOCK = 1_000_000


def checksums(url: str, retailer_id: str, day: dt.date) -> dict[str, tuple[int, str]]:
    lo = (day - dt.date(2023, 1, 1)).days * ORDER_BLOCK
    sums = {}
    for table, order_no in DAY_TABLES[retailer_id].items():
        sums[table] = query(url, f"""
            select count(*), md5(coalesce(string_agg(t::text, '|' order by t::text), ''))
            from {table} t where {order_no} >= %s and {order_no} < %s""",
                            (lo, lo + ORDER_BLOCK))[0]
    for table in MASTER_TABLES[retailer_id]:
        sums[table] = query(url, f"""
            select count(*), md5(string_agg(t::text, '|' order by t::text)) from {table} t""")[0]
    return sums


@pytest.mark.parametrize("retailer_id", ["retailer1", "retailer2", "retailer3"])
def test_reseeding_a_date_rewrites_identical_rows(retailer_apps, retailer_id):
    url = retailer_apps.database_urls[retailer_id]
    day = dt.date(2024, 1, 16)
    before = checksums(url, retailer_id, day)
    assert all(count > 0 for count, _ in before.values())
    report = retailer_apps.seed(day, retailers=(retailer_id,))
    assert report.master == {retailer_id: "kept"}
    assert checksums(url, retailer_id, day) == before


@pytest.fixture(scope="module")
def other_order_databases(retailer_apps):
    """A second database per retailer, seeded with 2024-01-17 first and then 2024-01-16
    alone (never the 15th)."""
    urls = {rid: url + "_alt" for rid, url in retailer_apps.database_urls.items()}
    for rid, url in urls.items():
        init_db(rid, url, drop=True)
    for day in (dt.date(2024, 1, 17), dt.date(2024, 1, 16)):
        seed_dates(list(urls), day, settings=retailer_apps.settings,
                   overrides=retailer_apps.seed_overrides, database_urls=urls)
    yield urls
    for url in urls.values():
        drop_database(url)


@pytest.mark.parametrize("retailer_id", ["retailer1", "retailer2", "retailer3"])
def test_a_dates_rows_do_not_depend_on_other_dates(retailer_apps, other_order_databases,
                                                   retailer_id):
    day = dt.date(2024, 1, 16)
    assert checksums(other_order_databases[retailer_id], retailer_id, day) == \
        checksums(retailer_apps.database_urls[retailer_id], retailer_id, day)


def test_another_seed_gives_other_data(retailer_apps, other_order_databases):
    url = other_order_databases["retailer1"]
    report = seed_dates(["retailer1"], dt.date(2024, 1, 16), settings=retailer_apps.settings,
                        overrides={**retailer_apps.seed_overrides, "seed": 7},
                        database_urls={"retailer1": url})
    assert report.master == {"retailer1": "loaded"}, "new master data for a new seed"
    assert checksums(url, "retailer1", dt.date(2024, 1, 16)) != \
        checksums(retailer_apps.database_urls["retailer1"], "retailer1", dt.date(2024, 1, 16))
    # The other seed's master data replaced everything: 2024-01-17 is gone.
    assert query(url, "select day from sim.seeded_day") == [(dt.date(2024, 1, 16),)]
