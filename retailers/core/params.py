"""Query parameters of the data endpoints: the day, and the three paging styles.

A bad value is a 400 with the error body, never a 500 or a silently clamped value.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass

import orjson
from flask import request

from retailers.core.errors import bad_request
from retailers.generator.calendar import LINE_SLOTS, MAX_CHANGE_LAG_DAYS, ORDER_BLOCK, SIM_START

# The days a request may name. A day's bounds are computed with a day of margin on both
# sides (local time zones, the next day's start), so the calendar's first and last days
# cannot be served: without this bound 9999-12-31 overflowed into a 500.
FIRST_DAY = dt.date.min + dt.timedelta(days=2)
LAST_DAY = dt.date.max - dt.timedelta(days=2)
# Offsets and page numbers beyond a 32-bit integer can name no row of a day: refused with
# a 400 instead of reaching the database as an out-of-range integer.
MAX_POSITION = 2**31 - 1


@dataclass(frozen=True)
class Day:
    """A UTC calendar day, with its bounds ready for timestamptz and naive-UTC columns."""

    date: dt.date
    start: dt.datetime          # aware, UTC
    end: dt.datetime            # aware, UTC, exclusive

    @property
    def start_naive(self) -> dt.datetime:
        return self.start.replace(tzinfo=None)

    @property
    def end_naive(self) -> dt.datetime:
        return self.end.replace(tzinfo=None)

    def sql(self) -> dict[str, object]:
        """The usual query parameters: day, start, end (aware) and their naive twins, and
        the order-number windows of the day (`order_window`)."""
        return {"day": self.date, "start": self.start, "end": self.end,
                "start_naive": self.start_naive, "end_naive": self.end_naive,
                **self.order_window()}

    def order_window(self) -> dict[str, int]:
        """Which order numbers the day's rows can belong to.

        The order tables are partitioned by the order numbers' daily blocks. Bounding a
        query by these constants lets PostgreSQL read only the partitions of a few days;
        without them every day query visits every partition, and a day's pages cost grows
        with the years seeded. `orders_from`..`orders_to`: orders created on the day (a
        day of margin each side); `changes_from`..`orders_to`: orders whose lifecycle can
        change on it (MAX_CHANGE_LAG_DAYS back). `lines_from`, `lines_to` and
        `line_changes_from` are the same windows as line keys (LINE_SLOTS per order).
        """
        index = (self.date - SIM_START).days
        window = {"orders_from": max(0, (index - 1) * ORDER_BLOCK),
                  "orders_to": max(0, (index + 2) * ORDER_BLOCK),
                  "changes_from": max(0, (index - 1 - MAX_CHANGE_LAG_DAYS) * ORDER_BLOCK)}
        return {**window, "lines_from": window["orders_from"] * LINE_SLOTS,
                "lines_to": window["orders_to"] * LINE_SLOTS,
                "line_changes_from": window["changes_from"] * LINE_SLOTS}


def day_param(name: str = "date") -> Day:
    """The required `YYYY-MM-DD` parameter `name` as a UTC Day."""
    raw = request.args.get(name)
    if not raw:
        raise bad_request(f"{name} is required (YYYY-MM-DD)")
    try:
        date = dt.date.fromisoformat(raw)
    except ValueError:
        raise bad_request(f"{name}={raw!r} is not a date (YYYY-MM-DD)") from None
    if len(raw) != 10:
        raise bad_request(f"{name}={raw!r} is not a date (YYYY-MM-DD)")
    if not FIRST_DAY <= date <= LAST_DAY:
        raise bad_request(f"{name}={raw} is out of range ({FIRST_DAY.isoformat()} to "
                          f"{LAST_DAY.isoformat()})")
    start = dt.datetime.combine(date, dt.time(), tzinfo=dt.UTC)
    return Day(date, start, start + dt.timedelta(days=1))


def int_param(name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    """An integer parameter within minimum..maximum (400 outside it)."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise bad_request(f"{name} must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise bad_request(f"{name} must be at most {maximum}")
    return value


def offset_limit(max_size: int, default: int = 1000) -> tuple[int, int]:
    """retailer1's `offset` (from 0) and `limit` (1..max)."""
    return (int_param("offset", 0, 0, MAX_POSITION),
            int_param("limit", min(default, max_size), 1, max_size))


def page_number(max_size: int, default: int = 500) -> tuple[int, int]:
    """retailer3's `page` (from 1) and `per_page` (1..max)."""
    return (int_param("page", 1, 1, MAX_POSITION),
            int_param("per_page", min(default, max_size), 1, max_size))


def cursor_page(resource: str, day: dt.date | None, max_size: int,
                default: int = 500) -> tuple[str, int]:
    """retailer2's `cursor` (decoded to the last key seen, "" at the start) and `page_size`."""
    size = int_param("page_size", min(default, max_size), 1, max_size)
    raw = request.args.get("cursor")
    return (decode_cursor(raw, resource, day) if raw else "", size)


def encode_cursor(resource: str, day: dt.date | None, last_key: str) -> str:
    """An opaque cursor: which list, which day, the last key served (keyset position)."""
    payload = orjson.dumps([resource, day.isoformat() if day else None, last_key])
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode()


def decode_cursor(raw: str, resource: str, day: dt.date | None) -> str:
    """The last key of a cursor from `encode_cursor`; 400 when it is not one for this list."""
    try:
        data = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        kind, cursor_day, key = data
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError):
        raise bad_request("cursor is not valid; use the next_cursor of the previous page") \
            from None
    if kind != resource or cursor_day != (day.isoformat() if day else None) \
            or not isinstance(key, str):
        raise bad_request("cursor belongs to another list or day")
    return key
