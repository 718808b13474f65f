"""services/transformation/scd2.py: versions of customers and products, inferred members."""

from __future__ import annotations

import datetime as dt

from services.transformation.replay import replay_date
from tests.factories import PartitionData, at, customer, line, order, product, store

D1, D2, D3 = dt.date(2024, 3, 1), dt.date(2024, 3, 2), dt.date(2024, 3, 3)
R = "retailer1"
LONG_AGO = at(dt.date(2024, 1, 1))


def day(d: dt.date, products: list[dict], sales: list[tuple[str, str, dt.datetime]],
        customers: list[dict] | None = None, stores: list[str] = ("S1",)) -> PartitionData:
    """A partition with a catalog and one single-line order per (order id, product, time)."""
    data = PartitionData(R, d, stores=[store(R, s) for s in stores], products=products,
                         customers=customers or [customer(R, "C1", LONG_AGO)])
    for oid, pid, when in sales:
        data.add_order(order(R, oid, "C1", "S1", when),
                       [line(R, oid, 1, pid, when, 1, "10.00")])
    return data


def versions(lake, pid: str = "P1") -> list[tuple]:
    return lake.rows("select list_price, valid_from, nullif(valid_to, 'infinity'), is_current "
                     "from warehouse.dim_product where product_id = :p order by valid_from",
                     p=pid)


def sale_prices(lake) -> dict[str, str]:
    """Each order's line -> the list price of the product version it points at."""
    return dict(lake.rows("select s.order_id, p.list_price::text from warehouse.fact_sales s "
                          "join warehouse.dim_product p on p.product_key = s.product_key"))


def price_change_days() -> tuple[PartitionData, PartitionData]:
    noon = at(D2, 12)
    d1 = day(D1, [product(R, "P1", LONG_AGO, "10.00")], [("A", "P1", at(D1, 15))])
    d2 = day(D2, [product(R, "P1", noon, "12.00")],
             [("B", "P1", at(D2, 10)), ("C", "P1", at(D2, 14))])
    return d1, d2


def test_a_price_change_gives_two_versions_and_sales_point_at_the_right_one(lake):
    d1, d2 = price_change_days()
    lake.land_and_load(d1)
    lake.land_and_load(d2)
    noon = at(D2, 12)
    # Closed exactly where the next opens; the last one is open-ended and current.
    assert versions(lake) == [(10, LONG_AGO, noon, False), (12, noon, None, True)]
    assert lake.scalar("select count(*) from warehouse.dim_product p1 "
                       "join warehouse.dim_product p2 on p1.product_id = p2.product_id "
                       "and p1.product_key < p2.product_key "
                       "and p1.valid_from < p2.valid_to and p2.valid_from < p1.valid_to") == 0
    assert sale_prices(lake) == {"A": "10.00", "B": "10.00", "C": "12.00"}


def test_an_unchanged_catalog_touches_nothing(lake):
    d1, d2 = price_change_days()
    lake.land_and_load(d1)
    lake.land_and_load(d2)
    stamps = lake.rows("select product_key, updated_at, run_id from warehouse.dim_product")
    replay = replay_date(D2, send=False, engine=lake.engine)
    counts = lake.load(replay, R, D2).counts
    assert counts["dim_product"] == {"inserted": 0, "updated": 0, "unchanged": 2, "inferred": 0}
    assert counts["dim_customer"]["updated"] == 0
    assert lake.rows("select product_key, updated_at, run_id from warehouse.dim_product") == stamps


def test_loading_days_out_of_order_gives_the_same_versions_and_pointers(lake):
    d1, d2 = price_change_days()
    lake.land_and_load(d2)
    # Before day 1 arrives, sale B (before the noon change) can only use the first known
    # version; loading day 1 repoints it.
    assert sale_prices(lake) == {"B": "12.00", "C": "12.00"}
    lake.land_and_load(d1)
    out_of_order = (versions(lake), sale_prices(lake))

    lake.engine.dispose()
    from tests.fixtures.core import truncate_pipeline_tables

    truncate_pipeline_tables(lake.engine)
    lake.land_and_load(d1)
    lake.land_and_load(d2)
    assert (versions(lake), sale_prices(lake)) == out_of_order
    assert out_of_order[1] == {"A": "10.00", "B": "10.00", "C": "12.00"}


