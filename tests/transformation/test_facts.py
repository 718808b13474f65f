"""services/transformation/facts.py: the accumulating snapshot, late events, corrections."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from tests.factories import PartitionData, at, customer, event, line, order, product, store

D1, D2, D3 = dt.date(2024, 5, 6), dt.date(2024, 5, 7), dt.date(2024, 5, 8)
R = "retailer3"
LONG_AGO = at(dt.date(2024, 1, 1))


def partition(d: dt.date, orders: list[tuple[str, dt.datetime]] = (),
              events: list[tuple[str, str, dt.datetime]] = (), qty: int = 1) -> PartitionData:
    data = PartitionData(R, d, stores=[store(R, "S1")],
                         customers=[customer(R, "C1", LONG_AGO)],
                         products=[product(R, "P1", LONG_AGO, "20.00")])
    for oid, created in orders:
        data.add_order(order(R, oid, "C1", "S1", created),
                       [line(R, oid, 1, "P1", created, qty, "20.00"),
                        line(R, oid, 2, "P1", created, 1, "20.00", discount="5.00")])
    data.order_events = [event(R, oid, kind, when) for oid, kind, when in events]
    return data


def milestones(lake, oid: str) -> tuple:
    return lake.rows("select status, paid_at, shipped_at, delivered_at, line_count "
                     "from warehouse.fact_orders where order_id = :o", o=oid)[0]


def test_a_shipment_two_days_later_updates_the_order_and_its_own_day(lake):
    created, paid, shipped = at(D1, 9), at(D1, 10), at(D3, 7, 30)
    lake.land_and_load(partition(D1, [("O1", created), ("O2", at(D1, 11))],
                                 [("O1", "paid", paid)]))
    assert milestones(lake, "O1") == ("paid", paid, None, None, 2)
    assert lake.scalar("select orders_shipped from marts.fulfillment_times "
                       "where order_date = :d and retailer_id = 'ALL'", d=D1) == 0

    run_id = lake.land_and_load(partition(D3, events=[("O1", "shipped", shipped)]))
    assert milestones(lake, "O1") == ("shipped", paid, shipped, None, 2)
    counts = lake.scalar("select counts from ops.run_step where run_id = :r "
                         "and step = 'transform'", r=run_id)
    assert counts["fact_orders"]["updated"] == 1
    assert counts["touched_dates"] == [D1.isoformat(), D3.isoformat()]
    hours = Decimal((shipped - created).total_seconds() / 3600).quantize(Decimal("0.01"))
    for retailer in (R, "ALL"):
        assert lake.rows("select orders_created, orders_shipped, created_to_shipped_median_hours, "
                         "created_to_shipped_p90_hours from marts.fulfillment_times "
                         "where order_date = :d and retailer_id = :r", d=D1, r=retailer) \
            == [(2, 1, hours, hours)]
    # Day 3 created no orders: its marts have no rows, and nothing moved to day 3.
    assert lake.scalar("select count(*) from marts.fulfillment_times where order_date = :d",
                       d=D3) == 0


def test_events_that_arrive_before_their_order_wait_for_it(lake):
    created, paid, shipped = at(D1, 9), at(D1, 9, 5), at(D2, 8)
    # Day 2 is loaded first: its shipment names an order nobody has loaded yet.
    lake.land_and_load(partition(D2, events=[("O1", "shipped", shipped)]))
    assert lake.scalar("select count(*) from warehouse.fact_orders") == 0
    assert lake.rows("select order_id, event_type, occurred_at from "
                     "warehouse.pending_order_event") == [("O1", "shipped", shipped)]

    lake.land_and_load(partition(D1, [("O1", created)], [("O1", "paid", paid)]))
    assert milestones(lake, "O1") == ("shipped", paid, shipped, None, 2)
    assert lake.scalar("select count(*) from warehouse.pending_order_event") == 0
    assert lake.scalar("select orders_shipped from marts.fulfillment_times "
                       "where order_date = :d and retailer_id = :r", d=D1, r=R) == 1


def test_milestones_only_move_earlier_and_status_only_forward(lake):
    created = at(D1, 9)
    lake.land_and_load(partition(D1, [("O1", created)],
                                 [("O1", "paid", at(D1, 10)), ("O1", "delivered", at(D1, 20))]))
    # A later day repeats the payment (later timestamp) and reports the order as only paid.
    again = partition(D2, events=[("O1", "paid", at(D2, 1))])
    again.orders = [order(R, "O1", "C1", "S1", created, "35.00", status="paid")]
    again.order_lines = []
    lake.land_and_load(again)
    assert milestones(lake, "O1")[:4] == ("delivered", at(D1, 10), None, at(D1, 20))


def test_a_corrected_line_updates_in_place(lake):
    lake.land_and_load(partition(D1, [("O1", at(D1, 9))]))
    first = lake.rows("select line_number, quantity, line_total, run_id::text "
                      "from warehouse.fact_sales order by line_number")
    run_id = lake.land_and_load(partition(D1, [("O1", at(D1, 9))], qty=3))
    rows = lake.rows("select line_number, quantity, line_total, run_id::text "
                     "from warehouse.fact_sales order by line_number")
    assert len(rows) == 2
    assert rows[0][:3] == (1, 3, Decimal("60.00")) and rows[0][3] == run_id
    assert rows[1] == first[1]                      # the unchanged line keeps its run
    counts = lake.scalar("select counts->'fact_sales' from ops.run_step where run_id = :r "
                         "and step = 'transform'", r=run_id)
    assert counts == {"inserted": 0, "updated": 1, "unchanged": 1}
    rate = lake.scalar("select usd_per_unit from warehouse.fx_rate "
                       "where currency = 'EUR' and rate_date = :d", d=D1)
    expected = sum((Decimal(eur) * rate).quantize(Decimal("0.01")) for eur in ("60.00", "15.00"))
    assert lake.scalar("select gross_revenue_usd from marts.daily_revenue where order_date = :d "
                       "and retailer_id = :r", d=D1, r=R) == expected


def test_lines_served_again_with_a_later_status_change_keep_their_day(lake):
    # retailer1-style: an order shipped on day 2 is served again with its lines on day 2.
    lake.land_and_load(partition(D1, [("O1", at(D1, 9))]))
    again = partition(D2, [("O1", at(D1, 9))], [("O1", "shipped", at(D2, 9))])
    run_id = lake.land_and_load(again)
    assert lake.scalar("select count(*) from warehouse.fact_sales") == 2
    assert lake.rows("select distinct order_date from warehouse.fact_sales") == [(D1,)]
    counts = lake.scalar("select counts from ops.run_step where run_id = :r "
                         "and step = 'transform'", r=run_id)
    assert counts["fact_sales"] == {"inserted": 0, "updated": 0, "unchanged": 2}
    assert D1.isoformat() in counts["touched_dates"]


def test_lines_that_arrive_before_their_order_are_counted_and_completed(lake):
    # Day 1: the order's record was rejected; its two lines are loaded without it.
    early = partition(D1, [("O1", at(D1, 9))])
    early.orders = []
    lake.land_and_load(early)
    assert lake.rows("select customer_key, store_key from warehouse.fact_sales") == [
        (None, None), (None, None)]
    assert lake.rows("select order_id, lines from warehouse.pending_order_line") == [("O1", 2)]
    assert lake.scalar("select order_lines from marts.daily_orders where order_date = :d "
                       "and retailer_id = :r", d=D1, r=R) == 2

    # Day 2 brings the order alone: it counts the waiting lines, which get its keys.
    late = partition(D2, [("O1", at(D1, 9))])
    late.order_lines = []
    lake.land_and_load(late)
    assert milestones(lake, "O1")[4] == 2
    assert lake.scalar("select count(*) from warehouse.pending_order_line") == 0
    assert lake.scalar("select count(*) from warehouse.fact_sales s join warehouse.fact_orders o "
                       "using (retailer_key, order_id) where s.customer_key = o.customer_key "
                       "and s.store_key = o.store_key") == 2
    assert lake.scalar("select orders_created from marts.daily_orders where order_date = :d "
                       "and retailer_id = :r", d=D1, r=R) == 1


def test_an_order_whose_created_at_is_corrected_moves_to_its_new_day(lake):
    lake.land_and_load(partition(D1, [("O1", at(D1, 23, 50)), ("O2", at(D1, 10))]))
    # A later partition corrects O1: it was placed just after midnight, on day 2.
    run_id = lake.land_and_load(partition(D2, [("O1", at(D2, 0, 10))]))
    assert lake.rows("select order_id, order_date from warehouse.fact_orders "
                     "order by order_id") == [("O1", D2), ("O2", D1)]
    assert lake.rows("select distinct order_date from warehouse.fact_sales "
                     "where order_id = 'O1'") == [(D2,)]
    assert lake.scalar("select count(*) from warehouse.fact_sales") == 4
    touched = lake.scalar("select counts->'touched_dates' from ops.run_step "
                          "where run_id = :r and step = 'transform'", r=run_id)
    assert touched == [D1.isoformat(), D2.isoformat()]
    assert dict(lake.rows("select order_date, orders_created from marts.daily_orders "
                          "where retailer_id = 'ALL'")) == {D1: 1, D2: 1}
