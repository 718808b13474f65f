"""The canonical model: one shape for every retailer's records (silver objects).

Documented field by field in docs/data-dictionary.md. Silver objects are gzipped JSON
lines, one object per line, with these fields and nothing else. Conventions:
- keys are strings scoped per retailer (`retailer_id` + `<object>_id`);
- timestamps are ISO 8601 strings in UTC with a `Z` suffix;
- money is a decimal string with two places (`"12.99"`) next to its ISO `currency`;
- statuses and event types come from ORDER_STATUSES.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

ORDER_STATUSES = ("created", "paid", "shipped", "delivered", "canceled", "refunded")
EVENT_TYPES = ("paid", "shipped", "delivered", "canceled", "refunded")

# Entities, in the order transformation applies them.
ENTITIES: dict[str, tuple[str, ...]] = {
    "stores": ("retailer_id", "store_id", "store_name", "channel", "city", "region", "country"),
    "customers": ("retailer_id", "customer_id", "email", "full_name", "city", "region",
                  "country", "valid_from"),
    "products": ("retailer_id", "product_id", "product_name", "category", "list_price",
                 "currency", "valid_from"),
    "orders": ("retailer_id", "order_id", "customer_id", "store_id", "created_at", "status",
               "currency", "order_total"),
    "order_lines": ("retailer_id", "order_id", "line_number", "product_id", "created_at",
                    "quantity", "unit_price", "discount", "line_total", "currency"),
    "order_events": ("retailer_id", "order_id", "event_type", "occurred_at"),
}

# Natural key of each entity (unique within one partition after deduplication).
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "stores": ("retailer_id", "store_id"),
    "customers": ("retailer_id", "customer_id"),
    "products": ("retailer_id", "product_id"),
    "orders": ("retailer_id", "order_id"),
    "order_lines": ("retailer_id", "order_id", "line_number"),
    "order_events": ("retailer_id", "order_id", "event_type"),
}

REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "stores": ("retailer_id", "store_id"),
    "customers": ("retailer_id", "customer_id", "valid_from"),
    "products": ("retailer_id", "product_id", "currency", "valid_from"),
    "orders": ("retailer_id", "order_id", "customer_id", "store_id", "created_at", "status",
               "currency"),
    "order_lines": ("retailer_id", "order_id", "line_number", "product_id", "created_at",
                    "quantity", "unit_price", "discount", "line_total", "currency"),
    "order_events": ("retailer_id", "order_id", "event_type", "occurred_at"),
}


class RejectReason(StrEnum):
    """Machine-readable reasons a record lands in the rejected objects."""

    MISSING_FIELD = "missing_field"
    BAD_TIMESTAMP = "bad_timestamp"
    BAD_NUMBER = "bad_number"
    BAD_CURRENCY = "bad_currency"
    NEGATIVE_QUANTITY = "negative_quantity"
    NEGATIVE_AMOUNT = "negative_amount"
    UNKNOWN_STATUS = "unknown_status"
    WRONG_DAY = "wrong_day"
    MALFORMED_RECORD = "malformed_record"


class InvalidRecord(ValueError):
    """A record that cannot be normalized; carries its reason and the field at fault."""

    def __init__(self, reason: RejectReason, detail: str, field: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.field = field


CENT = Decimal("0.01")


def money(value: object, field: str = "amount") -> str:
    """A decimal string with two places, from a number, a numeric string or a Decimal."""
    if value is None or value == "":
        raise InvalidRecord(RejectReason.MISSING_FIELD, f"{field} is missing", field)
    if isinstance(value, float):
        value = repr(value)  # the shortest repr keeps 12.99 as 12.99, not 12.9899999...
    try:
        d = Decimal(str(value))
    except Exception:
        raise InvalidRecord(RejectReason.BAD_NUMBER, f"{field}={value!r} is not a number",
                            field) from None
    if not d.is_finite():
        raise InvalidRecord(RejectReason.BAD_NUMBER, f"{field}={value!r} is not finite", field)
    return str(d.quantize(CENT, rounding=ROUND_HALF_UP))


def cents_to_money(value: object, field: str = "amount") -> str:
    """Integer cents (or a string of them) as a decimal string with two places."""
    if value is None or value == "":
        raise InvalidRecord(RejectReason.MISSING_FIELD, f"{field} is missing", field)
    try:
        cents = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise InvalidRecord(RejectReason.BAD_NUMBER, f"{field}={value!r} is not integer cents",
                            field) from None
    return str((Decimal(cents) / 100).quantize(CENT))


def utc_iso(ts: dt.datetime) -> str:
    """An aware datetime as the canonical UTC string (`2024-01-15T13:45:12Z`)."""
    if ts.tzinfo is None:
        raise InvalidRecord(RejectReason.BAD_TIMESTAMP, f"{ts!r} has no time zone")
    ts = ts.astimezone(dt.UTC)
    text = ts.strftime("%Y-%m-%dT%H:%M:%S")
    if ts.microsecond:
        text += f".{ts.microsecond:06d}".rstrip("0")
    return text + "Z"