def test_a_record_equal_to_the_version_before_it_merges_whatever_the_order(lake):
    # Day 3 says the price went back to 10 at t3; day 2 (loaded last) says 12 from t2.
    t2, t3 = at(D2, 12), at(D3, 12)
    d1 = day(D1, [product(R, "P1", LONG_AGO, "10.00")], [])
    d2 = day(D2, [product(R, "P1", t2, "12.00")], [])
    d3 = day(D3, [product(R, "P1", t3, "10.00")], [("Z", "P1", at(D3, 18))])
    for d in (d1, d3, d2):
        lake.land_and_load(d)
    assert [(r[0], r[1]) for r in versions(lake)] == [(10, LONG_AGO), (12, t2), (10, t3)]
    assert sale_prices(lake) == {"Z": "10.00"}
    assert lake.scalar("select count(*) from warehouse.dim_product where is_current") == 1


def test_customer_changes_are_versions_too(lake):
    moved = at(D2, 8)
    d1 = day(D1, [product(R, "P1", LONG_AGO)], [("A", "P1", at(D1, 9))],
             customers=[customer(R, "C1", LONG_AGO, city="Springfield")])
    d2 = day(D2, [product(R, "P1", LONG_AGO)], [("B", "P1", at(D2, 9))],
             customers=[customer(R, "C1", moved, city="Shelbyville")])
    lake.land_and_load(d1)
    lake.land_and_load(d2)
    assert lake.rows("select city, is_current from warehouse.dim_customer order by valid_from") \
        == [("Springfield", False), ("Shelbyville", True)]
    assert dict(lake.rows("select o.order_id, c.city from warehouse.fact_orders o "
                          "join warehouse.dim_customer c using (customer_key)")) \
        == {"A": "Springfield", "B": "Shelbyville"}


def test_an_inferred_member_is_completed_when_its_record_arrives(lake):
    # Day 1 sells a product, to a customer, in a store that none of the feeds know yet.
    d1 = PartitionData(R, D1)
    d1.add_order(order(R, "A", "C9", "S9", at(D1, 10)),
                 [line(R, "A", 1, "P9", at(D1, 10), 2, "5.00")])
    lake.land_and_load(d1)
    inferred = lake.rows(
        "select 'product', product_key::text, is_inferred, category from warehouse.dim_product "
        "union all select 'customer', customer_key::text, is_inferred, email "
        "from warehouse.dim_customer "
        "union all select 'store', store_key::text, is_inferred, store_name "
        "from warehouse.dim_store order by 1")
    assert [(r[0], r[2], r[3]) for r in inferred] == [
        ("customer", True, None), ("product", True, None), ("store", True, None)]
    assert lake.scalar("select category from marts.category_revenue "
                       "where retailer_id = :r", r=R) == "(unknown)"

    # Day 2 brings the records: the same rows are completed in place, no fact moves.
    d2 = PartitionData(R, D2, stores=[store(R, "S9", store_name="Harbour")],
                       customers=[customer(R, "C9", LONG_AGO, email="c9@example.com")],
                       products=[product(R, "P9", LONG_AGO, "5.00", category="toys")])
    result_run = lake.land_and_load(d2)
    completed = lake.rows(
        "select 'product', product_key::text, is_inferred, category from warehouse.dim_product "
        "union all select 'customer', customer_key::text, is_inferred, email "
        "from warehouse.dim_customer "
        "union all select 'store', store_key::text, is_inferred, store_name "
        "from warehouse.dim_store order by 1")
    assert [(r[0], r[1]) for r in completed] == [(r[0], r[1]) for r in inferred]
    assert [(r[2], r[3]) for r in completed] == [
        (False, "c9@example.com"), (False, "toys"), (False, "Harbour")]
    assert lake.scalar("select count(*) from warehouse.fact_sales") == 1
    # The day-1 marts show the completed category (day 1 was touched by day 2's load).
    touched = lake.scalar("select counts->'touched_dates' from ops.run_step "
                          "where run_id = :r and step = 'transform'", r=result_run)
    assert D1.isoformat() in touched
    assert lake.rows("select category, gross_revenue_usd::text from marts.category_revenue "
                     "where retailer_id = :r and order_date = :d", r=R, d=D1) \
        == [("toys", "10.00")]
    assert lake.scalar("select count(*) from warehouse.inferred_product_date") == 0
