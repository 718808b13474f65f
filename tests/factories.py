"""Test data factories: canonical silver records, and partitions written as ingestion would.

Records follow `shared/canonical.py` (`ENTITIES`): strings for keys, canonical UTC
timestamps, two-place money strings. `write_partition` lands one retailer's day exactly as
docs/contracts.md describes: gzipped JSON-lines silver objects (split into parts), a
rejected object, the manifest in S3 (written last) and in `ops.manifest`, inside an
`ops.run` whose ingest step has succeeded and whose transform step is queued.

    run_id = new_run(engine, day)
    data = generate_day("retailer1", day, orders=50)
    write_partition(s3, engine, data, run_id=run_id)
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson
from sqlalchemy import text

from shared import ops, silver
from shared.canonical import ENTITIES, utc_iso
from shared.s3 import manifest_key, part_key
from shared.settings import RETAILER_IDS, S3Settings, current

CENT = Decimal("0.01")
CURRENCY = {"retailer1": "USD", "retailer2": "USD", "retailer3": "EUR", "retailer5": "GBP"}
CATEGORIES = ("apparel", "footwear", "outdoor", "home", "toys", "books")


def money(value: Decimal | float | int | str) -> str:
    return str(Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP))


def ts(value: dt.datetime) -> str:
    return utc_iso(value)


def at(day: dt.date, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    """An instant on a UTC day."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=dt.UTC)


# --- one canonical record of each entity ------------------------------------------------

def store(retailer_id: str, store_id: str, **over: Any) -> dict[str, Any]:
    return {"retailer_id": retailer_id, "store_id": store_id, "store_name": f"Store {store_id}",
            "channel": "store", "city": "Springfield", "region": "IL", "country": "US", **over}


def customer(retailer_id: str, customer_id: str, valid_from: dt.datetime,
             **over: Any) -> dict[str, Any]:
    return {"retailer_id": retailer_id, "customer_id": customer_id,
            "email": f"c{customer_id}@example.com", "full_name": f"Customer {customer_id}",
            "city": "Springfield", "region": "IL", "country": "US", "valid_from": ts(valid_from),
            **over}


def product(retailer_id: str, product_id: str, valid_from: dt.datetime,
            list_price: str | Decimal = "10.00", **over: Any) -> dict[str, Any]:
    return {"retailer_id": retailer_id, "product_id": product_id,
            "product_name": f"Product {product_id}", "category": "apparel",
            "list_price": money(list_price), "currency": CURRENCY.get(retailer_id, "USD"),
            "valid_from": ts(valid_from), **over}


def order(retailer_id: str, order_id: str, customer_id: str, store_id: str,
          created_at: dt.datetime, order_total: str | Decimal = "0.00",
          status: str = "created", **over: Any) -> dict[str, Any]:
    return {"retailer_id": retailer_id, "order_id": order_id, "customer_id": customer_id,
            "store_id": store_id, "created_at": ts(created_at), "status": status,
            "currency": CURRENCY.get(retailer_id, "USD"), "order_total": money(order_total),
            **over}


def line(retailer_id: str, order_id: str, line_number: int, product_id: str,
         created_at: dt.datetime, quantity: int = 1, unit_price: str | Decimal = "10.00",
         discount: str | Decimal = "0.00", line_total: str | Decimal | None = None,
         **over: Any) -> dict[str, Any]:
    total = (Decimal(str(unit_price)) * quantity - Decimal(str(discount))
             if line_total is None else Decimal(str(line_total)))
    return {"retailer_id": retailer_id, "order_id": order_id, "line_number": line_number,
            "product_id": product_id, "created_at": ts(created_at), "quantity": quantity,
            "unit_price": money(unit_price), "discount": money(discount),
            "line_total": money(total), "currency": CURRENCY.get(retailer_id, "USD"), **over}


def event(retailer_id: str, order_id: str, event_type: str,
          occurred_at: dt.datetime) -> dict[str, Any]:
    return {"retailer_id": retailer_id, "order_id": order_id, "event_type": event_type,
            "occurred_at": ts(occurred_at)}


def rejected(entity: str, reason: str, record: dict[str, Any], *, record_key: str | None = None,
             amount: str | None = None, currency: str | None = "USD", detail: str = "",
             field: str | None = None) -> dict[str, Any]:
    return {"entity": entity, "reason": reason, "detail": detail, "field": field,
            "record_key": record_key, "amount": amount, "currency": currency, "record": record}


