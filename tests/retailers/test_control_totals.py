"""Each retailer's control totals equal what its pages add up to: the lines of orders
created on the date, a line served twice (duplicate fault) counted once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.retailers.feeds import cursor_feed, offset_feed, page_feed

DATES = ["2024-01-15", "2024-01-16", "2024-01-17"]


@pytest.mark.parametrize("day", DATES)
def test_retailer1_control_totals(retailer_apps, day):
    with retailer_apps.client("retailer1") as client:
        feed = offset_feed(client, "/api/v1/order-lines", day, 50)
        totals = client.get("/api/v1/control-totals", params={"date": day}).json()
    lines = {(r["order_id"], r["line_no"]): r for r in feed.records
             if r["order_ts"].startswith(day)}
    gross = sum(Decimal(repr(r["line_total"])) for r in lines.values())
    assert totals == {"date": day, "line_count": len(lines), "gross_amount": float(gross),
                      "currency": "USD"}
    assert len(lines) < len(feed.records), "the feed also re-sends orders changed that day"


def _utc_day(local: str) -> str:
    return dt.datetime.fromisoformat(local).astimezone(dt.UTC).date().isoformat()


@pytest.mark.parametrize("day", DATES)
def test_retailer2_control_totals(retailer_apps, day):
    with retailer_apps.client("retailer2") as client:
        feed = cursor_feed(client, "/v2/orders", "orders", day, 50)
        totals = client.get("/v2/reports/daily", params={"day": day}).json()
    items = {(o["id"], i["line"]): i["total_cents"] for o in feed.records
             if _utc_day(o["placed_at"]) == day for i in o["items"]}
    assert totals == {"day": day, "items": len(items), "revenue_cents": sum(items.values())}


@pytest.mark.parametrize("day", DATES)
def test_retailer3_control_totals(retailer_apps, day):
    with retailer_apps.client("retailer3") as client:
        feed = page_feed(client, "/api/order-items", day, 50)
        totals = client.get("/api/reports/control-totals", params={"date": day}).json()
    items = {(r["orderNumber"], r["position"]): Decimal(r["lineTotal"]) for r in feed.records}
    assert len(items) < len(feed.records), "duplicated items are served twice"
    assert totals == {"date": day, "lineCount": str(len(items)),
                      "totalAmount": str(sum(items.values())), "currency": "EUR"}


def test_retailer2_order_total_is_checkout_total(retailer_apps):
    """`total_cents` is the order's total at checkout: the sum of its items as first
    written, so a duplicated item makes the items add up to more than the total."""
    with retailer_apps.client("retailer2") as client:
        feed = cursor_feed(client, "/v2/orders", "orders", "2024-01-15", 500)
    mismatched = 0
    for order in feed.records:
        distinct = {i["line"]: i["total_cents"] for i in order["items"]}
        assert order["total_cents"] == sum(distinct.values())
        mismatched += sum(i["total_cents"] for i in order["items"]) != order["total_cents"]
    assert mismatched > 0
