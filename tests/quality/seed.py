"""Seed warehouse and ops rows directly with SQL: a clean run of the three retailers.

Independent of ingestion and transformation: the rows are what those services would have
written for a small, fault-free day, consistent in every way the checks look at (control
totals, manifest counts, transform counts, keys, lifecycles). A test then breaks exactly
one thing with one statement and expects exactly one check to notice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.engine import Connection

from shared.settings import RETAILER_IDS

CURRENCY = {"retailer1": "USD", "retailer2": "USD", "retailer3": "EUR", "retailer5": "GBP"}
REJECTED_AMOUNT = Decimal("5.00")
DUPLICATES = 1  # lines served twice, removed at load


@dataclass
class SeededPartition:
    retailer_id: str
    retailer_key: int
    orders: list[str]
    lines: int
    amount: Decimal
    rejected_key: str


@dataclass
class SeededRun:
    run_id: str
    run_date: dt.date
    partitions: dict[str, SeededPartition] = field(default_factory=dict)

    def order(self, retailer_id: str, n: int = 0) -> str:
        return self.partitions[retailer_id].orders[n]


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def create_run(conn: Connection, run_date: dt.date, *, retailers=RETAILER_IDS,
               status: str = "running", created_at: dt.datetime | None = None,
               kind: str = "ingest") -> str:
    """An ops.run with succeeded ingest/transform steps and a queued quality step."""
    run_id = str(uuid.uuid4())
    conn.execute(
        text("insert into ops.run (run_id, run_date, kind, status, retailers, created_at, "
             "started_at, finished_at) values (:r, :d, :k, :s, :rs, coalesce(:c, now()), "
             "coalesce(:c, now()), case when :s in ('queued', 'running') then null "
             "else coalesce(:c, now()) end)"),
        {"r": run_id, "d": run_date, "k": kind, "s": status, "rs": list(retailers),
         "c": created_at},
    )
    steps = [("ingest", r) for r in retailers] + [("transform", r) for r in retailers]
    conn.execute(
        text("insert into ops.run_step (run_id, step, retailer_id, run_date, status, attempts, "
             "finished_at) values (:r, :s, :ret, :d, 'succeeded', 1, now())"),
        [{"r": run_id, "s": s, "ret": r, "d": run_date} for s, r in steps],
    )
    conn.execute(
        text("insert into ops.run_step (run_id, step, retailer_id, run_date, status, queued_at) "
             "values (:r, 'quality', '*', :d, 'queued', now())"),
        {"r": run_id, "d": run_date},
    )
    return run_id


def _dims(conn: Connection, retailer_id: str) -> tuple[list[int], list[int], list[tuple]]:
    """Two stores, three customers, three products (idempotent across dates)."""
    stores = [conn.execute(
        text("insert into warehouse.dim_store (retailer_id, store_id, store_name, channel, "
             "city, region, country) values (:r, :s, :n, 'store', 'Springfield', 'IL', 'US') "
             "on conflict (retailer_id, store_id) do update set store_name = excluded.store_name "
             "returning store_key"),
        {"r": retailer_id, "s": f"S{i}", "n": f"Store {i}"},
    ).scalar_one() for i in (1, 2)]
    customers = [conn.execute(
        text("insert into warehouse.dim_customer (retailer_id, customer_id, email, full_name, "
             "city, region, country, valid_from) values (:r, :c, :e, :n, 'Springfield', 'IL', "
             "'US', '2020-01-01T00:00:00Z') "
             "on conflict (retailer_id, customer_id, valid_from) "
             "do update set email = excluded.email returning customer_key"),
        {"r": retailer_id, "c": f"C{i}", "e": f"c{i}@example.com", "n": f"Customer {i}"},
    ).scalar_one() for i in (1, 2, 3)]
    products = []
    for i in (1, 2, 3):
        price = Decimal(10 + i) + Decimal("0.99")
        key = conn.execute(
            text("insert into warehouse.dim_product (retailer_id, product_id, product_name, "
                 "category, list_price, currency, valid_from) values (:r, :p, :n, 'Outdoor', "
                 ":price, :cur, '2020-01-01T00:00:00Z') "
                 "on conflict (retailer_id, product_id, valid_from) "
                 "do update set list_price = excluded.list_price returning product_key"),
            {"r": retailer_id, "p": f"P{i}", "n": f"Product {i}", "price": price,
             "cur": CURRENCY[retailer_id]},
        ).scalar_one()
        products.append((key, price))
    return stores, customers, products


def _rate(conn: Connection, currency: str, day: dt.date) -> Decimal:
    return conn.execute(
        text("select usd_per_unit from warehouse.fx_rate where currency = :c and rate_date = :d"),
        {"c": currency, "d": day},
    ).scalar_one()


def seed_partition(conn: Connection, run_id: str, run_date: dt.date, retailer_id: str, *,
                   orders: int = 4) -> SeededPartition:
    """Dimensions, facts, one rejected line and the manifest of one retailer's day."""
    key = conn.execute(text("select retailer_key from warehouse.dim_retailer "
                            "where retailer_id = :r"), {"r": retailer_id}).scalar_one()
    currency = CURRENCY[retailer_id]
    rate = _rate(conn, currency, run_date)
    stores, customers, products = _dims(conn, retailer_id)
    start = dt.datetime.combine(run_date, dt.time(8), tzinfo=dt.UTC)
    order_ids, lines, total = [], 0, Decimal("0.00")
    for n in range(orders):
        order_id = f"O{run_date:%Y%m%d}-{n}"
        created = start + dt.timedelta(hours=n)
        order_total = Decimal("0.00")
        line_rows = []
        for line in (1, 2):
            product_key, price = products[(n + line) % 3]
            qty = 1 + (n + line) % 3
            discount = Decimal("1.00") if line == 2 else Decimal("0.00")
            line_total = qty * price - discount
            order_total += line_total
            line_rows.append({
                "rk": key, "o": order_id, "l": line, "d": run_date,
                "dk": int(f"{run_date:%Y%m%d}"), "c": created, "ck": customers[n % 3],
                "pk": product_key, "sk": stores[n % 2], "q": qty, "p": price, "disc": discount,
                "t": line_total, "cur": currency, "run": run_id,
                "usd": (line_total * rate).quantize(Decimal("0.01"))})
        conn.execute(
            text("insert into warehouse.fact_sales (retailer_key, order_id, line_number, "
                 "order_date, order_date_key, created_at, customer_key, product_key, store_key, "
                 "quantity, unit_price, discount, line_total, currency, line_total_usd, run_id) "
                 "values (:rk, :o, :l, :d, :dk, :c, :ck, :pk, :sk, :q, :p, :disc, :t, :cur, "
                 ":usd, :run)"),
            line_rows,
        )
        conn.execute(
            text("insert into warehouse.fact_orders (retailer_key, order_id, order_date, "
                 "order_date_key, customer_key, store_key, status, created_at, paid_at, "
                 "shipped_at, delivered_at, line_count, order_total, order_total_usd, currency, "
                 "run_id) values (:rk, :o, :d, :dk, :ck, :sk, 'delivered', :c, "
                 ":c + interval '10 minutes', :c + interval '1 day', :c + interval '3 days', 2, "
                 ":t, :usd, :cur, :run)"),
            {"rk": key, "o": order_id, "d": run_date, "dk": int(f"{run_date:%Y%m%d}"),
             "ck": customers[n % 3], "sk": stores[n % 2], "c": created, "t": order_total,
             "usd": (order_total * rate).quantize(Decimal("0.01")), "cur": currency,
             "run": run_id},
        )
        order_ids.append(order_id)
        lines += 2
        total += order_total
    # The first order's third line came with a negative quantity: rejected, but counted in
    # the retailer's control totals.
    rejected_key = f"{order_ids[0]}:3"
    conn.execute(
        text("insert into ops.rejected_record (run_id, retailer_id, run_date, entity, reason, "
             "detail, record_key, amount, currency, payload) values (:r, :ret, :d, "
             "'order_lines', 'negative_quantity', 'qty=-1', :k, :a, :cur, '{}'::jsonb)"),
        {"r": run_id, "ret": retailer_id, "d": run_date, "k": rejected_key,
         "a": REJECTED_AMOUNT, "cur": currency},
    )
    manifest = {
        "version": 1, "run_id": run_id, "retailer_id": retailer_id,
        "run_date": run_date.isoformat(),
        "objects": [
            {"kind": "silver", "entity": "order_lines", "key": "silver/ol",
             "records": lines + DUPLICATES},
            {"kind": "silver", "entity": "orders", "key": "silver/o", "records": orders},
            {"kind": "silver", "entity": "customers", "key": "silver/c", "records": 3},
            {"kind": "silver", "entity": "products", "key": "silver/p", "records": 3},
            {"kind": "silver", "entity": "stores", "key": "silver/s", "records": 2},
            {"kind": "rejected", "entity": None, "key": "rejected/x", "records": 1},
        ],
        "counts": {
            "order_lines": {"received": lines + DUPLICATES + 1,
                            "normalized": lines + DUPLICATES, "rejected": 1},
            "orders": {"received": orders, "normalized": orders, "rejected": 0},
            "customers": {"received": 3, "normalized": 3, "rejected": 0},
            "products": {"received": 3, "normalized": 3, "rejected": 0},
            "stores": {"received": 2, "normalized": 2, "rejected": 0},
        },
        "control_totals": {"line_count": lines + 1, "amount": str(total + REJECTED_AMOUNT),
                           "currency": currency},
        "rejected_amount": {"order_lines": str(REJECTED_AMOUNT)},
        "unknown_fields": {},
    }
    conn.execute(
        text("insert into ops.manifest (run_id, retailer_id, run_date, manifest_key, manifest) "
             "values (:r, :ret, :d, :k, cast(:m as jsonb))"),
        {"r": run_id, "ret": retailer_id, "d": run_date, "k": f"manifests/{retailer_id}",
         "m": _json(manifest)},
    )
    conn.execute(
        text("update ops.run_step set counts = cast(:c as jsonb) "
             "where run_id = :r and step = 'transform' and retailer_id = :ret"),
        {"r": run_id, "ret": retailer_id,
         "c": _json({"fact_sales": {"inserted": lines, "updated": 0, "unchanged": 0},
                     "staged": {"order_lines": {"records": lines + DUPLICATES,
                                                "duplicates": DUPLICATES}}})},
    )
    return SeededPartition(retailer_id, key, order_ids, lines, total, rejected_key)


