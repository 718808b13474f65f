"""retailer2 "Maple & Main": HTTP Basic, keyset cursor pages, nested orders.

An order carries its `items[]` and its `status_history[]`; money is integer cents and
timestamps are New York local time with their offset.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from services.ingestion.connectors.base import ControlTotals, Page, RetailerClient
from services.ingestion.normalize import Handler, Normalizer, Record
from services.ingestion.settings import IngestionSettings, Retailer2Settings
from shared import canonical as c
from shared.canonical import InvalidRecord, RejectReason

RETAILER_ID = "retailer2"
CURRENCY = "USD"

STATUSES = {"created": "created", "placed": "created", "new": "created", "pending": "created",
            "paid": "paid", "shipped": "shipped", "delivered": "delivered",
            "canceled": "canceled", "cancelled": "canceled", "refunded": "refunded"}
EVENT_TYPES = {s: s for s in c.EVENT_TYPES} | {"cancelled": "canceled"}
# History entries that restate the order's creation: its `placed_at` already says it.
CREATION_STATUSES = frozenset({"created", "placed", "new", "pending"})
CHANNELS = {"web": "web", "app": "app", "marketplace": "marketplace", "store": "store"}

CHANNEL_FIELDS = frozenset({"code", "label", "type", "city"})
PRODUCT_FIELDS = frozenset({"code", "name", "department", "price_cents", "updated_at"})
CUSTOMER_FIELDS = frozenset({"id", "email", "full_name", "city", "region", "created_at",
                             "updated_at"})
ORDER_FIELDS = frozenset({"id", "customer", "channel", "placed_at", "status", "total_cents",
                          "items", "status_history"})
ORDER_CUSTOMER_FIELDS = frozenset({"id", "email"})
ITEM_FIELDS = frozenset({"line", "product_code", "quantity", "unit_price_cents",
                         "discount_cents", "total_cents"})
HISTORY_FIELDS = frozenset({"status", "at"})


class Retailer2Client(RetailerClient):
    """retailer2's API: HTTP Basic, `cursor`/`page_size` pages ending at `next_cursor: null`."""

    retailer_id = RETAILER_ID
    resources = ("channels", "catalog", "customers", "orders")
    _items_keys = {"catalog": "products", "customers": "customers", "orders": "orders"}

    def __init__(self, config: Retailer2Settings, settings: IngestionSettings,
                 **kwargs: Any) -> None:
        super().__init__(config.url, settings, **kwargs)
        pair = f"{config.username}:{config.password.get_secret_value()}".encode()
        self._headers = {"Authorization": "Basic " + base64.b64encode(pair).decode()}

    def authenticate(self, *, force: bool = False) -> None:
        """Static credentials sent with every request: nothing to obtain."""

    def auth_headers(self) -> Mapping[str, str]:
        return self._headers

    def iter_pages(self, resource: str, day: dt.date) -> Iterator[Page]:
        if resource == "channels":
            return self.single_page("channels", "/v2/channels", items_key="channels")
        return self.cursor_pages(resource, f"/v2/{resource}", {"day": day.isoformat()},
                                 items_key=self._items_keys[resource])

    def control_totals(self, day: dt.date) -> ControlTotals:
        body, _ = self.get_json("/v2/reports/daily", {"day": day.isoformat()},
                                resource="reports/daily")
        return ControlTotals(line_count=c.integer(body["items"], "items"),
                             amount=c.cents_to_money(body["revenue_cents"], "revenue_cents"),
                             currency=CURRENCY, raw=body)

    def normalizer(self, day: dt.date) -> Retailer2Normalizer:
        return Retailer2Normalizer(day)