@dataclass
class PartitionData:
    """One retailer's day of canonical records (what ingestion writes to silver)."""

    retailer_id: str
    run_date: dt.date
    stores: list[dict[str, Any]] = field(default_factory=list)
    customers: list[dict[str, Any]] = field(default_factory=list)
    products: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    order_lines: list[dict[str, Any]] = field(default_factory=list)
    order_events: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def records(self, entity: str) -> list[dict[str, Any]]:
        return getattr(self, entity)

    def add_order(self, order_rec: dict[str, Any], lines: Sequence[dict[str, Any]]) -> None:
        """Add an order with its lines; its total becomes the sum of the line totals."""
        total = sum((Decimal(x["line_total"]) for x in lines), Decimal(0))
        self.orders.append({**order_rec, "order_total": money(total)})
        self.order_lines.extend(lines)


def generate_day(retailer_id: str, day: dt.date, *, orders: int = 50, products: int = 20,
                 customers: int = 30, stores: int = 3, seed: int = 1,
                 with_events: bool = True) -> PartitionData:
    """A realistic day: every store, the whole catalog, the customers who ordered, orders
    with 1-4 lines, and the lifecycle events that happened on the day itself."""
    rnd = random.Random(f"{retailer_id}:{day}:{seed}")
    since = at(day - dt.timedelta(days=30))
    data = PartitionData(retailer_id, day)
    data.stores = [store(retailer_id, f"S{i}", channel=("store", "web")[i % 2])
                   for i in range(1, stores + 1)]
    data.products = [product(retailer_id, f"P{i}", since, money(rnd.randint(100, 9999) / 100),
                             category=CATEGORIES[i % len(CATEGORIES)])
                     for i in range(1, products + 1)]
    prices = {p["product_id"]: Decimal(p["list_price"]) for p in data.products}
    buyers: set[str] = set()
    end_of_day = at(day + dt.timedelta(days=1))
    for n in range(1, orders + 1):
        created = at(day) + dt.timedelta(seconds=rnd.randrange(86400))
        cust = f"C{rnd.randint(1, customers)}"
        buyers.add(cust)
        oid = f"{retailer_id[-1]}-{day:%Y%m%d}-{n:05d}"
        lines = []
        for ln in range(1, rnd.randint(1, 4) + 1):
            pid = f"P{rnd.randint(1, products)}"
            qty = rnd.randint(1, 3)
            disc = money(rnd.choice((0, 0, 0, 1.5)))
            lines.append(line(retailer_id, oid, ln, pid, created, qty, prices[pid], disc))
        data.add_order(order(retailer_id, oid, cust, f"S{rnd.randint(1, stores)}", created),
                       lines)
        if with_events:
            data.order_events.extend(_lifecycle(rnd, retailer_id, oid, created, end_of_day))
        reached = [e["event_type"] for e in data.order_events if e["order_id"] == oid]
        data.orders[-1]["status"] = max(["created", *reached], key=STATUS_RANK.__getitem__)
    data.customers = [customer(retailer_id, c, since) for c in sorted(buyers)]
    return data


STATUS_RANK = {"created": 0, "paid": 1, "shipped": 2, "delivered": 3, "canceled": 4,
               "refunded": 5}


def _lifecycle(rnd: random.Random, retailer_id: str, order_id: str, created: dt.datetime,
               end_of_day: dt.datetime) -> list[dict[str, Any]]:
    """The events of one order that happen before the end of its day."""
    if rnd.random() < 0.05:
        return [event(retailer_id, order_id, "canceled", created + dt.timedelta(seconds=30))]
    events, moment = [], created
    for kind in ("paid", "shipped", "delivered"):
        moment += dt.timedelta(minutes=rnd.randint(5, 600))
        if rnd.random() > 0.8 or moment >= end_of_day:
            return events
        events.append(event(retailer_id, order_id, kind, moment))
    refund_at = moment + dt.timedelta(minutes=5)
    if rnd.random() < 0.1 and refund_at < end_of_day:
        events.append(event(retailer_id, order_id, "refunded", refund_at))
    return events


# --- landing a partition as ingestion does ----------------------------------------------

def gz_lines(records: Iterable[dict[str, Any]]) -> bytes:
    body = b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in records)
    return gzip.compress(body, compresslevel=1)


