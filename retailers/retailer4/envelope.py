"""The event envelope on the wire, in its schema versions.

Version 1 (every family): amounts as decimal strings (`"12.30"`), lines as `lines`
[{line_number, product_id, quantity, unit_price, discount, line_total}].
Version 2 (orders and payments, from RETAILER4_V2_FROM on): amounts in integer minor units
(`amount_minor`, `order_total_minor`), lines renamed `items` [{line, sku, qty,
unit_price_minor, discount_minor, total_minor}], the customer nested as
`customer: {id}`, and a new optional `channel`. Shipments stay on version 1.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from retailers.retailer4.world import CURRENCY, SOURCES, WorldEvent, _money

V2_FAMILIES = ("orders", "payments")


def version_for(event: WorldEvent, day: dt.date, v2_from: dt.date) -> int:
    """The schema version a producer uses for `event` of the orders of `day`."""
    return 2 if event.family in V2_FAMILIES and day >= v2_from else 1


def encode(event: WorldEvent, version: int, produced_at: dt.datetime) -> dict[str, Any]:
    """The envelope of `event` in schema `version`."""
    env: dict[str, Any] = {
        "event_id": event.event_id, "event_type": event.event_type, "event_version": version,
        "order_id": event.order_id, "status": event.status,
        "event_timestamp": _ts(event.timestamp), "produced_at": _ts(produced_at),
        "source_system": SOURCES[event.family],
    }
    if event.payment_id:
        env["payment_id"] = event.payment_id
    if event.shipment_id:
        env["shipment_id"] = event.shipment_id
    env.update(event.extra)
    if version == 1:
        env["customer_id"] = event.customer_id
        if event.amount_cents is not None:
            key = "order_total" if event.family == "orders" else "amount"
            env[key] = _money(event.amount_cents)
            env["currency"] = CURRENCY
        if event.store_id:
            env["store_id"] = event.store_id
        if event.lines:
            env["lines"] = [{"line_number": x.line_number, "product_id": x.product_id,
                             "quantity": x.quantity, "unit_price": _money(x.unit_price_cents),
                             "discount": _money(x.discount_cents),
                             "line_total": _money(x.line_total_cents)} for x in event.lines]
        return env
    env["customer"] = {"id": event.customer_id}
    if event.amount_cents is not None:
        key = "order_total_minor" if event.family == "orders" else "amount_minor"
        env[key] = int(event.amount_cents)
        env["currency"] = CURRENCY
    if event.store_id:
        env["channel"] = {"id": event.store_id}
    if event.lines:
        env["items"] = [{"line": x.line_number, "sku": x.product_id, "qty": x.quantity,
                         "unit_price_minor": x.unit_price_cents,
                         "discount_minor": x.discount_cents, "total_minor": x.line_total_cents}
                        for x in event.lines]
    return env


def dumps(envelope: dict[str, Any]) -> bytes:
    return orjson.dumps(envelope)


def subject(prefix: str, event: WorldEvent) -> str:
    """`<prefix>.<family>.<event_type>`: a consumer may filter by family or type."""
    return f"{prefix}.{event.family}.{event.event_type}"


def _ts(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
