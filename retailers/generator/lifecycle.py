"""What happens to each order after it is placed: paid, shipped, delivered, canceled,
refunded, each at its own time (generated with the order, reported on later days)."""

from __future__ import annotations

import numpy as np

from retailers.generator.calendar import DAY
from retailers.generator.frames import Event

HOUR = 3600
PAID_SHARE = 0.93
CANCEL_UNPAID_SHARE = 0.6       # the rest of the unpaid orders stay open (abandoned)
CANCEL_PAID_SHARE = 0.03        # canceled after payment, before shipping
REFUND_SHARE = 0.04             # of delivered orders
SHIP_DAYS = (np.arange(4), np.array([0.25, 0.4, 0.25, 0.1]))
DELIVERY_DAYS = (np.arange(1, 6), np.array([0.15, 0.3, 0.3, 0.15, 0.1]))


def lifecycle_events(r: np.random.Generator, order_no: np.ndarray,
                     created_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every lifecycle event of the given orders.

    Returns:
        (order_no, event code, occurred_s) arrays, sorted by order and time.
    """
    n = len(order_no)
    paid = r.random(n) < PAID_SHARE
    # Card payments settle within minutes: lognormal around 3 minutes, capped at 3 hours.
    paid_at = created_s + np.clip(r.lognormal(np.log(180), 0.8, n), 20, 3 * HOUR).astype(np.int64)
    cancel_unpaid = ~paid & (r.random(n) < CANCEL_UNPAID_SHARE)
    cancel_paid = paid & (r.random(n) < CANCEL_PAID_SHARE)
    canceled_at = np.where(cancel_paid, paid_at + r.integers(600, 20 * HOUR, n),
                           created_s + r.integers(HOUR, 48 * HOUR, n))
    shipped = paid & ~cancel_paid
    shipped_at = (paid_at + r.choice(SHIP_DAYS[0], n, p=SHIP_DAYS[1]) * DAY
                  + r.integers(HOUR, 10 * HOUR, n))
    delivered_at = (shipped_at + r.choice(DELIVERY_DAYS[0], n, p=DELIVERY_DAYS[1]) * DAY
                    + r.integers(0, 10 * HOUR, n))
    refunded = shipped & (r.random(n) < REFUND_SHARE)
    refunded_at = delivered_at + r.integers(1 * DAY, 14 * DAY, n)

    parts = [(paid, Event.PAID, paid_at),
             (cancel_unpaid | cancel_paid, Event.CANCELED, canceled_at),
             (shipped, Event.SHIPPED, shipped_at), (shipped, Event.DELIVERED, delivered_at),
             (refunded, Event.REFUNDED, refunded_at)]
    orders = np.concatenate([order_no[mask] for mask, _, _ in parts])
    codes = np.concatenate([np.full(int(mask.sum()), int(code), dtype=np.int16)
                            for mask, code, _ in parts])
    at = np.concatenate([times[mask] for mask, _, times in parts]).astype(np.int64)
    order = np.lexsort((at, orders))
    return orders[order], codes[order], at[order]
