"""`retailers.db.init_db`: safe to run twice, and rebuilds a database of an older layout."""

from __future__ import annotations

import datetime as dt

import pytest

from retailers.db import SCHEMA_VERSION, init_db
from retailers.generator import seed_dates
from tests.retailers.dbutil import drop_database, query


def test_init_db_is_safe_to_run_twice(retailer_apps):
    url = retailer_apps.database_urls["retailer2"]
    before = query(url, "select count(*) from purchase")[0][0]
    assert init_db("retailer2", url) == ["control.sql", "schema.sql"]
    assert query(url, "select count(*) from purchase")[0][0] == before > 0


@pytest.fixture
def scratch_url(settings):
    url = settings.retailer3.database_url + "_layout"
    yield url
    drop_database(url)


def test_an_older_layout_is_rebuilt(settings, scratch_url):
    init_db("retailer3", scratch_url, drop=True)
    seed_dates(["retailer3"], dt.date(2024, 1, 15), settings=settings,
               overrides={"orders_per_day": 5}, database_urls={"retailer3": scratch_url})
    # What a database built before the order tables were partitioned looks like.
    query(scratch_url, "update sim.generator set schema_version = null")
    init_db("retailer3", scratch_url)
    assert query(scratch_url, "select schema_version, fingerprint is null from sim.generator"
                 ) == [(SCHEMA_VERSION, True)]
    assert query(scratch_url, "select relkind::text from pg_class where relname = 'sales_item'"
                 ) == [("p",)]
    assert query(scratch_url, "select count(*) from sim.seeded_day") == [(0,)]
    report = seed_dates(["retailer3"], dt.date(2024, 1, 15), settings=settings,
                        overrides={"orders_per_day": 5},
                        database_urls={"retailer3": scratch_url})
    assert report.master == {"retailer3": "loaded"}
    assert query(scratch_url, "select count(*) from sales_header")[0][0] == report.orders
