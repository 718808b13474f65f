"""retailer4's event envelope -> one canonical event, whatever its schema version.

Version 1 carries money as decimal strings and lines as `lines`; version 2 carries money in
integer minor units, lines as `items` (`line`, `sku`, `qty`, `*_minor`) and the customer and
channel nested. Both upcast to `CanonicalEvent`; an unknown version, bytes that are not
JSON, or an envelope missing what its type needs raise InvalidRecord with the reason.
Canonical events then become silver records: orders and their lines from order_created /
order_updated, lifecycle milestones (`paid`, `shipped`, ...) from the events that mark them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from shared import canonical as c
from shared.canonical import InvalidRecord, RejectReason

RETAILER_ID = "retailer4"
KNOWN_VERSIONS = (1, 2)
EVENT_TYPES = (
    "order_created", "order_updated", "order_canceled", "payment_authorized",
    "payment_captured", "payment_failed", "payment_refunded", "shipment_created",
    "shipment_dispatched", "shipment_delivered", "shipment_failed",
)
# The event that marks each lifecycle milestone of fact_orders.
MILESTONE_OF = {"payment_captured": "paid", "shipment_dispatched": "shipped",
                "shipment_delivered": "delivered", "order_canceled": "canceled",
                "payment_refunded": "refunded"}


@dataclass
class CanonicalLine:
    line_number: int
    product_id: str
    quantity: int
    unit_price: str
    discount: str
    line_total: str


@dataclass
class CanonicalEvent:
    event_id: str
    event_type: str
    event_version: int
    order_id: str
    event_timestamp: str          # canonical UTC text
    produced_at: str | None
    customer_id: str | None = None
    store_id: str | None = None
    amount: str | None = None
    currency: str | None = None
    lines: list[CanonicalLine] = field(default_factory=list)


def decode(data: bytes) -> dict[str, Any]:
    """The envelope as a dict; InvalidRecord(malformed_record) when it is not a JSON object."""
    try:
        env = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise InvalidRecord(RejectReason.MALFORMED_RECORD, "payload is not JSON") from None
    if not isinstance(env, dict):
        raise InvalidRecord(RejectReason.MALFORMED_RECORD, "payload is not a JSON object")
    return env


def upcast(env: dict[str, Any]) -> CanonicalEvent:
    """One envelope (v1 or v2) as the canonical event."""
    version = env.get("event_version")
    if version not in KNOWN_VERSIONS:
        raise InvalidRecord(RejectReason.MALFORMED_RECORD,
                            f"unknown event_version {version!r}", "event_version")
    etype = env.get("event_type")
    if etype not in EVENT_TYPES:
        raise InvalidRecord(RejectReason.UNKNOWN_STATUS, f"unknown event_type {etype!r}",
                            "event_type")
    ev = CanonicalEvent(
        event_id=c.key(env.get("event_id"), "event_id"), event_type=etype,
        event_version=version, order_id=c.key(env.get("order_id"), "order_id"),
        event_timestamp=c.timestamp(env.get("event_timestamp"), "event_timestamp"),
        produced_at=_optional_timestamp(env.get("produced_at")))
    if version == 1:
        ev.customer_id = env.get("customer_id")
        ev.store_id = env.get("store_id")
        raw_amount = env.get("order_total", env.get("amount"))
        if raw_amount is not None:
            ev.amount = c.money(raw_amount, "amount")
        lines = [CanonicalLine(c.integer(x.get("line_number"), "line_number"),
                               c.key(x.get("product_id"), "product_id"),
                               c.quantity(x.get("quantity")), c.money(x.get("unit_price")),
                               c.money(x.get("discount") or 0), c.money(x.get("line_total")))
                 for x in env.get("lines") or []]
    else:
        ev.customer_id = (env.get("customer") or {}).get("id")
        ev.store_id = (env.get("channel") or {}).get("id")
        minor = env.get("order_total_minor", env.get("amount_minor"))
        if minor is not None:
            ev.amount = c.cents_to_money(minor, "amount_minor")
        lines = [CanonicalLine(c.integer(x.get("line"), "line"), c.key(x.get("sku"), "sku"),
                               c.quantity(x.get("qty"), "qty"),
                               c.cents_to_money(x.get("unit_price_minor"), "unit_price_minor"),
                               c.cents_to_money(x.get("discount_minor") or 0),
                               c.cents_to_money(x.get("total_minor"), "total_minor"))
                 for x in env.get("items") or []]
    if ev.amount is not None:
        ev.currency = c.currency(env.get("currency"))
    ev.lines = lines
    if etype in ("order_created", "order_updated"):
        if not ev.customer_id or not ev.store_id or ev.amount is None:
            raise InvalidRecord(RejectReason.MISSING_FIELD,
                                f"{etype} needs customer, channel and total")
    return ev


def _optional_timestamp(value: Any) -> str | None:
    """produced_at is the producer's clock, kept for latency: unreadable means unknown."""
    try:
        return c.timestamp(value, "produced_at") if value else None
    except InvalidRecord:
        return None


def silver_of(ev: CanonicalEvent) -> dict[str, list[dict[str, Any]]]:
    """The canonical records one event contributes (orders, order_lines, order_events)."""
    out: dict[str, list[dict[str, Any]]] = {}
    if ev.event_type in ("order_created", "order_updated"):
        out["orders"] = [{"retailer_id": RETAILER_ID, "order_id": ev.order_id,
                          "customer_id": ev.customer_id, "store_id": ev.store_id,
                          "created_at": ev.event_timestamp if ev.event_type == "order_created"
                          else None, "status": "created", "currency": ev.currency,
                          "order_total": ev.amount}]
        out["order_lines"] = [{"retailer_id": RETAILER_ID, "order_id": ev.order_id,
                               "line_number": x.line_number, "product_id": x.product_id,
                               "created_at": ev.event_timestamp, "quantity": x.quantity,
                               "unit_price": x.unit_price, "discount": x.discount,
                               "line_total": x.line_total, "currency": ev.currency}
                              for x in ev.lines]
        if ev.event_type == "order_updated":
            # An update does not say when the order was created: it only restates the
            # order's lines; the order_created event alone writes the order row.
            out.pop("orders")
            out.pop("order_lines")
    milestone = MILESTONE_OF.get(ev.event_type)
    if milestone:
        out["order_events"] = [{"retailer_id": RETAILER_ID, "order_id": ev.order_id,
                                "event_type": milestone, "occurred_at": ev.event_timestamp}]
    return out