def seed_run(conn: Connection, run_date: dt.date, *, retailers=RETAILER_IDS,
             orders: int | dict[str, int] = 4, status: str = "running",
             created_at: dt.datetime | None = None) -> SeededRun:
    """A clean run of `retailers` for `run_date`, waiting for its quality step.

    `orders` is the number of orders (two lines each) per retailer, or one per retailer.
    """
    run_id = create_run(conn, run_date, retailers=retailers, status=status,
                        created_at=created_at)
    run = SeededRun(run_id, run_date)
    for retailer_id in retailers:
        n = orders[retailer_id] if isinstance(orders, dict) else orders
        run.partitions[retailer_id] = seed_partition(conn, run_id, run_date, retailer_id,
                                                     orders=n)
    return run


def seed_history(conn: Connection, retailer_id: str, day: dt.date, lines: int) -> None:
    """`lines` order lines on `day` (facts only), for volume baselines."""
    conn.execute(
        text("""
            insert into warehouse.fact_sales (retailer_key, order_id, line_number, order_date,
              order_date_key, created_at, quantity, unit_price, discount, line_total, currency,
              line_total_usd, run_id)
            select r.retailer_key, 'H' || to_char(cast(:d as date), 'YYYYMMDD') || '-' || g, 1,
                   :d, cast(to_char(cast(:d as date), 'YYYYMMDD') as int), cast(:d as date),
                   1, 10, 0, 10, r.currency, 10, gen_random_uuid()
            from warehouse.dim_retailer r, generate_series(1, :n) g
            where r.retailer_id = :ret
        """),
        {"d": day, "n": lines, "ret": retailer_id},
    )
