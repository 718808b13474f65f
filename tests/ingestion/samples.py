"""One day's business, as each retailer's API serves it (shapes from docs/retailers.md).

The same facts in three shapes: a store, a product, a customer and order 1001, placed on
2024-01-15 at 13:45:12 UTC with two lines (2 x 12.99, and 1 x 5.50 less 0.50), paid at
13:50:00 and shipped on 2024-01-16 at 09:00:00 UTC, reported as of the end of 2024-01-16.
retailer3 sells in EUR; everything else is identical once normalized.
"""

from __future__ import annotations

import copy
import datetime as dt

from services.ingestion.connectors.base import Page

DAY = dt.date(2024, 1, 16)
CREATED_DAY = dt.date(2024, 1, 15)


# -- retailer1: flat lines, dollars as numbers, naive UTC timestamps ------------------------
R1_STORE = {"store_id": 7, "store_name": "Northwind Online", "city": "Boston", "state": "MA",
            "kind": "online"}
R1_PRODUCT = {"sku": "NW-0042", "title": "Trail Jacket", "category": "Outerwear",
              "price": 12.99, "price_changed_ts": "2024-01-10 00:00:00"}
R1_CUSTOMER = {"customer_id": 501, "email": "ada@example.com", "first_name": "Ada",
               "last_name": "Lovelace", "city": "Boston", "state": "MA",
               "signup_ts": "2023-05-01 10:00:00", "modified_ts": "2024-01-15 13:00:00"}
_R1_ORDER = {"order_id": 1001, "order_ts": "2024-01-15 13:45:12", "customer_id": 501,
             "store_id": 7, "order_status": "shipped", "paid_ts": "2024-01-15 13:50:00",
             "shipped_ts": "2024-01-16 09:00:00", "delivered_ts": None, "canceled_ts": None,
             "refunded_ts": None}
R1_LINES = [
    {**_R1_ORDER, "line_no": 1, "sku": "NW-0042", "qty": 2, "unit_price": 12.99,
     "discount": 0, "line_total": 25.98},
    {**_R1_ORDER, "line_no": 2, "sku": "NW-0077", "qty": 1, "unit_price": 5.5,
     "discount": 0.5, "line_total": 5.0},
]

# -- retailer2: nested orders, integer cents, New York local time with offset ---------------
R2_CHANNEL = {"code": "7", "label": "Northwind Online", "type": "web", "city": "Boston"}
R2_PRODUCT = {"code": "NW-0042", "name": "Trail Jacket", "department": "Outerwear",
              "price_cents": 1299, "updated_at": "2024-01-09T19:00:00-05:00"}
R2_CUSTOMER = {"id": "501", "email": "ada@example.com", "full_name": "Ada Lovelace",
               "city": "Boston", "region": "MA", "created_at": "2023-05-01T06:00:00-04:00",
               "updated_at": "2024-01-15T08:00:00-05:00"}
R2_ORDER = {
    "id": "1001", "customer": {"id": "501", "email": "ada@example.com"}, "channel": "7",
    "placed_at": "2024-01-15T08:45:12-05:00", "status": "shipped", "total_cents": 3098,
    "items": [
        {"line": 1, "product_code": "NW-0042", "quantity": 2, "unit_price_cents": 1299,
         "discount_cents": 0, "total_cents": 2598},
        {"line": 2, "product_code": "NW-0077", "quantity": 1, "unit_price_cents": 550,
         "discount_cents": 50, "total_cents": 500},
    ],
    "status_history": [{"status": "paid", "at": "2024-01-15T08:50:00-05:00"},
                       {"status": "shipped", "at": "2024-01-16T04:00:00-05:00"}],
}

# -- retailer3: separate resources, EUR decimal strings, RFC 3339 UTC with millis -----------
R3_STORE = {"storeRef": "7", "label": "Northwind Online", "town": "Boston", "country": "US",
            "format": "online"}
R3_PRODUCT = {"articleNumber": "NW-0042", "label": "Trail Jacket", "productGroup": "Outerwear",
              "price": "12.99", "validFrom": "2024-01-10T00:00:00.000Z"}
R3_CUSTOMER = {"customerRef": "501", "mail": "ada@example.com", "name": "Ada Lovelace",
               "town": "Boston", "country": "US", "registeredAt": "2023-05-01T10:00:00.000Z",
               "changedAt": "2024-01-15T13:00:00.000Z"}
R3_ORDER = {"orderNumber": "1001", "customerRef": "501", "storeRef": "7",
            "createdAt": "2024-01-15T13:45:12.000Z", "state": "SHIPPED", "currency": "EUR",
            "grandTotal": "30.98"}
R3_ITEMS = [
    {"orderNumber": "1001", "position": "1", "articleNumber": "NW-0042", "quantity": "2",
     "unitPrice": "12.99", "discount": "0.00", "lineTotal": "25.98"},
    {"orderNumber": "1001", "position": "2", "articleNumber": "NW-0077", "quantity": "1",
     "unitPrice": "5.50", "discount": "0.50", "lineTotal": "5.00"},
]
R3_EVENTS = [
    {"eventId": "e-1", "orderNumber": "1001", "type": "PAID",
     "occurredAt": "2024-01-15T13:50:00.000Z"},
    {"eventId": "e-2", "orderNumber": "1001", "type": "SHIPPED",
     "occurredAt": "2024-01-16T09:00:00.000Z"},
]


def _pages(retailer_pages: dict[str, list]) -> list[Page]:
    return [Page(resource, 1, copy.deepcopy(records), 0)
            for resource, records in retailer_pages.items()]


def retailer1_pages() -> list[Page]:
    return _pages({"stores": [R1_STORE], "products": [R1_PRODUCT],
                   "customers": [R1_CUSTOMER], "order-lines": R1_LINES})


def retailer2_pages() -> list[Page]:
    return _pages({"channels": [R2_CHANNEL], "catalog": [R2_PRODUCT],
                   "customers": [R2_CUSTOMER], "orders": [R2_ORDER]})


def retailer3_pages() -> list[Page]:
    return _pages({"stores": [R3_STORE], "products": [R3_PRODUCT],
                   "customers": [R3_CUSTOMER], "orders": [R3_ORDER], "order-items": R3_ITEMS,
                   "order-events": R3_EVENTS})


PAGES = {"retailer1": retailer1_pages, "retailer2": retailer2_pages,
         "retailer3": retailer3_pages}
