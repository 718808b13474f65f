"""A day's queries read the order partitions of a few days only, however many days are
seeded: their cost must not grow with the years of history a backfill seeds."""

from __future__ import annotations

import datetime as dt
import re

import psycopg2
import pytest
from psycopg2 import sql

from retailers.core.params import Day
from retailers.generator.calendar import MAX_CHANGE_LAG_DAYS, ORDER_BLOCK, day_index
from retailers.generator.seed import partition_name
from retailers.registry import get_spec
from retailers.retailer1 import queries as q1
from retailers.retailer2 import queries as q2
from retailers.retailer3 import queries as q3
from tests.fixtures.retailers import SEEDED_START

# Far from the seeded days on both sides: outside any day's window.
FAR_DAYS = (SEEDED_START - dt.timedelta(days=200), SEEDED_START + dt.timedelta(days=200))
DAY_QUERIES = {
    "retailer1": (q1, ["LINE_KEYS", "LINES_PAGE", "CUSTOMER_KEYS", "CONTROL_TOTALS"]),
    "retailer2": (q2, ["ORDERS_PAGE", "CUSTOMERS_PAGE", "DAILY_REPORT"]),
    "retailer3": (q3, ["ORDER_KEYS", "ORDERS_PAGE", "ITEM_KEYS", "ITEMS_PAGE", "EVENT_KEYS",
                       "EVENTS_PAGE", "CUSTOMER_KEYS", "CONTROL_TOTALS"]),
}


@pytest.fixture
def far_partitions(retailer_apps):
    """An empty partition of each order table on days far from the seeded ones."""
    made: list[tuple[str, str]] = []
    for rid in DAY_QUERIES:
        conn = psycopg2.connect(retailer_apps.database_urls[rid])
        with conn, conn.cursor() as cur:
            for table, block in get_spec(rid).storage.partitions.items():
                for day in FAR_DAYS:
                    lo = day_index(day) * ORDER_BLOCK
                    name = partition_name(table, day)
                    cur.execute(sql.SQL("create table if not exists {} partition of {} for "
                                        "values from (%s) to (%s)").format(
                        sql.Identifier(name), sql.Identifier(table)),
                        block.bounds(lo, lo + ORDER_BLOCK))
                    made.append((rid, name))
        conn.close()
    yield
    for rid in DAY_QUERIES:
        conn = psycopg2.connect(retailer_apps.database_urls[rid])
        with conn, conn.cursor() as cur:
            for owner, name in made:
                if owner == rid:
                    cur.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(name)))
        conn.close()


@pytest.mark.parametrize("retailer_id", sorted(DAY_QUERIES))
def test_a_days_queries_plan_only_the_partitions_of_its_window(retailer_apps, far_partitions,
                                                               retailer_id):
    module, names = DAY_QUERIES[retailer_id]
    start = dt.datetime.combine(SEEDED_START, dt.time(), tzinfo=dt.UTC)
    day = Day(SEEDED_START, start, start + dt.timedelta(days=1))
    params = {**day.sql(), "ids": [1, 2], "after": "", "n": 10}
    first = SEEDED_START - dt.timedelta(days=MAX_CHANGE_LAG_DAYS + 1)
    last = SEEDED_START + dt.timedelta(days=1)
    conn = psycopg2.connect(retailer_apps.database_urls[retailer_id])
    try:
        with conn.cursor() as cur:
            for name in names:
                cur.execute("explain " + getattr(module, name), params)
                plan = "\n".join(r[0] for r in cur.fetchall())
                days = {dt.datetime.strptime(m, "%Y%m%d").date()
                        for m in re.findall(r"_(\d{8})\b", plan)}
                assert days, f"{name}: no partition in the plan"
                outside = sorted(d for d in days if not first <= d <= last)
                assert not outside, f"{retailer_id} {name} reads partitions of {outside}"
    finally:
        conn.close()
