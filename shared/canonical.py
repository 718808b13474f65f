"""The canonical model: one shape for every retailer's records (silver objects).

Documented field by field in docs/data-dictionary.md. Silver objects are gzipped JSON
lines, one object per line, with these fields and nothing else. Conventions:
- keys are strings scoped per retailer (`retailer_id` + `<object>_id`);
- timestamps are ISO 8601 strings in UTC with a `Z` suffix;
- money is a decimal string with two places (`"12.99"`) next to its ISO `currency`;
- statuses and event types come from ORDER_STATUSES.

The value helpers below raise InvalidRecord with a RejectReason, so a connector maps a
retailer's record field by field and whatever cannot be read is rejected with its reason.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

T = TypeVar("T")

ORDER_STATUSES = ("created", "paid", "shipped", "delivered", "canceled", "refunded")
EVENT_TYPES = ("paid", "shipped", "delivered", "canceled", "refunded")
CHANNELS = ("store", "web", "app", "marketplace")

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

# One line of a rejected object (docs/contracts.md, "S3 objects").
REJECTED_FIELDS = ("entity", "reason", "detail", "field", "record_key", "amount", "currency",
                   "record")


class RejectReason(StrEnum):
    """Machine-readable reasons a record lands in the rejected objects."""

    MISSING_FIELD = "missing_field"
    BAD_TIMESTAMP = "bad_timestamp"
    BAD_NUMBER = "bad_number"
    BAD_CURRENCY = "bad_currency"
    NEGATIVE_QUANTITY = "negative_quantity"
    UNKNOWN_STATUS = "unknown_status"
    UNKNOWN_CHANNEL = "unknown_channel"
    MALFORMED_RECORD = "malformed_record"


class InvalidRecord(ValueError):
    """A record that cannot be normalized; carries its reason and the field at fault."""

    def __init__(self, reason: RejectReason, detail: str, field: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.field = field


CENT = Decimal("0.01")
# Already canonical: an optional minus, digits, a point and exactly two digits.
_TWO_PLACES = re.compile(r"-?\d+\.\d\d")
_CURRENCY = re.compile(r"[A-Z]{3}")


def _missing(value: object) -> bool:
    return value is None or value == ""


# Prices and totals repeat a great deal within a day (a catalog's prices, zero discounts),
# so conversions are remembered; the memo is emptied when it grows past its bound.
_MEMO_LIMIT = 1 << 16
_money_memo: dict[object, str] = {}
_cents_memo: dict[object, str] = {}


def _remember(memo: dict[Any, T], value: object, result: T) -> T:
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo[value] = result
    return result


def money(value: object, field: str = "amount") -> str:
    """A decimal string with two places, from a number, a numeric string or a Decimal.

    Args:
        value: `12.99`, `"12.99"`, `12`, `Decimal("12.985")`.
        field: the source field's name, for the rejection.
    Returns:
        `"12.99"`; half-up rounding to cents.
    Raises:
        InvalidRecord: missing_field or bad_number.
    """
    if value.__class__ is bool:
        raise InvalidRecord(RejectReason.BAD_NUMBER, f"{field}={value!r} is not a number", field)
    try:
        return _money_memo[value]
    except (KeyError, TypeError):  # TypeError: an unhashable value, rejected below
        pass
    if _missing(value):
        raise InvalidRecord(RejectReason.MISSING_FIELD, f"{field} is missing", field)
    # repr of a float is its shortest round-trip form: 12.99 stays 12.99, not 12.98999...
    text = repr(value) if isinstance(value, float) else str(value)
    if _TWO_PLACES.fullmatch(text):  # already canonical, without Decimal arithmetic
        return _remember(_money_memo, value, "0.00" if text == "-0.00" else text)
    try:
        d = Decimal(text)
    except (InvalidOperation, ValueError):
        raise InvalidRecord(RejectReason.BAD_NUMBER, f"{field}={value!r} is not a number",
                            field) from None
    if not d.is_finite():
        raise InvalidRecord(RejectReason.BAD_NUMBER, f"{field}={value!r} is not finite", field)
    # + 0 turns -0.00 into 0.00
    return _remember(_money_memo, value, str(d.quantize(CENT, rounding=ROUND_HALF_UP) + 0))


def cents_to_money(value: object, field: str = "amount") -> str:
    """Integer cents (or a string of them) as a decimal string with two places."""
    if value.__class__ is int:
        try:
            return _cents_memo[value]
        except KeyError:
            sign = "-" if value < 0 else ""  # type: ignore[operator]
            whole, rest = divmod(abs(value), 100)  # type: ignore[call-overload]
            return _remember(_cents_memo, value, f"{sign}{whole}.{rest:02d}")
    if _missing(value):
        raise InvalidRecord(RejectReason.MISSING_FIELD, f"{field} is missing", field)
    if isinstance(value, bool | float):
        raise InvalidRecord(RejectReason.BAD_NUMBER, f"{field}={value!r} is not integer cents",
                            field)
    try:
        cents = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise InvalidRecord(RejectReason.BAD_NUMBER, f"{field}={value!r} is not integer cents",
                            field) from None
    return cents_to_money(cents, field)


_to_cents_memo: dict[str, int] = {}


def money_to_cents(amount: str) -> int:
    """A canonical money string (`"-12.30"`) as integer cents, for exact sums."""
    try:
        return _to_cents_memo[amount]
    except KeyError:
        pass
    whole, _, frac = amount.partition(".")
    cents = abs(int(whole)) * 100 + int(frac or 0)
    return _remember(_to_cents_memo, amount, -cents if amount.startswith("-") else cents)


def cents_text(cents: int) -> str:
    """Integer cents as a canonical money string."""
    return cents_to_money(cents)


def currency(value: object, field: str = "currency") -> str:
    """An ISO 4217 code (`"EUR"`); lower case is accepted and upper-cased."""
    if _missing(value):
        raise InvalidRecord(RejectReason.MISSING_FIELD, f"{field} is missing", field)
    code = str(value).strip().upper()
    if not _CURRENCY.fullmatch(code):
        raise InvalidRecord(RejectReason.BAD_CURRENCY, f"{field}={value!r} is not a currency",
                            field)
    return code


def integer(value: object, field: str) -> int:
    """A whole number from an int or a string of digits (`"3"`); floats with a fraction fail."""
    if value.__class__ is int:
        return value  # type: ignore[return-value]
    if value.__class__ is str and value.isdecimal():  # type: ignore[attr-defined]
        return int(value)  # type: ignore[call-overload]  # "3": no blanks to strip
    if _missing(value):
        raise InvalidRecord(RejectReason.MISSING_FIELD, f"{field} is missing", field)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise InvalidRecord(RejectReason.BAD_NUMBER, f"{field}={value!r} is not a whole number",
                        field)


def quantity(value: object, field: str = "quantity") -> int:
    """An order line's quantity; negative quantities are rejected (a retailer fault)."""
    q = integer(value, field)
    if q < 0:
        raise InvalidRecord(RejectReason.NEGATIVE_QUANTITY, f"{field}={q}", field)
    return q


