"""retailer3 "Euromarché": OAuth2 client credentials, page numbers, separate resources.

Orders, their items and their lifecycle events are three resources. Items do not say when
their order was created, so the day's orders are remembered in a compact index (16 bytes an
order) that the items look their `created_at` up in. Money is decimal strings in EUR,
timestamps RFC 3339 UTC with milliseconds.
"""

from __future__ import annotations

import datetime as dt
import time
from array import array
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from services.ingestion.connectors.base import ControlTotals, Page, RetailerClient
from services.ingestion.normalize import Handler, Normalizer, Record, readable_money
from services.ingestion.settings import IngestionSettings, Retailer3Settings
from shared import canonical as c
from shared.canonical import InvalidRecord, RejectReason

RETAILER_ID = "retailer3"
CURRENCY = "EUR"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
NAIVE_EPOCH = EPOCH.replace(tzinfo=None)
MICROSECOND = dt.timedelta(microseconds=1)

STATUSES = {"new": "created", "created": "created", "open": "created", "placed": "created",
            "pending": "created", "paid": "paid", "shipped": "shipped",
            "delivered": "delivered", "cancelled": "canceled", "canceled": "canceled",
            "refunded": "refunded"}
EVENT_TYPES = {"paid": "paid", "shipped": "shipped", "delivered": "delivered",
               "cancelled": "canceled", "canceled": "canceled", "refunded": "refunded"}
CHANNELS = {"store": "store", "hypermarket": "store", "supermarket": "store",
            "express": "store", "city": "store", "proximity": "store", "outlet": "store",
            "online": "web", "web": "web", "webshop": "web", "ecommerce": "web",
            "app": "app", "mobile": "app", "marketplace": "marketplace"}

STORE_FIELDS = frozenset({"storeRef", "label", "town", "country", "format"})
PRODUCT_FIELDS = frozenset({"articleNumber", "label", "productGroup", "price", "validFrom"})
CUSTOMER_FIELDS = frozenset({"customerRef", "mail", "name", "town", "country", "registeredAt",
                             "changedAt"})
ORDER_FIELDS = frozenset({"orderNumber", "customerRef", "storeRef", "createdAt", "state",
                          "currency", "grandTotal"})
ITEM_FIELDS = frozenset({"orderNumber", "position", "articleNumber", "quantity", "unitPrice",
                         "discount", "lineTotal"})
EVENT_FIELDS = frozenset({"eventId", "orderNumber", "type", "occurredAt"})


class Retailer3Client(RetailerClient):
    """retailer3's API: a bearer token from `/oauth/token`, `page`/`per_page` pages."""

    retailer_id = RETAILER_ID
    resources = ("stores", "products", "customers", "orders", "order-items", "order-events")

    def __init__(self, config: Retailer3Settings, settings: IngestionSettings,
                 **kwargs: Any) -> None:
        super().__init__(config.url, settings, **kwargs)
        self._client_id = config.client_id
        self._client_secret = config.client_secret.get_secret_value()
        self._token: str | None = None
        self._refresh_at = 0.0  # monotonic time after which the token is renewed
        self.token_requests = 0

    def authenticate(self, *, force: bool = False) -> None:
        """Get a token by client credentials, unless the current one is still good."""
        if not force and self._token is not None and time.monotonic() < self._refresh_at:
            return
        resp = self.request("POST", "/oauth/token", authenticated=False,
                            data={"grant_type": "client_credentials",
                                  "client_id": self._client_id,
                                  "client_secret": self._client_secret},
                            resource="oauth/token")
        body = resp.json()
        self.token_requests += 1
        self._token = c.key(body.get("access_token"), "access_token")
        lifetime = float(body.get("expires_in") or 60)
        # Renew ahead of expiry so no request leaves with a token about to lapse; for very
        # short-lived tokens the margin shrinks to a quarter of their life.
        margin = min(self.settings.token_refresh_margin_seconds, lifetime / 4)
        self._refresh_at = time.monotonic() + lifetime - margin

    def auth_headers(self) -> Mapping[str, str]:
        self.authenticate()
        return {"Authorization": f"Bearer {self._token}"}

    def iter_pages(self, resource: str, day: dt.date) -> Iterator[Page]:
        params = {} if resource == "stores" else {"date": day.isoformat()}
        return self.numbered_pages(resource, f"/api/{resource}", params, items_key="items")

    def control_totals(self, day: dt.date) -> ControlTotals:
        body, _ = self.get_json("/api/reports/control-totals", {"date": day.isoformat()},
                                resource="reports/control-totals")
        return ControlTotals(line_count=c.integer(body["lineCount"], "lineCount"),
                             amount=c.money(body["totalAmount"], "totalAmount"),
                             currency=c.currency(body.get("currency") or CURRENCY), raw=body)

    def normalizer(self, day: dt.date) -> Retailer3Normalizer:
        return Retailer3Normalizer(day)


