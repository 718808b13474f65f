"""retailer4's facts, drawn from the shared generator world: reference data and the
events of a day, in neutral terms (numbers and Python values, not the wire format).

A day of retailer4 is the orders created on that UTC date and their whole lifecycle (paid,
shipped, delivered, canceled, refunded may happen days later): `day_events(D)` is every
event of those orders, and the control totals of D count exactly those. The same seed and
date always give the same events, with the same `event_id`s.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from retailers.generator.calendar import PG_EPOCH, day_start
from retailers.generator.day import generate_day
from retailers.generator.frames import Event
from retailers.generator.master import MasterData, Volumes, build_master
from retailers.retailer4.profile import PROFILE

CURRENCY = PROFILE.currency
RETAILER_NO = PROFILE.retailer_no
EVENT_NAMESPACE = uuid.UUID("6f1c9c1e-5a4e-4c1b-9d0e-4b1d2c3e4f50")
SOURCES = {"orders": "checkout_service", "payments": "payment_service",
           "shipments": "logistics_service"}
FAMILY = {
    "order_created": "orders", "order_updated": "orders", "order_canceled": "orders",
    "payment_authorized": "payments", "payment_captured": "payments",
    "payment_failed": "payments", "payment_refunded": "payments",
    "shipment_created": "shipments", "shipment_dispatched": "shipments",
    "shipment_delivered": "shipments", "shipment_failed": "shipments",
}
EVENT_TYPES = tuple(FAMILY)
# One order in UPDATE_EVERY gets an order_updated event (its address changed).
UPDATE_EVERY = 20
# One shipped order in SHIPMENT_RETRY_EVERY has a failed first shipment.
SHIPMENT_RETRY_EVERY = 40


@dataclass(frozen=True)
class Line:
    line_number: int
    product_id: str
    quantity: int
    unit_price_cents: int
    discount_cents: int
    line_total_cents: int


@dataclass
class WorldEvent:
    """One event before it is encoded in a schema version."""

    event_id: str
    event_type: str
    order_id: str
    customer_id: str
    at: int                       # seconds since 2000-01-01 UTC (event_timestamp)
    status: str
    store_id: str | None = None
    amount_cents: int | None = None
    payment_id: str | None = None
    shipment_id: str | None = None
    lines: list[Line] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> str:
        return FAMILY[self.event_type]

    @property
    def timestamp(self) -> dt.datetime:
        return dt.datetime(2000, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=int(self.at))


def volumes(seed: int, products: int, customers: int, stores: int, fault_rate: float,
            price_change_rate: float, customer_change_rate: float) -> Volumes:
    return Volumes(seed=seed, products=products, customers=customers, stores=stores,
                   fault_rate=fault_rate, price_change_rate=price_change_rate,
                   customer_change_rate=customer_change_rate)


def master(v: Volumes) -> MasterData:
    return build_master(PROFILE, v)


def order_id(order_no: int) -> str:
    return f"QC-{order_no}"


def customer_id(customer_no: int) -> str:
    return f"CUS-{customer_no:06d}"


def product_id(product_no: int) -> str:
    return f"SKU-{product_no:05d}"


def store_id(store_no: int) -> str:
    return f"CH-{store_no:02d}"


def _event_id(order_no: int, event_type: str, seq: int = 0) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{order_no}/{event_type}/{seq}"))


def _iso(seconds: int) -> str:
    return (dt.datetime(2000, 1, 1) + dt.timedelta(seconds=int(seconds))).isoformat() + "Z"


def day_events(m: MasterData, day: dt.date, orders_per_day: int) -> list[WorldEvent]:
    """Every event of the orders created on `day`, sorted by event_timestamp.

    The generator's line faults are not part of a checkout platform's events: a line is
    sent once (no duplicate rows) and with a positive quantity; unknown SKUs stay.
    """
    data = generate_day(m, day, orders_per_day)
    lines_of: dict[int, list[Line]] = {}
    ln = data.lines
    for o, no, p, q, price, disc, total in zip(
            ln.order_no.tolist(), ln.line_no.tolist(), ln.product_no.tolist(), ln.qty.tolist(),
            ln.unit_price.tolist(), ln.discount.tolist(), ln.line_total.tolist(), strict=True):
        lines = lines_of.setdefault(o, [])
        if q <= 0 or any(x.line_number == no for x in lines):
            continue
        lines.append(Line(no, product_id(p), q, price, disc, total))
    events: list[WorldEvent] = []
    orders = data.orders
    info: dict[int, tuple[str, str, int]] = {}
    for o, created, cust, store in zip(orders.order_no.tolist(), orders.created_s.tolist(),
                                       orders.customer_no.tolist(), orders.store_no.tolist(),
                                       strict=True):
        lines = lines_of.get(o, [])
        total = sum(x.line_total_cents for x in lines)
        oid, cid, sid = order_id(o), customer_id(cust), store_id(store)
        info[o] = (oid, cid, total)
        events.append(WorldEvent(_event_id(o, "order_created"), "order_created", oid, cid,
                                 created, "created", store_id=sid, amount_cents=total,
                                 lines=lines))
        if o % UPDATE_EVERY == 0:
            events.append(WorldEvent(_event_id(o, "order_updated"), "order_updated", oid, cid,
                                     created + 90, "created", store_id=sid,
                                     amount_cents=total, lines=lines,
                                     extra={"note": "shipping address changed"}))
    ev = data.events
    paid_orders: set[int] = set()
    for o, code, at in zip(ev.order_no.tolist(), ev.event.tolist(), ev.occurred_s.tolist(),
                           strict=True):
        oid, cid, total = info[o]
        pay, ship = f"PAY-{o}", f"SHP-{o}"
        if code == Event.PAID:
            paid_orders.add(o)
            events.append(WorldEvent(_event_id(o, "payment_authorized"), "payment_authorized",
                                     oid, cid, at - 15, "authorized", amount_cents=total,
                                     payment_id=pay))
            events.append(WorldEvent(_event_id(o, "payment_captured"), "payment_captured",
                                     oid, cid, at, "captured", amount_cents=total,
                                     payment_id=pay))
        elif code == Event.SHIPPED:
            if o % SHIPMENT_RETRY_EVERY == 0:
                events.append(WorldEvent(_event_id(o, "shipment_failed"), "shipment_failed",
                                         oid, cid, at - 7200, "failed",
                                         shipment_id=f"{ship}-0",
                                         extra={"reason": "carrier_rejected"}))
            events.append(WorldEvent(_event_id(o, "shipment_created"), "shipment_created",
                                     oid, cid, at - 3600, "created", shipment_id=ship))
            events.append(WorldEvent(_event_id(o, "shipment_dispatched"),
                                     "shipment_dispatched", oid, cid, at, "dispatched",
                                     shipment_id=ship))
        elif code == Event.DELIVERED:
            events.append(WorldEvent(_event_id(o, "shipment_delivered"), "shipment_delivered",
                                     oid, cid, at, "delivered", shipment_id=ship))
        elif code == Event.CANCELED:
            events.append(WorldEvent(_event_id(o, "order_canceled"), "order_canceled", oid, cid,
                                     at, "canceled"))
        elif code == Event.REFUNDED:
            events.append(WorldEvent(_event_id(o, "payment_refunded"), "payment_refunded",
                                     oid, cid, at, "refunded", amount_cents=total,
                                     payment_id=pay))
    for o, created in zip(orders.order_no.tolist(), orders.created_s.tolist(), strict=True):
        if o not in paid_orders:
            oid, cid, total = info[o]
            events.append(WorldEvent(_event_id(o, "payment_failed"), "payment_failed", oid,
                                     cid, created + 45, "failed", amount_cents=total,
                                     payment_id=f"PAY-{o}", extra={"reason": "card_declined"}))
    events.sort(key=lambda e: (e.at, e.order_id, EVENT_TYPES.index(e.event_type)))
    return events


def control_totals(events: list[WorldEvent], day: dt.date) -> dict[str, Any]:
    """The source's own totals for a day: events per type, orders, order lines, and the
    captured and refunded amounts (what the pipeline reconciles against)."""
    per_type = {t: 0 for t in EVENT_TYPES}
    lines = orders = captured = refunded = 0
    for e in events:
        per_type[e.event_type] += 1
        if e.event_type == "order_created":
            orders += 1
            lines += len(e.lines)
        elif e.event_type == "payment_captured":
            captured += e.amount_cents or 0
        elif e.event_type == "payment_refunded":
            refunded += e.amount_cents or 0
    return {"date": day.isoformat(), "currency": CURRENCY, "events": sum(per_type.values()),
            "events_by_type": per_type, "orders": orders, "order_lines": lines,
            "line_amount": _money(sum(x.line_total_cents for e in events
                                      if e.event_type == "order_created" for x in e.lines)),
            "captured_amount": _money(captured), "refunded_amount": _money(refunded)}


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(int(cents)), 100)
    return f"{sign}{whole}.{rest:02d}"


def stores(m: MasterData) -> list[dict[str, Any]]:
    """The sales channels (web shop, app, marketplaces) as the REST API serves them."""
    s = m.stores
    return [{"channel_id": store_id(no), "name": name, "kind": kind,
             "city": PROFILE.places[p].city, "region": PROFILE.places[p].region,
             "country": PROFILE.places[p].country}
            for no, name, kind, p in zip(s.store_no.tolist(), s.name, s.kind,
                                         s.place_idx.tolist(), strict=True)]


def products(m: MasterData, as_of: dt.date) -> list[dict[str, Any]]:
    """The catalog as of the end of `as_of`: each product with its current price."""
    p, h = m.products, m.prices
    end = day_start(as_of + dt.timedelta(days=1))
    known = h.valid_from_s < end
    last: dict[int, tuple[int, int]] = {}
    for no, at, price in zip(h.product_no[known].tolist(), h.valid_from_s[known].tolist(),
                             h.price[known].tolist(), strict=True):
        last[no] = (at, price)
    out = []
    for no, name, cat, created in zip(p.product_no.tolist(), p.name, p.category,
                                      p.created_s.tolist(), strict=True):
        if created >= end or no not in last:
            continue
        at, price = last[no]
        out.append({"sku": product_id(no), "title": name, "category": cat,
                    "price": _money(price), "currency": CURRENCY, "updated_at": _iso(at)})
    return out


def customers(m: MasterData, as_of: dt.date) -> list[dict[str, Any]]:
    """Customers signed up by the end of `as_of`, with their latest attributes."""
    v = m.customer_versions()
    end = day_start(as_of + dt.timedelta(days=1))
    latest: dict[int, int] = {}
    for i, (no, at) in enumerate(zip(v.customer_no.tolist(), v.valid_from_s.tolist(),
                                     strict=True)):
        if at < end:
            latest[no] = i
    out = []
    for no, i in sorted(latest.items()):
        place = PROFILE.places[int(v.place_idx[i])]
        out.append({"customer_id": customer_id(no),
                    "name": f"{v.first_name[i]} {v.last_name[i]}", "email": v.email[i],
                    "city": place.city, "region": place.region, "country": place.country,
                    "updated_at": _iso(int(v.valid_from_s[i]))})
    return out


def as_date(seconds: int) -> dt.date:
    return PG_EPOCH + dt.timedelta(days=int(seconds) // 86_400)


__all__ = ["EVENT_TYPES", "WorldEvent", "control_totals", "customers", "day_events",
           "master", "products", "stores", "volumes"]
