"""One day of orders for one retailer: how many, when, who, where, what, at which price,
and what happens to each order afterwards. Vectorized with numpy; no Python loop per row."""

from __future__ import annotations

import datetime as dt

import numpy as np

from retailers.generator.calendar import (
    LINE_SLOTS,
    ORDER_BLOCK,
    Stream,
    day_index,
    day_start,
    pg_day,
    rng,
)
from retailers.generator.faults import LineFaults, duplicate_slot, late_days, unknown_products
from retailers.generator.frames import DayData, Events, Lines, Orders
from retailers.generator.lifecycle import lifecycle_events
from retailers.generator.master import MasterData, shelf_price

# Monday first: weekends sell more, early week less (mean 1.0).
WEEKDAY_FACTOR = (0.92, 0.90, 0.95, 1.00, 1.08, 1.15, 1.00)
# Orders by local hour: quiet at night, a lunch bump, the evening peak.
LOCAL_HOUR_WEIGHT = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.5, 0.8, 1.0, 1.1, 1.2,
                              1.3, 1.3, 1.2, 1.2, 1.3, 1.5, 1.7, 1.9, 2.0, 1.7, 1.1, 0.6])
# Lines per order, 1-8, mean about 3.1.
BASKET_P = np.array([0.25, 0.22, 0.18, 0.13, 0.09, 0.06, 0.04, 0.03])
QTY_P = np.array([0.72, 0.17, 0.06, 0.03, 0.02])
DISCOUNT_SHARE = 0.12
DISCOUNT_RATES = np.array([0.05, 0.10, 0.15, 0.20, 0.25, 0.30])


def mean_basket() -> float:
    """Average lines per order (before duplicates), for sizing volumes."""
    return float((np.arange(1, 9) * BASKET_P).sum())


def order_count(master: MasterData, day: dt.date, orders_per_day: int) -> int:
    """Orders on `day`: the setting, shaped by the weekday and a little day-to-day noise."""
    r = rng(master.volumes.seed, master.profile.retailer_no, Stream.ORDERS, day_index(day))
    n = round(orders_per_day * WEEKDAY_FACTOR[day.weekday()] * r.lognormal(0.0, 0.05))
    return int(min(max(n, 0), ORDER_BLOCK - 1))


def generate_day(master: MasterData, day: dt.date, orders_per_day: int) -> DayData:
    """Orders created on `day`, their lines and their whole lifecycle, faults included."""
    seed, rno = master.volumes.seed, master.profile.retailer_no
    idx = day_index(day)
    n = order_count(master, day, orders_per_day)
    r = rng(seed, rno, Stream.ORDERS, idx)
    r.lognormal(0.0, 0.05)  # the draw order_count used: keep the stream aligned

    start = day_start(day)
    hour_w = np.roll(LOCAL_HOUR_WEIGHT, -master.profile.utc_offset_hours)  # index = UTC hour
    hours = r.choice(24, n, p=hour_w / hour_w.sum())
    created = np.sort(start + hours * 3600 + r.integers(0, 3600, n)).astype(np.int64)
    order_no = idx * ORDER_BLOCK + np.arange(1, n + 1, dtype=np.int64)
    # Customers who had signed up before the day; a loyal few order again and again.
    eligible = max(int(np.searchsorted(master.customers.signup_s, start)), 1)
    loyalty = master.customers.loyalty[:eligible]
    customer = (r.choice(eligible, n, p=loyalty / loyalty.sum()) + 1).astype(np.int32)
    store = (r.choice(len(master.stores.store_no), n, p=master.stores.weight) + 1).astype(np.int32)
    n_lines = r.choice(len(BASKET_P), n, p=BASKET_P) + 1

    lines, order_totals, line_faults = _lines(master, idx, order_no, created, n_lines)
    orders = Orders(order_no, created, customer, store, order_totals)

    ev_orders, ev_codes, ev_at = lifecycle_events(rng(seed, rno, Stream.LIFECYCLE, idx),
                                                  order_no, created)
    delay = late_days(rng(seed, rno, Stream.FAULTS, idx, 1), len(ev_orders),
                      master.volumes.fault_rate)
    events = Events(ev_orders, ev_codes, ev_at, pg_day(ev_at) + delay)

    missing_email = master.customers.email_missing[np.unique(customer) - 1]
    faults = {
        "duplicate_lines": int(line_faults.duplicate.sum()),
        "missing_emails": int(missing_email.sum()),
        "negative_quantities": int(line_faults.negative_qty.sum()),
        "bad_totals": int(line_faults.bad_total.sum()),
        "unknown_skus": int(line_faults.unknown_sku.sum()),
        "late_events": int((delay > 0).sum()),
    }
    return DayData(day, orders, lines, events, faults)


def _lines(master: MasterData, idx: int, order_no: np.ndarray, created: np.ndarray,
           n_lines: np.ndarray) -> tuple[Lines, np.ndarray, LineFaults]:
    seed, rno = master.volumes.seed, master.profile.retailer_no
    r = rng(seed, rno, Stream.LINES, idx)
    total = int(n_lines.sum())
    owner = np.repeat(np.arange(len(order_no)), n_lines)
    starts = np.cumsum(n_lines) - n_lines
    line_no = (np.arange(total) - np.repeat(starts, n_lines) + 1).astype(np.int16)
    products = master.products
    product = (r.choice(len(products.product_no), total, p=products.popularity)
               + 1).astype(np.int32)
    qty = (r.choice(len(QTY_P), total, p=QTY_P) + 1).astype(np.int32)
    price = master.prices.price_at(product, created[owner])
    discounted = r.random(total) < DISCOUNT_SHARE
    discount_rate = r.choice(DISCOUNT_RATES, total)

    f = LineFaults.draw(rng(seed, rno, Stream.FAULTS, idx, 0), total, master.volumes.fault_rate)
    k = int(f.unknown_sku.sum())
    product[f.unknown_sku] = unknown_products(r, k, len(products.product_no))
    median = float(np.median(products.base_price)) / 100
    price[f.unknown_sku] = shelf_price(median * r.lognormal(0.0, 0.4, k),
                                        master.profile.price_ending)
    gross = qty.astype(np.int64) * price
    discount = np.where(discounted, np.round(gross * discount_rate), 0).astype(np.int64)
    qty[f.negative_qty] = -qty[f.negative_qty]
    line_total = qty.astype(np.int64) * price - discount
    line_total[f.bad_total] += f.total_delta[f.bad_total]
    # The order total the shop computed at checkout: its lines as it held them then,
    # before a double-posting bug duplicated any of them.
    order_totals = np.add.reduceat(line_total, starts) if total else np.zeros(0, np.int64)

    slot = line_no.astype(np.int64) - 1
    dup = f.duplicate
    pick = np.concatenate([np.arange(total), np.flatnonzero(dup)])
    slots = np.concatenate([slot, duplicate_slot(line_no[dup])])
    owner_no = order_no[owner][pick]
    lines = Lines(
        line_key=owner_no * LINE_SLOTS + slots, order_no=owner_no, line_no=line_no[pick],
        product_no=product[pick], qty=qty[pick], unit_price=price[pick],
        discount=discount[pick], line_total=line_total[pick],
    )
    return lines, order_totals.astype(np.int64), f
