"""database/init/50_marts.sql: every mart equals the answer computed here from the records.

Three retailers, two days of orders and a third day of late lifecycle events (shipments,
deliveries, refunds and cancellations of the earlier days' orders, and one event of an
order that never arrives). The expected marts are computed in Python from the canonical
records alone; counts must match exactly, money to the cent, durations to 0.01 h.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pytest

from tests.factories import PartitionData, event, generate_day
from tests.fixtures.core import truncate_pipeline_tables
from tests.fixtures.transformation import Lake

RETAILERS = ("retailer1", "retailer2", "retailer3")
D1, D2, D3 = dt.date(2024, 2, 5), dt.date(2024, 2, 6), dt.date(2024, 2, 7)
CENT, BP = Decimal("0.01"), Decimal("0.0001")


def late_events(parts: list[PartitionData], day: dt.date, seed: int = 7) -> list[PartitionData]:
    """Day 3's partitions: lifecycle events of earlier orders, reported on day 3."""
    rnd = random.Random(seed)
    out = []
    for rid in RETAILERS:
        data = PartitionData(rid, day)
        done = {(e["order_id"], e["event_type"]) for p in parts if p.retailer_id == rid
                for e in p.order_events}
        for p in (p for p in parts if p.retailer_id == rid):
            for o in p.orders:
                oid, created = o["order_id"], dt.datetime.fromisoformat(o["created_at"])
                when = dt.datetime.combine(day, dt.time(rnd.randrange(24), rnd.randrange(60)),
                                           dt.UTC)
                roll = rnd.random()
                if (oid, "canceled") in done:
                    continue
                if roll < 0.3 and (oid, "shipped") not in done:
                    data.order_events.append(event(rid, oid, "shipped", when))
                    if rnd.random() < 0.5:
                        data.order_events.append(
                            event(rid, oid, "delivered", when + dt.timedelta(minutes=50)))
                elif roll < 0.35:
                    data.order_events.append(event(rid, oid, "refunded", when))
                elif roll < 0.4 and (oid, "paid") not in done:
                    data.order_events.append(event(rid, oid, "canceled", max(when, created)))
        data.order_events.append(event(rid, "never-loaded", "paid", dt.datetime.combine(
            day, dt.time(12), dt.UTC)))
        out.append(data)
    return out


