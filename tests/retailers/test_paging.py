"""Paging visits every stored record of a day exactly once, in a stable order, in each
retailer's style. A line the retailer stores twice (the duplicate-lines fault) is served
twice: the feed is compared with the stored rows as multisets, so that is accounted for."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.retailers.dbutil import query
from tests.retailers.feeds import cursor_feed, offset_feed, page_feed

DATES = ["2024-01-15", "2024-01-16", "2024-01-17"]


def _same_in_one_page(small, big) -> None:
    """Small pages concatenated equal one big page: the order is stable and total."""
    assert small.records == big.records
    assert small.pages > 1


@pytest.mark.parametrize("day", DATES)
def test_retailer1_order_lines(retailer_apps, day):
    db = retailer_apps.database_urls["retailer1"]
    with retailer_apps.client("retailer1") as client:
        feed = offset_feed(client, "/api/v1/order-lines", day, 17)
        _same_in_one_page(feed, offset_feed(client, "/api/v1/order-lines", day, 5000))
    stored = query(db, """
        select l.order_id, l.line_no from sales_order_line l
        where l.order_id in (select order_id from sales_order
                             where order_ts >= %(d)s::date and order_ts < %(d)s::date + 1
                             union select order_id from order_status_log where logged_on = %(d)s)
        """, {"d": day})
    served = Counter((r["order_id"], r["line_no"]) for r in feed.records)
    assert served == Counter(stored)
    assert feed.announced_total == len(stored)
    assert any(n == 2 for n in served.values()), "the duplicate-lines fault is visible"
    keys = [(r["order_id"], r["line_no"]) for r in feed.records]
    assert keys == sorted(keys), "ordered by order and line"


@pytest.mark.parametrize(("path", "key", "sql"), [
    ("/api/v1/products", "sku", "select sku from item"),
    ("/api/v1/stores", "store_id", "select store_id from store"),
])
def test_retailer1_reference_data(retailer_apps, path, key, sql):
    with retailer_apps.client("retailer1") as client:
        feed = offset_feed(client, path, "2024-01-16" if "products" in path else None, 7)
    served = [r[key] for r in feed.records]
    assert len(served) == len(set(served)) == feed.announced_total
    assert set(served) == {r[0] for r in query(retailer_apps.database_urls["retailer1"], sql)}


@pytest.mark.parametrize("day", DATES)
def test_retailer1_customers(retailer_apps, day):
    with retailer_apps.client("retailer1") as client:
        feed = offset_feed(client, "/api/v1/customers", day, 9)
    expected = query(retailer_apps.database_urls["retailer1"], """
        select customer_id from customer where signup_ts::date = %(d)s
        union select customer_id from customer_rev where modified_ts::date = %(d)s
        union select customer_id from sales_order where order_ts::date = %(d)s
        """, {"d": day})
    served = [r["customer_id"] for r in feed.records]
    assert len(served) == len(set(served))
    assert set(served) == {r[0] for r in expected}


@pytest.mark.parametrize("day", DATES)
def test_retailer2_orders(retailer_apps, day):
    db = retailer_apps.database_urls["retailer2"]
    with retailer_apps.client("retailer2") as client:
        feed = cursor_feed(client, "/v2/orders", "orders", day, 7)
        _same_in_one_page(feed, cursor_feed(client, "/v2/orders", "orders", day, 5000))
    ids = [o["id"] for o in feed.records]
    assert len(ids) == len(set(ids)), "no order twice"
    assert ids == sorted(ids), "keyset order"
    stored_orders = query(db, """
        select id from purchase where (placed_at at time zone 'UTC')::date = %(d)s
        union select purchase_id from purchase_status where recorded_day = %(d)s
        """, {"d": day})
    assert set(ids) == {r[0] for r in stored_orders}
    stored_items = query(db, "select purchase_id, line from purchase_item "
                             "where purchase_id = any(%s)", (ids,))
    served_items = Counter((o["id"], i["line"]) for o in feed.records for i in o["items"])
    assert served_items == Counter(stored_items)


@pytest.mark.parametrize(("path", "key", "sql"), [
    ("/v2/catalog", "products", "select code from product"),
    ("/v2/customers", "customers",
     """select id from shopper where (created_at at time zone 'UTC')::date = '2024-01-16'
        union select shopper_id from shopper_profile
        where (valid_from at time zone 'UTC')::date = '2024-01-16'
        union select shopper_id from purchase
        where (placed_at at time zone 'UTC')::date = '2024-01-16'"""),
])
def test_retailer2_reference_data(retailer_apps, path, key, sql):
    with retailer_apps.client("retailer2") as client:
        feed = cursor_feed(client, path, key, "2024-01-16", 11)
    field = "code" if key == "products" else "id"
    served = [r[field] for r in feed.records]
    assert len(served) == len(set(served)) and served == sorted(served)
    assert set(served) == {r[0] for r in query(retailer_apps.database_urls["retailer2"], sql)}


def test_retailer2_channels(retailer_apps):
    with retailer_apps.client("retailer2") as client:
        channels = client.get("/v2/channels").json()["channels"]
    assert len(channels) == retailer_apps.settings.retailer.stores
    assert {c["type"] for c in channels} <= {"web", "app", "marketplace", "store"}


R3_RESOURCES = {
    "/api/orders": ("orderNumber", """
        select order_number::text from sales_header where created_at::date = %(d)s"""),
    "/api/order-items": (("orderNumber", "position"), """
        select h.order_number::text, i.position::text
        from sales_item i join sales_header h on h.id = i.header_id
        where h.created_at::date = %(d)s"""),
    "/api/order-events": ("eventId", """
        select event_id::text from sales_event where reported_on = %(d)s"""),
    "/api/customers": ("customerRef", """
        select client_ref from client where registered_at::date = %(d)s
        union select c.client_ref from client_version v join client c on c.id = v.client_id
              where v.changed_at::date = %(d)s
        union select c.client_ref from sales_header h join client c on c.id = h.client_id
              where h.created_at::date = %(d)s"""),
    "/api/products": ("articleNumber", "select article_number from article"),
}


@pytest.mark.parametrize("path", sorted(R3_RESOURCES))
@pytest.mark.parametrize("day", DATES)
def test_retailer3_resources(retailer_apps, path, day):
    key, sql = R3_RESOURCES[path]
    with retailer_apps.client("retailer3") as client:
        feed = page_feed(client, path, day, 9)
        _same_in_one_page(feed, page_feed(client, path, day, 5000))
    def record_key(r):
        return tuple(r[k] for k in key) if isinstance(key, tuple) else r[key]
    served = Counter(record_key(r) for r in feed.records)
    stored = query(retailer_apps.database_urls["retailer3"], sql, {"d": day})
    assert served == Counter(tuple(r) if isinstance(key, tuple) else r[0] for r in stored)
    assert feed.announced_total == sum(served.values())


def test_retailer3_past_the_last_page_is_empty(retailer_apps):
    with retailer_apps.client("retailer3") as client:
        body = client.get("/api/orders", params={"date": "2024-01-15", "page": 999}).json()
    assert body["items"] == [] and body["total_items"] > 0 and body["total_pages"] < 999


def test_a_day_without_data_is_empty_not_an_error(retailer_apps):
    with retailer_apps.client("retailer1") as client:
        body = client.get("/api/v1/order-lines", params={"date": "2023-03-01"}).json()
    assert body["data"] == [] and body["total"] == 0
    with retailer_apps.client("retailer2") as client:
        body = client.get("/v2/orders", params={"day": "2023-03-01"}).json()
    assert body == {"orders": [], "next_cursor": None}
