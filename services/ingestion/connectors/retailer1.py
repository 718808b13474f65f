"""retailer1 "Northwind Outfitters": API key, offset/limit pages, flat order lines.

Each order line repeats its order's fields and carries the lifecycle as timestamp columns,
so orders and order events are assembled from consecutive lines of the same order (the
feed is ordered by order and line, so an order's lines are adjacent even across pages).
Money is JSON numbers in dollars, timestamps are naive UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from services.ingestion.connectors.base import ControlTotals, Page, RetailerClient
from services.ingestion.normalize import (
    Handler,
    Normalizer,
    Record,
    as_invalid,
    readable_money,
)
from services.ingestion.settings import IngestionSettings, Retailer1Settings
from shared import canonical as c
from shared.canonical import InvalidRecord, RejectReason

RETAILER_ID = "retailer1"
CURRENCY = "USD"
UTC = dt.UTC

STATUSES = {"created": "created", "new": "created", "placed": "created", "pending": "created",
            "paid": "paid", "shipped": "shipped", "delivered": "delivered",
            "canceled": "canceled", "cancelled": "canceled", "refunded": "refunded"}
CHANNELS = {"retail": "store", "store": "store", "online": "web", "web": "web"}
# Lifecycle columns of a line, as canonical event types.
LIFECYCLE = (("paid_ts", "paid"), ("shipped_ts", "shipped"), ("delivered_ts", "delivered"),
             ("canceled_ts", "canceled"), ("refunded_ts", "refunded"))

STORE_FIELDS = frozenset({"store_id", "store_name", "city", "state", "kind"})
PRODUCT_FIELDS = frozenset({"sku", "title", "category", "price", "price_changed_ts"})
CUSTOMER_FIELDS = frozenset({"customer_id", "email", "first_name", "last_name", "city",
                             "state", "signup_ts", "modified_ts"})
LINE_FIELDS = frozenset({"order_id", "line_no", "order_ts", "customer_id", "store_id", "sku",
                         "qty", "unit_price", "discount", "line_total", "order_status",
                         *(column for column, _ in LIFECYCLE)})


class Retailer1Client(RetailerClient):
    """retailer1's API: `X-API-Key`, `offset`/`limit` pages with a `total`."""

    retailer_id = RETAILER_ID
    resources = ("stores", "products", "customers", "order-lines")
    _paths = {"stores": "/api/v1/stores", "products": "/api/v1/products",
              "customers": "/api/v1/customers", "order-lines": "/api/v1/order-lines"}

    def __init__(self, config: Retailer1Settings, settings: IngestionSettings,
                 **kwargs: Any) -> None:
        super().__init__(config.url, settings, **kwargs)
        self._headers = {"X-API-Key": config.api_key.get_secret_value()}

    def authenticate(self, *, force: bool = False) -> None:
        """A static API key: nothing to obtain."""

    def auth_headers(self) -> Mapping[str, str]:
        return self._headers

    def iter_pages(self, resource: str, day: dt.date) -> Iterator[Page]:
        params = {} if resource == "stores" else {"date": day.isoformat()}
        return self.offset_pages(resource, self._paths[resource], params, items_key="data")

    def control_totals(self, day: dt.date) -> ControlTotals:
        body, _ = self.get_json("/api/v1/control-totals", {"date": day.isoformat()},
                                resource="control-totals")
        return ControlTotals(line_count=c.integer(body["line_count"], "line_count"),
                             amount=c.money(body["gross_amount"], "gross_amount"),
                             currency=c.currency(body.get("currency") or CURRENCY), raw=body)

    def normalizer(self, day: dt.date) -> Retailer1Normalizer:
        return Retailer1Normalizer(day)


class _OpenOrder:
    """The order whose lines are being read: its fields, parsed once, and its running total."""

    __slots__ = ("order_id", "first_line", "fields", "error", "total_cents", "total_known")

    def __init__(self, order_id: str, first_line: Record) -> None:
        self.order_id = order_id
        self.first_line = first_line
        self.fields: Record | None = None
        self.error: InvalidRecord | None = None
        self.total_cents = 0
        self.total_known = True


