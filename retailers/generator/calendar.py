"""The simulated calendar and the random streams keyed by it.

Every random draw comes from a stream keyed by (seed, retailer, stream, day or entity), so
a date's data never depends on which other dates were seeded, or in which order.
Times inside the generator are whole seconds since 2000-01-01 00:00 UTC: PostgreSQL's own
epoch, so binary COPY needs only a multiplication.
"""

from __future__ import annotations

import datetime as dt
from enum import IntEnum

import numpy as np

# The master data (price history, customer changes, sign-ups) covers this range; a date
# outside it cannot be seeded.
SIM_START = dt.date(2023, 1, 1)
SIM_END = dt.date(2027, 12, 31)
PG_EPOCH = dt.date(2000, 1, 1)
DAY = 86_400
# Order numbers are `day_index * ORDER_BLOCK + n`: an order's number says its day, so a
# date's orders are one number range (cheap delete on reseed, stable keyset order).
ORDER_BLOCK = 1_000_000
# The most days after its order's day that a lifecycle change can be reported: paid within
# hours, shipped within 3 days, delivered within 5 more, refunded within 14 more
# (lifecycle.py), reported up to 3 days late (faults.late_days); rounded up. The servers
# read only the order partitions of this window for a day's changes.
MAX_CHANGE_LAG_DAYS = 28
# Line keys are `order_no * LINE_SLOTS + slot`: slots 0-7 for lines, 8-15 for duplicates.
LINE_SLOTS = 16
MAX_LINES_PER_ORDER = 8


class Stream(IntEnum):
    """Independent random streams; adding one never changes the others."""

    STORES = 1
    PRODUCTS = 2
    PRICES = 3
    CUSTOMERS = 4
    CUSTOMER_CHANGES = 5
    ORDERS = 6
    LINES = 7
    LIFECYCLE = 8
    FAULTS = 9
    MASTER_FAULTS = 10
    IDS = 11


def rng(seed: int, retailer_no: int, stream: Stream, *keys: int) -> np.random.Generator:
    """A generator for one stream; the same arguments always give the same draws."""
    return np.random.default_rng([seed & 0xFFFF_FFFF, retailer_no, int(stream), *keys])


def check_day(day: dt.date) -> None:
    """Refuse dates outside the simulated calendar, with the range in the message."""
    if not SIM_START <= day <= SIM_END:
        raise ValueError(f"{day} is outside the simulated calendar "
                         f"{SIM_START}..{SIM_END}")


def day_index(day: dt.date) -> int:
    """Days since SIM_START (the day part of order numbers)."""
    check_day(day)
    return (day - SIM_START).days


def day_start(day: dt.date) -> int:
    """Seconds since 2000-01-01 UTC at the start of `day`."""
    return (day - PG_EPOCH).days * DAY


def pg_day(seconds: np.ndarray) -> np.ndarray:
    """Days since 2000-01-01 (PostgreSQL's binary `date`) of timestamps in seconds."""
    return (seconds // DAY).astype(np.int32)


def days(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every date from start to end, inclusive."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