def key(value: object, field: str) -> str:
    """A natural key as a non-empty string (retailers use ints, prefixed strings, UUIDs)."""
    if value.__class__ is str:
        text = value.strip()  # type: ignore[attr-defined]
        if text:
            return text
    elif value.__class__ is int:
        return str(value)
    if _missing(value) or isinstance(value, bool | dict | list):
        if isinstance(value, bool | dict | list):
            raise InvalidRecord(RejectReason.MALFORMED_RECORD,
                                f"{field}={value!r} is not an identifier", field)
        raise InvalidRecord(RejectReason.MISSING_FIELD, f"{field} is missing", field)
    text = str(value).strip()
    if not text:
        raise InvalidRecord(RejectReason.MISSING_FIELD, f"{field} is blank", field)
    return text


def code(value: object, field: str, mapping: dict[str, str],
         reason: RejectReason = RejectReason.UNKNOWN_STATUS) -> str:
    """A retailer's code (status, event type, channel) as its canonical value.

    Args:
        value: the retailer's code; matched case-insensitively, surrounding blanks ignored.
        field: the source field's name, for the rejection.
        mapping: lower-case retailer code -> canonical value.
        reason: the rejection when the code is not in `mapping`.
    """
    if _missing(value):
        raise InvalidRecord(RejectReason.MISSING_FIELD, f"{field} is missing", field)
    found = mapping.get(str(value).strip().lower())
    if found is None:
        raise InvalidRecord(reason, f"{field}={value!r} is not a known code", field)
    return found