class Retailer1Normalizer(Normalizer):
    retailer_id = RETAILER_ID
    currency = CURRENCY

    def __init__(self, day: dt.date) -> None:
        super().__init__(day)
        self._open: _OpenOrder | None = None

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "stores": lambda rs: self.map_each("stores", "stores", rs, STORE_FIELDS,
                                               self._store, lambda r: r.get("store_id")),
            "products": lambda rs: self.map_each("products", "products", rs, PRODUCT_FIELDS,
                                                 self._product, lambda r: r.get("sku")),
            "customers": lambda rs: self.map_each("customers", "customers", rs,
                                                  CUSTOMER_FIELDS, self._customer,
                                                  lambda r: r.get("customer_id")),
            "order-lines": self._order_lines,
        }

    # -- reference data ---------------------------------------------------------------------

    def _store(self, r: Record) -> Record:
        return {"retailer_id": RETAILER_ID, "store_id": c.key(r.get("store_id"), "store_id"),
                "store_name": c.text_or_none(r.get("store_name")),
                "channel": c.code(r.get("kind"), "kind", CHANNELS,
                                  RejectReason.UNKNOWN_CHANNEL),
                "city": c.text_or_none(r.get("city")), "region": c.text_or_none(r.get("state")),
                "country": "US"}

    def _product(self, r: Record) -> Record:
        return {"retailer_id": RETAILER_ID, "product_id": c.key(r.get("sku"), "sku"),
                "product_name": c.text_or_none(r.get("title")),
                "category": c.text_or_none(r.get("category")),
                "list_price": c.money(r.get("price"), "price"), "currency": CURRENCY,
                "valid_from": c.timestamp(r.get("price_changed_ts"), "price_changed_ts",
                                          naive_tz=UTC)}

    def _customer(self, r: Record) -> Record:
        names = [n.strip() for n in (r.get("first_name"), r.get("last_name"))
                 if isinstance(n, str) and n.strip()]
        changed = r.get("modified_ts") or r.get("signup_ts")
        return {"retailer_id": RETAILER_ID,
                "customer_id": c.key(r.get("customer_id"), "customer_id"),
                "email": c.text_or_none(r.get("email")), "full_name": " ".join(names) or None,
                "city": c.text_or_none(r.get("city")), "region": c.text_or_none(r.get("state")),
                "country": "US",
                "valid_from": c.timestamp(changed, "modified_ts", naive_tz=UTC)}

    # -- orders from flat lines --------------------------------------------------------------

    def _order_lines(self, records: list[Any]) -> None:
        for line in records:
            if not isinstance(line, dict):
                self.reject("order_lines", InvalidRecord(RejectReason.MALFORMED_RECORD,
                                                         "not a JSON object"), line, None)
                continue
            if not LINE_FIELDS.issuperset(line):
                self.note_fields("order-lines", line, LINE_FIELDS)
            order_id = line.get("order_id")
            order_key = None if order_id is None else str(order_id)
            if self._open is None or order_key != self._open.order_id:
                self.flush()
                self._open = self._start_order(order_key, line)
            self._line(self._open, line)

    def _start_order(self, order_key: str | None, line: Record) -> _OpenOrder:
        order = _OpenOrder(order_key or "", line)
        try:
            order.fields = {
                "order_id": c.key(line.get("order_id"), "order_id"),
                "customer_id": c.key(line.get("customer_id"), "customer_id"),
                "store_id": c.key(line.get("store_id"), "store_id"),
                "created_at": c.timestamp(line.get("order_ts"), "order_ts", naive_tz=UTC),
                "status": c.code(line.get("order_status"), "order_status", STATUSES),
            }
        except Exception as exc:  # noqa: BLE001 - the order and its lines are rejected
            order.error = as_invalid(exc)
        return order

    def _line(self, order: _OpenOrder, line: Record) -> None:
        line_no = line.get("line_no")
        amount = readable_money(line.get("line_total"))
        cents = c.money_to_cents(amount) if amount is not None else None
        fields = order.fields
        on_day = fields is not None and fields["created_at"][:10] == self.day_text
        first_time = self.control.add(order.order_id, line_no, cents, on_day)
        if cents is None:
            order.total_known = False
        elif first_time:  # a line served twice is one line of the order
            order.total_cents += cents
        if fields is None:
            self.reject("order_lines", order.error or ValueError("order unreadable"), line,
                        f"{order.order_id}:{line_no}", amount=amount)
            return
        try:
            record = {
                "retailer_id": RETAILER_ID, "order_id": fields["order_id"],
                "line_number": c.integer(line_no, "line_no"),
                "product_id": c.key(line.get("sku"), "sku"), "created_at": fields["created_at"],
                "quantity": c.quantity(line.get("qty"), "qty"),
                "unit_price": c.money(line.get("unit_price"), "unit_price"),
                "discount": c.money(line.get("discount") or 0, "discount"),
                "line_total": amount or c.money(line.get("line_total"), "line_total"),
                "currency": CURRENCY,
            }
        except Exception as exc:  # noqa: BLE001 - every failure becomes a rejection
            self.reject("order_lines", exc, line, f"{order.order_id}:{line_no}", amount=amount)
            return
        self.emit("order_lines", record)

    def flush(self) -> None:
        """The open order is complete: emit it and its lifecycle events."""
        order, self._open = self._open, None
        if order is None:
            return
        if order.fields is None:
            self.reject("orders", order.error or ValueError("order unreadable"),
                        order.first_line, order.order_id or None)
            return
        f = order.fields
        self.emit("orders", {
            "retailer_id": RETAILER_ID, "order_id": f["order_id"],
            "customer_id": f["customer_id"], "store_id": f["store_id"],
            "created_at": f["created_at"], "status": f["status"], "currency": CURRENCY,
            "order_total": c.cents_text(order.total_cents) if order.total_known else None,
        })
        for column, event_type in LIFECYCLE:
            value = order.first_line.get(column)
            if value is None or value == "":
                continue
            try:
                occurred_at = c.timestamp(value, column, naive_tz=UTC)
            except InvalidRecord as exc:
                self.reject("order_events", exc, {"order_id": f["order_id"], column: value},
                            f"{f['order_id']}:{event_type}")
                continue
            self.emit("order_events", {"retailer_id": RETAILER_ID, "order_id": f["order_id"],
                                       "event_type": event_type, "occurred_at": occurred_at})