class OrderCreatedIndex:
    """The day's orders' creation times, keyed by order number, in 16 bytes an order.

    A dict of a million-line day's orders would cost ~60 MB; here each order is the 64-bit
    hash of its number and its creation time in epoch microseconds, looked up by binary
    search. Two order numbers sharing a 64-bit hash within one day is vanishingly unlikely
    (about n^2 / 2^65), and would only give a line its sibling's creation time.
    """

    def __init__(self) -> None:
        self._hashes = array("q")
        self._micros = array("q")
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self._hashes)

    def add(self, order_number: str, created_at: str) -> None:
        ts = dt.datetime.fromisoformat(created_at)
        self._hashes.append(hash(order_number))
        self._micros.append((ts - EPOCH) // MICROSECOND)
        self._sorted = None

    def lookup(self, order_numbers: list[str]) -> list[str | None]:
        """The canonical `created_at` of each order number (None when not a day's order)."""
        if not order_numbers:
            return []
        if self._sorted is None:
            hashes = np.frombuffer(self._hashes, dtype=np.int64)
            order = np.argsort(hashes, kind="stable")
            self._sorted = (hashes[order], np.frombuffer(self._micros, dtype=np.int64)[order])
        hashes, micros = self._sorted
        if len(hashes) == 0:
            return [None] * len(order_numbers)
        wanted = np.fromiter((hash(n) for n in order_numbers), dtype=np.int64,
                             count=len(order_numbers))
        at = np.minimum(np.searchsorted(hashes, wanted), len(hashes) - 1)
        found = hashes[at] == wanted
        out: list[str | None] = []
        last_micros, last_text = None, None
        for ok, value in zip(found.tolist(), micros[at].tolist(), strict=True):
            if not ok:
                out.append(None)
                continue
            if value != last_micros:  # an order's items come together: convert once
                last_micros = value
                last_text = _micros_to_utc(value)
            out.append(last_text)
        return out


def _micros_to_utc(micros: int) -> str:
    """Epoch microseconds as the canonical UTC string (what `c.utc_iso` gives, without the
    time zone arithmetic an aware datetime costs)."""
    text = (NAIVE_EPOCH + dt.timedelta(microseconds=micros)).isoformat()
    if micros % 1_000_000:
        text = text.rstrip("0")  # "...12.120000" -> "...12.12"
    return text + "Z"


class Retailer3Normalizer(Normalizer):
    retailer_id = RETAILER_ID
    currency = CURRENCY

    def __init__(self, day: dt.date) -> None:
        super().__init__(day)
        self.orders_created = OrderCreatedIndex()

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "stores": lambda rs: self.map_each("stores", "stores", rs, STORE_FIELDS, _store,
                                               lambda r: r.get("storeRef")),
            "products": lambda rs: self.map_each("products", "products", rs, PRODUCT_FIELDS,
                                                 _product, lambda r: r.get("articleNumber")),
            "customers": lambda rs: self.map_each("customers", "customers", rs,
                                                  CUSTOMER_FIELDS, _customer,
                                                  lambda r: r.get("customerRef")),
            "orders": lambda rs: self.map_each("orders", "orders", rs, ORDER_FIELDS,
                                               self._order, lambda r: r.get("orderNumber")),
            "order-items": self._items,
            "order-events": lambda rs: self.map_each(
                "order_events", "order-events", rs, EVENT_FIELDS, _event,
                lambda r: f"{r.get('orderNumber')}:{r.get('type')}"),
        }

    def _order(self, r: Record) -> Record:
        record: Record = {
            "retailer_id": RETAILER_ID, "order_id": c.key(r.get("orderNumber"), "orderNumber"),
            "customer_id": c.key(r.get("customerRef"), "customerRef"),
            "store_id": c.key(r.get("storeRef"), "storeRef"),
            "created_at": c.timestamp(r.get("createdAt"), "createdAt"),
            "status": c.code(r.get("state"), "state", STATUSES),
            "currency": c.currency(r.get("currency") or CURRENCY),
            "order_total": c.money(r["grandTotal"], "grandTotal")
            if r.get("grandTotal") not in (None, "") else None,
        }
        self.orders_created.add(record["order_id"], record["created_at"])
        return record

    def _items(self, records: list[Any]) -> None:
        numbers = [_order_number(r) for r in records]
        created = self.orders_created.lookup([n for n in numbers if n is not None])
        created_iter = iter(created)
        for item, number in zip(records, numbers, strict=True):
            created_at = next(created_iter) if number is not None else None
            self._item(item, number, created_at)

    def _item(self, item: Any, order_id: str | None, created_at: str | None) -> None:
        if not isinstance(item, dict):
            self.reject("order_lines", InvalidRecord(RejectReason.MALFORMED_RECORD,
                                                     "not a JSON object"), item, None)
            return
        if not ITEM_FIELDS.issuperset(item):
            self.note_fields("order-items", item, ITEM_FIELDS)
        position = item.get("position")
        record_key = f"{order_id}:{position}"
        amount = readable_money(item.get("lineTotal"))
        if order_id is not None:
            # The API serves items of orders created on the day only, so an item whose order
            # is missing still counts as the retailer counts it.
            on_day = created_at is None or created_at[:10] == self.day_text
            self.control.add(order_id, position,
                             c.money_to_cents(amount) if amount is not None else None, on_day)
        try:
            if order_id is None:
                raise InvalidRecord(RejectReason.MISSING_FIELD, "orderNumber is missing",
                                    "orderNumber")
            if created_at is None:
                raise InvalidRecord(RejectReason.MISSING_FIELD,
                                    f"order {order_id} is not among the day's orders",
                                    "orderNumber")
            record = {
                "retailer_id": RETAILER_ID, "order_id": order_id,
                "line_number": c.integer(position, "position"),
                "product_id": c.key(item.get("articleNumber"), "articleNumber"),
                "created_at": created_at,
                "quantity": c.quantity(item.get("quantity"), "quantity"),
                "unit_price": c.money(item.get("unitPrice"), "unitPrice"),
                "discount": c.money(item.get("discount") or "0", "discount"),
                "line_total": amount or c.money(item.get("lineTotal"), "lineTotal"),
                "currency": CURRENCY,
            }
        except Exception as exc:  # noqa: BLE001 - every failure becomes a rejection
            self.reject("order_lines", exc, item, record_key, amount=amount)
            return
        self.emit("order_lines", record)