def text_or_none(value: object) -> str | None:
    """A free-text attribute: stripped, with empty strings as null (missing emails)."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def utc_iso(ts: dt.datetime) -> str:
    """An aware datetime as the canonical UTC string (`2024-01-15T13:45:12Z`)."""
    if ts.tzinfo is None:
        raise InvalidRecord(RejectReason.BAD_TIMESTAMP, f"{ts!r} has no time zone")
    if ts.utcoffset():
        ts = ts.astimezone(dt.UTC)
    ts = ts.replace(tzinfo=None)
    text = ts.isoformat()
    if ts.microsecond:
        text = text.rstrip("0")  # "...12.120000" -> "...12.12"
    return text + "Z"


def timestamp(value: object, field: str, *, naive_tz: dt.tzinfo | None = None) -> str:
    """A retailer's timestamp as the canonical UTC string.

    Args:
        value: ISO 8601 / RFC 3339 text (`"2024-01-15 13:45:12"`,
            `"2024-01-15T08:45:12-05:00"`, `"2024-01-15T13:45:12.000Z"`).
        field: the source field's name, for the rejection.
        naive_tz: the zone a timestamp without offset is in; None rejects naive values.
    Returns:
        `"2024-01-15T13:45:12Z"`.
    Raises:
        InvalidRecord: missing_field or bad_timestamp.
    """
    if isinstance(value, str) and _WHOLE_HOUR_OFFSET.fullmatch(value):
        return _whole_hour_offset_to_utc(value, field)
    if _missing(value):
        raise InvalidRecord(RejectReason.MISSING_FIELD, f"{field} is missing", field)
    if not isinstance(value, str) or len(value) < 19:  # date-only or compact forms
        raise InvalidRecord(RejectReason.BAD_TIMESTAMP, f"{field}={value!r} is not a timestamp",
                            field)
    try:
        ts = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRecord(RejectReason.BAD_TIMESTAMP, f"{field}={value!r} is not a timestamp",
                            field) from None
    if ts.tzinfo is None:
        if naive_tz is None:
            raise InvalidRecord(RejectReason.BAD_TIMESTAMP, f"{field}={value!r} has no offset",
                                field)
        if naive_tz is dt.UTC and not ts.microsecond and len(value) == 19:
            return f"{value[:10]}T{value[11:]}Z"  # already UTC to the second: just re-spell
        ts = ts.replace(tzinfo=naive_tz)
    elif not ts.microsecond and not ts.utcoffset() and value[4] == "-" and value[13] == ":":
        return f"{value[:10]}T{value[11:19]}Z"  # UTC already (`...Z`, `+00:00`, `.000Z`)
    return utc_iso(ts)


# Local time to the second with an offset of whole hours (`2024-01-15T08:45:12-05:00`).
_WHOLE_HOUR_OFFSET = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:[0-5]\d:[0-5]\d[+-]\d\d:00", re.ASCII)
# (date, hour, offset) as written -> the UTC `YYYY-MM-DDTHH` it stands for.
_utc_hour_memo: dict[object, str] = {}


def _whole_hour_offset_to_utc(value: str, field: str) -> str:
    """`timestamp` of a value `_WHOLE_HOUR_OFFSET` matches.

    Shifting by whole hours leaves minutes and seconds as written, and a day's timestamps
    share few (date, hour, offset) triples, so each triple is parsed and converted once
    (a key is only remembered once `fromisoformat` accepted it; the pattern checks the
    minutes and seconds). Datetime arithmetic per record was the top of retailer2's
    normalization profile.
    """
    key = value[:13] + value[19:]
    hour = _utc_hour_memo.get(key)
    if hour is None:
        try:
            ts = dt.datetime.fromisoformat(value)
        except ValueError:
            raise InvalidRecord(RejectReason.BAD_TIMESTAMP,
                                f"{field}={value!r} is not a timestamp", field) from None
        utc = ts.replace(tzinfo=None) - ts.utcoffset()  # type: ignore[operator]
        hour = _remember(_utc_hour_memo, key, utc.isoformat()[:13])
    return f"{hour}{value[13:19]}Z"