def usd(amount: str, rate: Decimal) -> Decimal:
    return (Decimal(amount) * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def share(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(BP, rounding=ROUND_HALF_UP)


def hours(values: list[float], q: float) -> Decimal | None:
    if not values:
        return None
    return Decimal(repr(float(np.percentile(values, q * 100, method="linear")))).quantize(
        CENT, rounding=ROUND_HALF_UP)


def ranks(values: dict[Any, Decimal]) -> dict[Any, int]:
    ordered = sorted(values.values(), reverse=True)
    return {k: ordered.index(v) + 1 for k, v in values.items()}


def expected_marts(parts: list[PartitionData], rates: dict[tuple[str, dt.date], Decimal]):
    """Every mart, from the canonical records (the last record of a key wins; events keep
    their earliest occurrence)."""
    orders: dict[tuple, dict] = {}
    lines: dict[tuple, dict] = {}
    events: dict[tuple, dt.datetime] = {}
    catalog: dict[tuple, dict] = {}
    for p in parts:
        for o in p.orders:
            orders[(p.retailer_id, o["order_id"])] = o
        for x in p.order_lines:
            lines[(p.retailer_id, x["order_id"], x["line_number"])] = x
        for pr in p.products:
            catalog[(p.retailer_id, pr["product_id"])] = pr
        for e in p.order_events:
            k = (p.retailer_id, e["order_id"], e["event_type"])
            when = dt.datetime.fromisoformat(e["occurred_at"])
            events[k] = min(events.get(k, when), when)

    def at(rid: str, oid: str, kind: str) -> dt.datetime | None:
        return events.get((rid, oid, kind))

    groups: dict[tuple, list] = defaultdict(list)          # (day, rid|ALL) -> orders
    line_groups: dict[tuple, list] = defaultdict(list)     # (day, rid|ALL) -> lines
    for (rid, oid), o in orders.items():
        day = dt.datetime.fromisoformat(o["created_at"]).date()
        for g in (rid, "ALL"):
            groups[(day, g)].append((rid, oid, o))
    for (rid, oid, _), x in lines.items():
        day = dt.datetime.fromisoformat(x["created_at"]).date()
        canceled = at(rid, oid, "canceled") is not None
        refunded = at(rid, oid, "refunded") is not None and not canceled
        row = dict(rid=rid, oid=oid, x=x, usd=usd(x["line_total"], rates[(x["currency"], day)]),
                   canceled=canceled, refunded=refunded,
                   product=catalog[(rid, x["product_id"])])
        for g in (rid, "ALL"):
            line_groups[(day, g)].append(row)

    marts: dict[str, dict] = {name: {} for name in (
        "daily_orders", "daily_revenue", "order_funnel", "order_cancellations",
        "fulfillment_times", "product_revenue", "category_revenue")}
    for (day, g), members in groups.items():
        ls = line_groups[(day, g)]
        n = len(members)
        marts["daily_orders"][(day, g)] = (
            n, len(ls), sum(r["x"]["quantity"] for r in ls),
            len({(rid, o["customer_id"]) for rid, _, o in members}))
        paid = sum(1 for rid, oid, _ in members if at(rid, oid, "paid"))
        shipped = sum(1 for rid, oid, _ in members if at(rid, oid, "shipped"))
        delivered = sum(1 for rid, oid, _ in members if at(rid, oid, "delivered"))
        marts["order_funnel"][(day, g)] = (n, paid, shipped, delivered, share(paid, n))
        canceled = sum(1 for rid, oid, _ in members if at(rid, oid, "canceled"))
        refunded = sum(1 for rid, oid, _ in members if at(rid, oid, "refunded"))
        either = sum(1 for rid, oid, _ in members
                     if at(rid, oid, "canceled") or at(rid, oid, "refunded"))
        marts["order_cancellations"][(day, g)] = (
            n, canceled, refunded, either, share(canceled, n), share(refunded, n),
            share(either, n))
        durations: dict[str, list[float]] = defaultdict(list)
        for rid, oid, o in members:
            created = dt.datetime.fromisoformat(o["created_at"])
            s, d = at(rid, oid, "shipped"), at(rid, oid, "delivered")
            if s:
                durations["cs"].append((s - created).total_seconds() / 3600)
            if s and d:
                durations["sd"].append((d - s).total_seconds() / 3600)
            if d:
                durations["cd"].append((d - created).total_seconds() / 3600)
        marts["fulfillment_times"][(day, g)] = (
            n, shipped, delivered, *(hours(durations[k], q) for k in ("cs", "sd", "cd")
                                     for q in (0.5, 0.9)))
        gross = sum((r["usd"] for r in ls), Decimal(0))
        canceled_usd = sum((r["usd"] for r in ls if r["canceled"]), Decimal(0))
        refunded_usd = sum((r["usd"] for r in ls if r["refunded"]), Decimal(0))
        marts["daily_revenue"][(day, g)] = (gross, canceled_usd, refunded_usd,
                                            gross - canceled_usd - refunded_usd)
        by_category: dict[str, list] = defaultdict(list)
        for r in ls:
            by_category[r["product"]["category"]].append(r)
        cat_gross = {c: sum((r["usd"] for r in rs), Decimal(0)) for c, rs in by_category.items()}
        cat_rank = ranks(cat_gross)
        for c, rs in by_category.items():
            marts["category_revenue"][(day, g, c)] = (
                len({(r["rid"], r["x"]["product_id"]) for r in rs}),
                sum(r["x"]["quantity"] for r in rs), len(rs), cat_gross[c],
                sum((r["usd"] for r in rs if not (r["canceled"] or r["refunded"])), Decimal(0)),
                share(cat_gross[c], gross), cat_rank[c])
    for day in {d for d, _ in groups}:
        per_product: dict[tuple, list] = defaultdict(list)
        for r in line_groups[(day, "ALL")]:
            per_product[(r["rid"], r["x"]["product_id"])].append(r)
        gross_of = {k: sum((r["usd"] for r in rs), Decimal(0)) for k, rs in per_product.items()}
        rank_all = ranks(gross_of)
        for rid in RETAILERS:
            rank_rid = ranks({k: v for k, v in gross_of.items() if k[0] == rid})
            for (r_id, pid), rs in per_product.items():
                if r_id != rid:
                    continue
                prod = rs[0]["product"]
                marts["product_revenue"][(day, rid, pid)] = (
                    prod["product_name"], prod["category"], sum(r["x"]["quantity"] for r in rs),
                    len(rs), gross_of[(rid, pid)],
                    sum((r["usd"] for r in rs if not (r["canceled"] or r["refunded"])),
                        Decimal(0)),
                    rank_rid[(rid, pid)], rank_all[(rid, pid)])
    return marts


MART_COLUMNS = {
    "daily_orders": ("order_date, retailer_id",
                     "orders_created, order_lines, units_sold, customers"),
    "daily_revenue": ("order_date, retailer_id",
                      "gross_revenue_usd, canceled_revenue_usd, refunded_revenue_usd, "
                      "net_revenue_usd"),
    "order_funnel": ("order_date, retailer_id",
                     "orders_created, orders_paid, orders_shipped, orders_delivered, "
                     "conversion_rate"),
    "order_cancellations": ("order_date, retailer_id",
                            "orders_created, orders_canceled, orders_refunded, "
                            "orders_canceled_or_refunded, canceled_share, refunded_share, "
                            "canceled_or_refunded_share"),
    "fulfillment_times": ("order_date, retailer_id",
                          "orders_created, orders_shipped, orders_delivered, "
                          "created_to_shipped_median_hours, created_to_shipped_p90_hours, "
                          "shipped_to_delivered_median_hours, shipped_to_delivered_p90_hours, "
                          "created_to_delivered_median_hours, created_to_delivered_p90_hours"),
    "product_revenue": ("order_date, retailer_id, product_id",
                        "product_name, category, units_sold, order_lines, gross_revenue_usd, "
                        "net_revenue_usd, revenue_rank, revenue_rank_all"),
    "category_revenue": ("order_date, retailer_id, category",
                         "products, units_sold, order_lines, gross_revenue_usd, "
                         "net_revenue_usd, revenue_share, revenue_rank"),
}


@pytest.fixture(scope="module")
def scenario(engine, s3, load_engine):
    """Loaded once for the module: every test here only reads."""
    truncate_pipeline_tables(engine)
    lake = Lake(engine, s3)
    parts = [generate_day(r, d, orders=60, products=15, customers=40, seed=s)
             for s, d in enumerate((D1, D2)) for r in RETAILERS]
    late = late_events(parts, D3)
    for day in (D1, D2, D3):
        lake.land_and_load(*[p for p in parts + late if p.run_date == day])
    rates = {(c, d): lake.scalar("select usd_per_unit from warehouse.fx_rate "
                                 "where currency = :c and rate_date = :d", c=c, d=d)
             for c in ("USD", "EUR") for d in (D1, D2)}
    return lake, expected_marts(parts + late, rates)


@pytest.mark.parametrize("mart", sorted(MART_COLUMNS))
def test_each_mart_equals_the_answer_computed_from_the_records(scenario, mart):
    lake, expected_all = scenario
    keys, values = MART_COLUMNS[mart]
    nkeys = len(keys.split(","))
    rows = lake.rows(f"select {keys}, {values} from marts.{mart}")
    got = {tuple(r[:nkeys]): tuple(r[nkeys:]) for r in rows}
    expected = expected_all[mart]
    assert set(got) == set(expected)
    for key, want in expected.items():
        have = got[key]
        if mart == "fulfillment_times":  # float percentiles: to the hundredth of an hour
            assert have[:3] == want[:3], key
            for h, w in zip(have[3:], want[3:], strict=True):
                assert (h is None and w is None) or abs(h - w) <= CENT, (key, have, want)
        else:
            assert have == want, (key, have, want)


def test_the_late_day_changed_the_earlier_days(scenario):
    # Sanity of the scenario: day 3's events moved day 1 and day 2 numbers.
    lake, three_days = scenario
    refunded = three_days["daily_revenue"][(D1, "ALL")][2]
    shipped = three_days["order_funnel"][(D1, "ALL")][2]
    assert refunded > 0 and shipped > 0
    assert lake.scalar("select count(*) from marts.daily_orders where order_date = :d",
                       d=D3) == 0
    assert lake.scalar("select count(*) from warehouse.pending_order_event") == len(RETAILERS)


def test_a_full_refresh_of_every_retailer_gives_the_same_marts(scenario):
    from services.transformation.marts import refresh_dates

    lake, _ = scenario
    tables = [f"marts.{m}" for m in sorted(MART_COLUMNS)]
    before = lake.checksum(tables)
    refresh_dates([D1, D2, D3])        # what an operator runs: all retailers at once
    assert lake.checksum(tables) == before