def _order_number(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    try:
        return c.key(item.get("orderNumber"), "orderNumber")
    except InvalidRecord:
        return None


def _store(r: Record) -> Record:
    return {"retailer_id": RETAILER_ID, "store_id": c.key(r.get("storeRef"), "storeRef"),
            "store_name": c.text_or_none(r.get("label")),
            "channel": c.code(r.get("format"), "format", CHANNELS,
                              RejectReason.UNKNOWN_CHANNEL),
            "city": c.text_or_none(r.get("town")), "region": None,
            "country": c.text_or_none(r.get("country"))}


def _product(r: Record) -> Record:
    return {"retailer_id": RETAILER_ID,
            "product_id": c.key(r.get("articleNumber"), "articleNumber"),
            "product_name": c.text_or_none(r.get("label")),
            "category": c.text_or_none(r.get("productGroup")),
            "list_price": c.money(r.get("price"), "price"), "currency": CURRENCY,
            "valid_from": c.timestamp(r.get("validFrom"), "validFrom")}


def _customer(r: Record) -> Record:
    return {"retailer_id": RETAILER_ID,
            "customer_id": c.key(r.get("customerRef"), "customerRef"),
            "email": c.text_or_none(r.get("mail")), "full_name": c.text_or_none(r.get("name")),
            "city": c.text_or_none(r.get("town")), "region": None,
            "country": c.text_or_none(r.get("country")),
            "valid_from": c.timestamp(r.get("changedAt") or r.get("registeredAt"),
                                      "changedAt")}


def _event(r: Record) -> Record:
    return {"retailer_id": RETAILER_ID, "order_id": c.key(r.get("orderNumber"), "orderNumber"),
            "event_type": c.code(r.get("type"), "type", EVENT_TYPES),
            "occurred_at": c.timestamp(r.get("occurredAt"), "occurredAt")}