class Retailer2Normalizer(Normalizer):
    retailer_id = RETAILER_ID
    currency = CURRENCY

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "channels": lambda rs: self.map_each("stores", "channels", rs, CHANNEL_FIELDS,
                                                 _store, lambda r: r.get("code")),
            "catalog": lambda rs: self.map_each("products", "catalog", rs, PRODUCT_FIELDS,
                                                _product, lambda r: r.get("code")),
            "customers": lambda rs: self.map_each("customers", "customers", rs,
                                                  CUSTOMER_FIELDS, _customer,
                                                  lambda r: r.get("id")),
            "orders": self._orders,
        }

    def _orders(self, records: list[Any]) -> None:
        for order in records:
            if not isinstance(order, dict):
                self.reject("orders", InvalidRecord(RejectReason.MALFORMED_RECORD,
                                                    "not a JSON object"), order, None)
                continue
            self._order(order)

    def _order(self, order: Record) -> None:
        self.note_fields("orders", order, ORDER_FIELDS)
        customer = order.get("customer")
        if isinstance(customer, dict):
            self.note_fields("orders.customer", customer, ORDER_CUSTOMER_FIELDS)
        items = order.get("items")
        items = items if isinstance(items, list) else []
        history = order.get("status_history")
        history = history if isinstance(history, list) else []
        raw_id = order.get("id")
        try:
            header: Record = {
                "retailer_id": RETAILER_ID, "order_id": c.key(raw_id, "id"),
                "customer_id": c.key(customer.get("id") if isinstance(customer, dict)
                                     else customer, "customer.id"),
                "store_id": c.key(order.get("channel"), "channel"),
                "created_at": c.timestamp(order.get("placed_at"), "placed_at"),
                "status": c.code(order.get("status"), "status", STATUSES),
                "currency": CURRENCY,
                "order_total": c.cents_to_money(order["total_cents"], "total_cents")
                if order.get("total_cents") is not None else None,
            }
        except Exception as exc:  # noqa: BLE001 - the order and everything in it is rejected
            key = None if raw_id is None else str(raw_id)
            self.reject("orders", exc, order, key)
            for item in items:
                self.reject("order_lines", exc, item, f"{key}:{_get(item, 'line')}",
                            amount=_cents_or_none(_get(item, "total_cents")))
            for entry in history:
                if not _is_creation(entry):
                    self.reject("order_events", exc, entry,
                                f"{key}:{_get(entry, 'status')}")
            return
        self.emit("orders", header)
        on_day = header["created_at"][:10] == self.day_text
        for item in items:
            self._item(header, item, on_day)
        for entry in history:
            self._event(header["order_id"], entry)

    def _item(self, order: Record, item: Any, on_day: bool) -> None:
        order_id = order["order_id"]
        if not isinstance(item, dict):
            self.reject("order_lines", InvalidRecord(RejectReason.MALFORMED_RECORD,
                                                     "item is not a JSON object"), item,
                        f"{order_id}:?")
            return
        if not ITEM_FIELDS.issuperset(item):
            self.note_fields("orders.items", item, ITEM_FIELDS)
        line = item.get("line")
        total_cents = item.get("total_cents")
        cents: int | None
        amount: str | None
        if total_cents.__class__ is int:  # the norm: no parsing back and forth
            cents, amount = total_cents, c.cents_to_money(total_cents)
        else:
            amount = _cents_or_none(total_cents)
            cents = c.money_to_cents(amount) if amount is not None else None
        self.control.add(order_id, line, cents, on_day)
        try:
            record = {
                "retailer_id": RETAILER_ID, "order_id": order_id,
                "line_number": c.integer(line, "line"),
                "product_id": c.key(item.get("product_code"), "product_code"),
                "created_at": order["created_at"],
                "quantity": c.quantity(item.get("quantity"), "quantity"),
                "unit_price": c.cents_to_money(item.get("unit_price_cents"), "unit_price_cents"),
                "discount": c.cents_to_money(item.get("discount_cents") or 0, "discount_cents"),
                "line_total": amount or c.cents_to_money(total_cents, "total_cents"),
                "currency": CURRENCY,
            }
        except Exception as exc:  # noqa: BLE001 - every failure becomes a rejection
            self.reject("order_lines", exc, item, f"{order_id}:{line}", amount=amount)
            return
        self.emit("order_lines", record)

    def _event(self, order_id: str, entry: Any) -> None:
        if isinstance(entry, dict) and not HISTORY_FIELDS.issuperset(entry):
            self.note_fields("orders.status_history", entry, HISTORY_FIELDS)
        if _is_creation(entry):
            return  # the order's created_at already records it
        try:
            record = {"retailer_id": RETAILER_ID, "order_id": order_id,
                      "event_type": c.code(entry.get("status"), "status", EVENT_TYPES),
                      "occurred_at": c.timestamp(entry.get("at"), "at")}
        except Exception as exc:  # noqa: BLE001 - every failure becomes a rejection
            self.reject("order_events", exc, entry, f"{order_id}:{_get(entry, 'status')}")
            return
        self.emit("order_events", record)


def _store(r: Record) -> Record:
    return {"retailer_id": RETAILER_ID, "store_id": c.key(r.get("code"), "code"),
            "store_name": c.text_or_none(r.get("label")),
            "channel": c.code(r.get("type"), "type", CHANNELS, RejectReason.UNKNOWN_CHANNEL),
            "city": c.text_or_none(r.get("city")), "region": None, "country": "US"}


def _product(r: Record) -> Record:
    return {"retailer_id": RETAILER_ID, "product_id": c.key(r.get("code"), "code"),
            "product_name": c.text_or_none(r.get("name")),
            "category": c.text_or_none(r.get("department")),
            "list_price": c.cents_to_money(r.get("price_cents"), "price_cents"),
            "currency": CURRENCY, "valid_from": c.timestamp(r.get("updated_at"), "updated_at")}


def _customer(r: Record) -> Record:
    return {"retailer_id": RETAILER_ID, "customer_id": c.key(r.get("id"), "id"),
            "email": c.text_or_none(r.get("email")),
            "full_name": c.text_or_none(r.get("full_name")),
            "city": c.text_or_none(r.get("city")), "region": c.text_or_none(r.get("region")),
            "country": "US",
            "valid_from": c.timestamp(r.get("updated_at") or r.get("created_at"), "updated_at")}


def _get(record: Any, name: str) -> Any:
    return record.get(name) if isinstance(record, dict) else None


def _is_creation(entry: Any) -> bool:
    status = _get(entry, "status")
    return isinstance(status, str) and status.strip().lower() in CREATION_STATUSES


def _cents_or_none(value: Any) -> str | None:
    try:
        return c.cents_to_money(value)
    except InvalidRecord:
        return None
