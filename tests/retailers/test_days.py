"""UTC day semantics: an order comes back on the day its lifecycle changes, lifecycle is
reported as of the end of the asked day, and a late change appears on the day it was
reported, not the day it happened."""

from __future__ import annotations

import datetime as dt

from tests.retailers.dbutil import query
from tests.retailers.feeds import cursor_feed, offset_feed, page_feed


def _r1_lines(apps, day: str) -> list[dict]:
    with apps.client("retailer1") as client:
        return offset_feed(client, "/api/v1/order-lines", day, 5000).records


def test_retailer1_order_shows_again_when_shipped(retailer_apps):
    db = retailer_apps.database_urls["retailer1"]
    order_id, shipped_ts = query(db, """
        select s.order_id, s.status_ts from order_status_log s
        join sales_order o on o.order_id = s.order_id
        where s.status = 'shipped' and o.order_ts::date = '2024-01-15'
          and s.logged_on = '2024-01-16' and s.status_ts::date = '2024-01-16'
        order by s.order_id limit 1""")[0]
    on_15 = [r for r in _r1_lines(retailer_apps, "2024-01-15") if r["order_id"] == order_id]
    on_16 = [r for r in _r1_lines(retailer_apps, "2024-01-16") if r["order_id"] == order_id]
    assert on_15 and len(on_15) == len(on_16)
    assert all(r["shipped_ts"] is None and r["order_status"] != "shipped" for r in on_15)
    assert all(r["shipped_ts"] == shipped_ts.strftime("%Y-%m-%d %H:%M:%S") for r in on_16)
    assert all(r["order_ts"].startswith("2024-01-15") for r in on_16)


def test_retailer1_late_change_appears_on_the_day_reported(retailer_apps):
    db = retailer_apps.database_urls["retailer1"]
    order_id, status, logged_on = query(db, """
        select s.order_id, s.status, s.logged_on from order_status_log s
        join sales_order o on o.order_id = s.order_id
        where o.order_ts::date = '2024-01-15' and s.status_ts::date = '2024-01-15'
          and s.logged_on > '2024-01-15' and s.logged_on <= '2024-01-17'
        order by s.order_id limit 1""")[0]
    column = f"{status}_ts"
    on_15 = [r for r in _r1_lines(retailer_apps, "2024-01-15") if r["order_id"] == order_id]
    reported = [r for r in _r1_lines(retailer_apps, str(logged_on)) if r["order_id"] == order_id]
    assert on_15 and all(r[column] is None for r in on_15), "not known at the end of the 15th"
    assert reported and all(r[column].startswith("2024-01-15") for r in reported)


def test_retailer2_status_history_as_of_each_day(retailer_apps):
    db = retailer_apps.database_urls["retailer2"]
    purchase_id = query(db, """
        select s.purchase_id from purchase_status s join purchase p on p.id = s.purchase_id
        where s.status = 'shipped' and (p.placed_at at time zone 'UTC')::date = '2024-01-15'
          and s.recorded_day = '2024-01-16' order by 1 limit 1""")[0][0]
    with retailer_apps.client("retailer2") as client:
        by_day = {day: {o["id"]: o for o in
                        cursor_feed(client, "/v2/orders", "orders", day, 5000).records}
                  for day in ("2024-01-15", "2024-01-16")}
    before, after = by_day["2024-01-15"][purchase_id], by_day["2024-01-16"][purchase_id]
    assert "shipped" not in [h["status"] for h in before["status_history"]]
    assert "shipped" in [h["status"] for h in after["status_history"]]
    assert after["items"] == before["items"] and after["placed_at"] == before["placed_at"]
    # New York local time with its offset, the same instant as stored.
    placed = dt.datetime.fromisoformat(after["placed_at"])
    assert placed.utcoffset() == dt.timedelta(hours=-5)


def test_retailer3_events_on_the_day_reported(retailer_apps):
    db = retailer_apps.database_urls["retailer3"]
    late = query(db, """
        select e.event_id::text, h.order_number::text, e.event_type, e.reported_on
        from sales_event e join sales_header h on h.id = e.header_id
        where (e.occurred_at at time zone 'UTC')::date = '2024-01-15'
          and e.reported_on between '2024-01-16' and '2024-01-17'
        order by e.id limit 1""")
    assert late, "a late event occurred on the 15th"
    event_id, order_number, event_type, reported_on = late[0]
    with retailer_apps.client("retailer3") as client:
        events = {day: {e["eventId"]: e for e in
                        page_feed(client, "/api/order-events", day, 5000).records}
                  for day in ("2024-01-15", str(reported_on))}
        orders_15 = {o["orderNumber"]: o for o in
                     page_feed(client, "/api/orders", "2024-01-15", 5000).records}
    assert event_id not in events["2024-01-15"]
    event = events[str(reported_on)][event_id]
    assert event["orderNumber"] == order_number and event["type"] == event_type
    assert event["occurredAt"].startswith("2024-01-15T") and event["occurredAt"].endswith("Z")
    assert orders_15[order_number]["state"] != event_type, "state as of the end of the 15th"


def test_an_old_date_answers_the_same_after_later_dates_change(retailer_apps):
    before = _r1_lines(retailer_apps, "2024-01-15")
    retailer_apps.seed(dt.date(2024, 1, 17), retailers=("retailer1",))
    assert _r1_lines(retailer_apps, "2024-01-15") == before
