"""One day's generated facts as column arrays, in neutral terms (numbers, not wire formats).

Times are seconds since 2000-01-01 UTC, money is integer cents in the retailer's currency.
Each retailer's load SQL turns these into its own tables, names and types.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np


class Event(IntEnum):
    """Lifecycle event codes (the staging `event` column)."""

    PAID = 1
    SHIPPED = 2
    DELIVERED = 3
    CANCELED = 4
    REFUNDED = 5


@dataclass(frozen=True)
class Orders:
    order_no: np.ndarray        # int64, day_index * ORDER_BLOCK + n, ascending with time
    created_s: np.ndarray       # int64
    customer_no: np.ndarray     # int32
    store_no: np.ndarray        # int32
    total_cents: np.ndarray     # int64: the order's total as the shop computed it at checkout


@dataclass(frozen=True)
class Lines:
    line_key: np.ndarray        # int64, order_no * LINE_SLOTS + slot (unique per stored row)
    order_no: np.ndarray        # int64
    line_no: np.ndarray         # int16, 1..8
    product_no: np.ndarray      # int32 (beyond the catalog for an unknown SKU)
    qty: np.ndarray             # int32 (negative for the fault)
    unit_price: np.ndarray      # int64 cents
    discount: np.ndarray        # int64 cents
    line_total: np.ndarray      # int64 cents (off for the "totals don't add up" fault)


@dataclass(frozen=True)
class Events:
    order_no: np.ndarray        # int64
    event: np.ndarray           # int16, Event codes
    occurred_s: np.ndarray      # int64
    reported_day: np.ndarray    # int32, days since 2000-01-01 (later than occurred: "late")


@dataclass(frozen=True)
class DayData:
    """Everything the generator writes for orders created on one date."""

    day: dt.date
    orders: Orders
    lines: Lines
    events: Events
    faults: dict[str, int] = field(default_factory=dict)