def new_run(engine, run_date: dt.date, retailers: Sequence[str] = RETAILER_IDS, *,
            kind: str = "ingest") -> str:
    """An ops.run with all its steps (pending), as ingestion creates it."""
    with engine.begin() as conn:
        return ops.create_run(conn, run_date, list(retailers), kind=kind,
                              requested_by="tests")


def finish_run(engine, run_id: str, status: str = "succeeded") -> None:
    """End a run (what quality's verdict does), so its date may run again."""
    with engine.begin() as conn:
        ops.finish_run(conn, run_id, status)


def write_partition(s3, engine, data: PartitionData, *, run_id: str | None = None,
                    part_lines: int = 0, bucket: str | None = None,
                    duplicate_lines: int = 0, json_lines_silver: bool = False) -> str:
    """Land one partition: silver + rejected objects, then the manifest (S3 and ops).

    Args:
        run_id: the run to land it in (default: a new run of this retailer alone).
        part_lines: records per part object (0: one part per entity).
        duplicate_lines: serve the first N order lines twice (the retailers' fault).
        json_lines_silver: silver as an older lake holds it (gzipped JSON lines).
    Returns:
        The run id.
    """
    bucket = bucket or current(S3Settings).s3_bucket
    rid, day = data.retailer_id, data.run_date
    if run_id is None:
        run_id = new_run(engine, day, [rid])
    objects: list[dict[str, Any]] = []
    counts: dict[str, dict[str, int]] = {}
    rejected_by_entity: dict[str, int] = {}
    for r in data.rejected:
        rejected_by_entity[r["entity"]] = rejected_by_entity.get(r["entity"], 0) + 1
    for entity in ENTITIES:
        records = list(data.records(entity))
        if entity == "order_lines" and duplicate_lines:
            records = records + records[:duplicate_lines]
        n_rej = rejected_by_entity.get(entity, 0)
        counts[entity] = {"received": len(records) + n_rej, "normalized": len(records),
                          "rejected": n_rej}
        if not records:
            continue
        size = part_lines or len(records)
        for part, start in enumerate(range(0, len(records), size)):
            chunk = records[start:start + size]
            key = part_key("silver", rid, day, run_id, part, entity)
            if json_lines_silver:
                key = key.removesuffix(".parquet") + silver.JSON_LINES_SUFFIX
            objects.append(_put(s3, bucket, key, chunk, kind="silver", entity=entity))
    if data.rejected:
        objects.append(_put(s3, bucket, part_key("rejected", rid, day, run_id, 0),
                            data.rejected, kind="rejected", entity=None))
    lines_once = {(x["order_id"], x["line_number"]): x for x in data.order_lines}
    amount = sum((Decimal(x["line_total"]) for x in lines_once.values()), Decimal(0))
    manifest = {
        "version": 1, "run_id": run_id, "retailer_id": rid, "run_date": day.isoformat(),
        "created_at": ts(dt.datetime.now(dt.UTC)), "objects": objects, "counts": counts,
        "pages": {}, "control_totals": {"line_count": len(lines_once), "amount": money(amount),
                                        "currency": CURRENCY.get(rid, "USD"), "raw": {}},
        "rejected_amount": {}, "unknown_fields": {}, "timings": {"seconds": 0.0},
    }
    key = manifest_key(rid, day, run_id)
    s3.put_object(Bucket=bucket, Key=key, Body=orjson.dumps(manifest),
                  ContentType="application/json")
    ingest = ops.StepRef(run_id, "ingest", rid, day)
    with engine.begin() as conn:
        conn.execute(text("insert into ops.manifest (run_id, retailer_id, run_date, "
                          "manifest_key, manifest) values (:r, :ret, :d, :k, cast(:m as jsonb))"),
                     {"r": run_id, "ret": rid, "d": day, "k": key,
                      "m": orjson.dumps(manifest).decode()})
        if ops.claim_step(conn, ingest, lease_seconds=60):
            ops.complete_step(conn, ingest, {**counts, "pages": 0, "bytes": 0, "seconds": 0})
        ops.mark_queued(conn, [ops.StepRef(run_id, "transform", rid, day)])
    return run_id


def _put(s3, bucket: str, key: str, records: Sequence[dict[str, Any]], *, kind: str,
         entity: str | None) -> dict[str, Any]:
    parquet = kind == "silver" and entity and not silver.is_json_lines(key)
    body = silver.parquet_bytes(entity, records) if parquet else gz_lines(records)
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return {"kind": kind, "entity": entity, "key": key, "records": len(records),
            "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}
