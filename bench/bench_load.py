"""Load benchmark: the real load path against the COPY ceiling and a row-by-row baseline.

    .venv/bin/python -m bench.bench_load --lines 1000000

Definitions (docs/benchmarks.md), all measured in one run on the same rows:
- load path: `services.transformation.load.load_partition`, from silver objects in S3 to a
  committed star schema (stores, SCD2 customers and products, fact_orders, fact_sales,
  rejected records), the marts refresh reported apart. Measured twice: the partitions one
  after another in one process, and the three retailers side by side in two worker
  processes (the deployed `TRANSFORMATION_WORKER_CONCURRENCY`). Also a reload of the same
  objects (a replay: every row compared, nothing written).
- ceiling: the same lines as fact rows (the 17 columns of fact_sales), prebuilt in memory,
  written with psycopg 3 `cursor.copy()` + `write_row` into an UNLOGGED table without
  indexes or constraints.
- row-by-row: a 20,000-line sample, each line looking up or inserting its customer,
  product and store one statement at a time, then `INSERT ... ON CONFLICT` of the fact,
  in one transaction; extrapolated to lines/s.
Medians of `--repeat` runs (default 3). The benchmark uses its own database
(`retail_analytics_bench_load`) and its own S3 server (moto on a free port), so a developer's
stack is never touched.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import itertools
import json
import os
import random
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
BENCH_DAY = dt.date(2024, 3, 6)
RETAILERS = ("retailer1", "retailer2", "retailer3")
CURRENCY = {"retailer1": "USD", "retailer2": "USD", "retailer3": "EUR"}
CATEGORIES = ("apparel", "footwear", "outdoor", "home", "toys", "books", "garden", "sports")
DB_NAME = "retail_analytics_bench_load"


def bench_environment(s3_port: int) -> dict[str, str]:
    from suite.environment import isolated_environment

    return isolated_environment("bench", database=DB_NAME, s3_port=s3_port,
                                s3_bucket="retail-lake-bench-load")


@contextmanager
def bench_stack() -> Iterator[None]:
    """A moto S3 server on a free port and a fresh benchmark database."""
    from suite.processes import ManagedProcess, free_port

    port = free_port()
    os.environ.update(bench_environment(port))
    s3 = ManagedProcess("bench-load-s3", ["moto_server", "-H", "127.0.0.1", "-p", str(port)],
                        port=port, log_dir=ROOT / ".data" / "bench-logs")
    from suite.dbinit import init_warehouse

    init_warehouse(os.environ["DATABASE_URL"], drop=True)
    s3.start().wait_healthy(30)
    try:
        yield
    finally:
        s3.stop()


# --- the day's data --------------------------------------------------------------------

def cents(c: int) -> str:
    return f"{c // 100}.{c % 100:02d}"


@dataclass
class Day:
    """One retailer's day, generated as canonical JSON lines (and fact rows for the ceiling)."""

    retailer_id: str
    lines: int
    seed: int
    objects: dict[str, list[bytes]] = field(default_factory=dict)
    fact_rows: list[tuple] = field(default_factory=list)

    def generate(self, duplicate_share: float = 0.005) -> None:
        rid, cur = self.retailer_id, CURRENCY[self.retailer_id]
        rnd = random.Random(self.seed)
        n_products = max(50, self.lines // 50)
        n_customers = max(100, self.lines // 10)
        since = "2024-01-01T00:00:00Z"
        stores = [{"retailer_id": rid, "store_id": f"S{i}", "store_name": f"Store {i}",
                   "channel": "store" if i % 3 else "web", "city": "Springfield",
                   "region": "IL", "country": "US"} for i in range(1, 21)]
        prices = [rnd.randint(199, 19999) for _ in range(n_products)]
        products = [{"retailer_id": rid, "product_id": f"P{i}", "product_name": f"Product {i}",
                     "category": CATEGORIES[i % len(CATEGORIES)], "list_price": cents(p),
                     "currency": cur, "valid_from": since} for i, p in enumerate(prices)]
        customers = [{"retailer_id": rid, "customer_id": f"C{i}", "email": f"c{i}@example.com",
                      "full_name": f"Customer {i}", "city": "Springfield", "region": "IL",
                      "country": "US", "valid_from": since} for i in range(n_customers)]
        orders, lines, events = [], [], []
        day0 = dt.datetime.combine(BENCH_DAY, dt.time(), dt.UTC)
        n, order_no = 0, 0
        while n < self.lines:
            order_no += 1
            oid = f"{rid[-1]}-{order_no:08d}"
            created = day0 + dt.timedelta(seconds=rnd.randrange(20 * 3600))
            created_s = created.strftime("%Y-%m-%dT%H:%M:%SZ")
            total = 0
            for ln in range(1, min(rnd.randint(1, 5), self.lines - n) + 1):
                p = rnd.randrange(n_products)
                qty = rnd.randint(1, 4)
                line_total = prices[p] * qty
                total += line_total
                lines.append({"retailer_id": rid, "order_id": oid, "line_number": ln,
                              "product_id": f"P{p}", "created_at": created_s, "quantity": qty,
                              "unit_price": cents(prices[p]), "discount": "0.00",
                              "line_total": cents(line_total), "currency": cur})
                # the same line as the fact row the ceiling writes (keys stand in for lookups)
                self.fact_rows.append((1, oid, ln, BENCH_DAY, 20240306, created_s, order_no,
                                       p + 1, 1 + order_no % 20, qty, cents(prices[p]), "0.00",
                                       cents(line_total), cur, cents(line_total),
                                       "00000000-0000-0000-0000-000000000001", created_s))
                n += 1
            orders.append({"retailer_id": rid, "order_id": oid,
                           "customer_id": f"C{rnd.randrange(n_customers)}",
                           "store_id": f"S{rnd.randint(1, 20)}", "created_at": created_s,
                           "status": "created", "currency": cur, "order_total": cents(total)})
            moment = created
            for kind in ("paid", "shipped", "delivered"):
                if rnd.random() > 0.7:
                    break
                moment += dt.timedelta(minutes=rnd.randint(5, 90))
                events.append({"retailer_id": rid, "order_id": oid, "event_type": kind,
                               "occurred_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ")})
                orders[-1]["status"] = kind
        lines += rnd.sample(lines, int(len(lines) * duplicate_share))   # served twice
        self.objects = {"stores": _parts("stores", stores),
                        "customers": _parts("customers", customers),
                        "products": _parts("products", products),
                        "orders": _parts("orders", orders),
                        "order_lines": _parts("order_lines", lines),
                        "order_events": _parts("order_events", events)}


def _parts(entity: str, records: list[dict],
           per_part: int = 250_000) -> list[tuple[int, bytes]]:
    """Silver Parquet parts, as ingestion writes them: (records, bytes) of each."""
    from shared import silver

    chunks = (records[i:i + per_part] for i in range(0, len(records), per_part))
    return [(len(chunk), silver.parquet_bytes(entity, chunk)) for chunk in chunks]


def land(day: Day, engine, s3, bucket: str) -> str:
    """Write the day's silver objects and manifest, in a run of its own (as ingestion)."""
    from sqlalchemy import text

    from shared import ops
    from shared.s3 import manifest_key, part_key

    with engine.begin() as conn:
        run_id = ops.create_run(conn, BENCH_DAY, [day.retailer_id], requested_by="bench")
    objects = []
    for entity, parts in day.objects.items():
        for i, (records, body) in enumerate(parts):
            key = part_key("silver", day.retailer_id, BENCH_DAY, run_id, i, entity)
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            objects.append({"kind": "silver", "entity": entity, "key": key,
                            "records": records, "bytes": len(body),
                            "sha256": hashlib.sha256(body).hexdigest()})
    manifest = {"version": 1, "run_id": run_id, "retailer_id": day.retailer_id,
                "run_date": BENCH_DAY.isoformat(), "objects": objects, "counts": {},
                "control_totals": {"currency": CURRENCY[day.retailer_id]}}
    key = manifest_key(day.retailer_id, BENCH_DAY, run_id)
    s3.put_object(Bucket=bucket, Key=key, Body=orjson.dumps(manifest))
    with engine.begin() as conn:
        conn.execute(text("insert into ops.manifest (run_id, retailer_id, run_date, "
                          "manifest_key, manifest) values (:r, :ret, :d, :k, cast(:m as jsonb))"),
                     {"r": run_id, "ret": day.retailer_id, "d": BENCH_DAY, "k": key,
                      "m": orjson.dumps(manifest).decode()})
        conn.execute(text("update ops.run_step set status = 'succeeded' "
                          "where run_id = :r and step = 'ingest'"), {"r": run_id})
        conn.execute(text("update ops.run set status = 'succeeded' where run_id = :r"),
                     {"r": run_id})
    return run_id


# --- the three measurements -------------------------------------------------------------

def reset_warehouse(engine) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        tables = conn.execute(text(
            "select format('%I.%I', schemaname, tablename) from pg_tables "
            "where schemaname in ('warehouse', 'marts') "
            "and tablename not in ('dim_date', 'dim_retailer', 'fx_rate')")).scalars().all()
        conn.execute(text(f"truncate {', '.join(tables)} restart identity"))
        conn.execute(text("update ops.run set status = 'succeeded' "
                          "where status in ('queued', 'running')"))
        conn.execute(text("checkpoint"))


def replay_run(engine, retailers: tuple[str, ...]) -> str:
    from services.transformation.replay import replay_date

    return replay_date(BENCH_DAY, list(retailers), engine=engine, send=False)


def _load_one(args: tuple[str, str]) -> dict[str, Any]:
    """One partition's load, as a worker process runs it (spawned: its own engine)."""
    from services.transformation.load import load_partition

    run_id, retailer_id = args
    started = time.perf_counter()
    result = load_partition(run_id, retailer_id, BENCH_DAY, send=False)
    assert result.status == "succeeded", result.error
    return {"wall": time.perf_counter() - started, **result.counts}


def _warm_up(_: int) -> None:
    from sqlalchemy import text

    from services.transformation.db import get_load_engine
    from services.transformation.load import load_partition  # noqa: F401 - the imports

    with get_load_engine().connect() as conn:
        conn.execute(text("select 1"))
    time.sleep(0.5)   # so each worker of the pool takes one warm-up


@dataclass
class LoadTiming:
    wall_seconds: float          # first load started -> last load committed and handed over
    marts_seconds: float         # summed over the loads (each refreshes its own dates)
    phases: dict[str, float]

    @property
    def load_seconds(self) -> float:
        """One after another, the marts refreshes are subtracted exactly; side by side they
        overlap other loads, so they stay in (a conservative figure)."""
        return self.wall_seconds - self.marts_seconds if self.sequential else self.wall_seconds

    sequential: bool = True


def measure_load(engine, *, workers: int, reload: bool = False) -> LoadTiming:
    """Load every retailer's partition of the day; `workers` processes side by side."""
    from sqlalchemy import text

    if not reload:
        reset_warehouse(engine)
    else:
        with engine.begin() as conn:
            conn.execute(text("update ops.run set status = 'succeeded' "
                              "where status in ('queued', 'running')"))
    run_id = replay_run(engine, RETAILERS)
    jobs = [(run_id, r) for r in RETAILERS]
    started = time.perf_counter()
    if workers == 1:
        results = [_load_one(j) for j in jobs]
    else:
        with get_context("spawn").Pool(workers) as pool:
            # Workers are long-lived processes: start them (imports, a pooled connection)
            # before the clock runs.
            pool.map(_warm_up, range(workers), chunksize=1)
            started = time.perf_counter()
            results = pool.map(_load_one, jobs, chunksize=1)
    wall = time.perf_counter() - started
    phases: dict[str, float] = {}
    for r in results:
        for k, v in r["phase_seconds"].items():
            phases[k] = phases.get(k, 0.0) + v
    return LoadTiming(wall, sum(r["marts_seconds"] for r in results), phases,
                      sequential=workers == 1)


CEILING_DDL = """
create unlogged table bench_ceiling (
  retailer_key smallint, order_id text, line_number integer, order_date date,
  order_date_key integer, created_at timestamptz, customer_key bigint, product_key bigint,
  store_key integer, quantity integer, unit_price numeric(12,2), discount numeric(12,2),
  line_total numeric(12,2), currency char(3), line_total_usd numeric(14,2), run_id uuid,
  loaded_at timestamptz)
"""


def measure_ceiling(rows: list[tuple]) -> float:
    """Seconds to COPY the prebuilt fact rows into an unlogged table without indexes."""
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        conn.execute("drop table if exists bench_ceiling")
        conn.execute(CEILING_DDL)
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy("copy bench_ceiling from stdin") as copy:
            write = copy.write_row
            for row in rows:
                write(row)
        conn.commit()
        seconds = time.perf_counter() - started
        conn.execute("drop table bench_ceiling")
        conn.commit()
    return seconds


RBR_SCHEMA = """
drop schema if exists bench_rbr cascade;
create schema bench_rbr;
create table bench_rbr.dim_customer (customer_key bigint generated always as identity
  primary key, retailer_id text not null, customer_id text not null,
  unique (retailer_id, customer_id));
create table bench_rbr.dim_product (product_key bigint generated always as identity
  primary key, retailer_id text not null, product_id text not null, list_price numeric(12,2),
  unique (retailer_id, product_id));
create table bench_rbr.dim_store (store_key integer generated always as identity primary key,
  retailer_id text not null, store_id text not null, unique (retailer_id, store_id));
create table bench_rbr.fact_sales (like warehouse.fact_sales including defaults
  including constraints including indexes);
"""


def measure_row_by_row(lines: list[dict], orders: dict[str, dict]) -> float:
    """Seconds for the sample, one statement at a time, in one transaction."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        conn.execute(RBR_SCHEMA)
        conn.commit()
        started = time.perf_counter()
        cur = conn.cursor()

        def member(table: str, id_col: str, key_col: str, rid: str, value: str) -> int:
            names = {"t": sql.Identifier("bench_rbr", table), "id": sql.Identifier(id_col),
                     "key": sql.Identifier(key_col)}
            row = cur.execute(sql.SQL("select {key} from {t} where retailer_id = %s "
                                      "and {id} = %s").format(**names), (rid, value)).fetchone()
            if row:
                return row[0]
            return cur.execute(sql.SQL("insert into {t} (retailer_id, {id}) values (%s, %s) "
                                       "returning {key}").format(**names),
                               (rid, value)).fetchone()[0]

        for x in lines:
            o = orders[x["order_id"]]
            rid = x["retailer_id"]
            customer_key = member("dim_customer", "customer_id", "customer_key", rid,
                                  o["customer_id"])
            product_key = member("dim_product", "product_id", "product_key", rid,
                                 x["product_id"])
            store_key = member("dim_store", "store_id", "store_key", rid, o["store_id"])
            cur.execute(
                "insert into bench_rbr.fact_sales (retailer_key, order_id, line_number, "
                "order_date, order_date_key, created_at, customer_key, product_key, store_key, "
                "quantity, unit_price, discount, line_total, currency, line_total_usd, run_id) "
                "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "on conflict (retailer_key, order_id, line_number) do update set "
                "quantity = excluded.quantity, line_total = excluded.line_total, "
                "line_total_usd = excluded.line_total_usd, run_id = excluded.run_id",
                (1, x["order_id"], x["line_number"], BENCH_DAY, 20240306, x["created_at"],
                 customer_key, product_key, store_key, x["quantity"], x["unit_price"],
                 x["discount"], x["line_total"], x["currency"], x["line_total"],
                 str(uuid.UUID(int=1))))
        conn.commit()
        seconds = time.perf_counter() - started
        conn.execute("drop schema bench_rbr cascade")
        conn.commit()
    return seconds


def sample(day: Day, n: int) -> tuple[list[dict], dict[str, dict]]:
    from shared import silver

    _, first = day.objects["order_lines"][0]
    lines = list(itertools.islice(silver.canonical_records(first, "order_lines"), n))
    wanted = {x["order_id"] for x in lines}
    orders = {}
    for _, part in day.objects["orders"]:
        for o in silver.canonical_records(part, "orders"):
            if o["order_id"] in wanted:
                orders[o["order_id"]] = o
    return lines, orders


# --- the report -------------------------------------------------------------------------

def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=300_000, help="order lines in the day")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement")
    parser.add_argument("--sample", type=int, default=20_000, help="row-by-row sample lines")
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes for the side-by-side load")
    parser.add_argument("--json", type=Path, help="also write the numbers here (bench.run)")
    args = parser.parse_args()

    with bench_stack():
        from shared.db import make_engine
        from shared.s3 import get_s3
        from shared.settings import S3Settings, current

        engine = make_engine(os.environ["DATABASE_URL"], application_name="bench-load")
        s3, bucket = get_s3(), current(S3Settings).s3_bucket
        t = time.perf_counter()
        days = [Day(r, args.lines // len(RETAILERS) + (i < args.lines % len(RETAILERS)),
                    seed=i) for i, r in enumerate(RETAILERS)]
        for d in days:
            d.generate()
            land(d, engine, s3, bucket)
        print(f"generated and landed {args.lines:,} lines in {time.perf_counter() - t:.1f}s")
        rows = [r for d in days for r in d.fact_rows]
        for d in days:
            d.fact_rows = []
        rbr_lines, rbr_orders = sample(days[0], args.sample)

        runs: dict[str, list[float]] = {k: [] for k in (
            "ceiling", "rbr", "seq", "seq_marts", "par", "reload")}
        phases: dict[str, list[float]] = {}
        for i in range(args.repeat):
            runs["ceiling"].append(measure_ceiling(rows))
            runs["rbr"].append(measure_row_by_row(rbr_lines, rbr_orders))
            seq = measure_load(engine, workers=1)
            runs["seq"].append(seq.load_seconds)
            runs["seq_marts"].append(seq.marts_seconds)
            for k, v in seq.phases.items():
                phases.setdefault(k, []).append(v)
            runs["reload"].append(measure_load(engine, workers=1, reload=True).load_seconds)
            runs["par"].append(measure_load(engine, workers=args.workers).load_seconds)
            print(f"run {i + 1}: ceiling {runs['ceiling'][-1]:.1f}s, row-by-row sample "
                  f"{runs['rbr'][-1]:.1f}s, load {runs['seq'][-1]:.1f}s "
                  f"(+{runs['seq_marts'][-1]:.1f}s marts), side by side "
                  f"{runs['par'][-1]:.1f}s, reload {runs['reload'][-1]:.1f}s")

        n = len(rows)
        rate = {k: n / median(v) for k, v in runs.items() if k not in ("rbr", "seq_marts")}
        rate["rbr"] = len(rbr_lines) / median(runs["rbr"])
        print(f"\n{n:,} order lines, 3 retailers, medians of {args.repeat} runs "
              f"(PostgreSQL {server_version(engine)}, {os.cpu_count()} cores)")
        print(f"{'path':<58}{'lines/s':>12}{'x ceiling':>11}{'x row-by-row':>14}")
        for key, label in (
                ("ceiling", "COPY write_row into UNLOGGED, no indexes (ceiling)"),
                ("rbr", f"row-by-row INSERT ON CONFLICT ({len(rbr_lines):,}-line sample)"),
                ("seq", "load path, partitions one after another (1 worker)"),
                ("par", f"load path, 3 retailers side by side ({args.workers} workers)"),
                ("reload", "reload of the same objects (replay, 1 worker)")):
            print(f"{label:<58}{rate[key]:>12,.0f}{rate[key] / rate['ceiling']:>11.2f}"
                  f"{rate[key] / rate['rbr']:>14.1f}")
        print(f"marts refresh after the load (1 worker): {median(runs['seq_marts']):.2f}s, "
              f"not in its time; side by side the refreshes are included")
        print("load phases (1 worker, medians, s): " + ", ".join(
            f"{k} {median(v):.2f}" for k, v in phases.items()))
        if args.json:
            args.json.write_text(json.dumps({
                "lines": n, "repeat": args.repeat, "lines_per_s": {k: round(v) for k, v in
                                                                  rate.items()},
                "load_over_ceiling": round(rate["seq"] / rate["ceiling"], 3),
                "load_over_row_by_row": round(rate["seq"] / rate["rbr"], 1),
                "side_by_side_over_ceiling": round(rate["par"] / rate["ceiling"], 3),
                "side_by_side_over_row_by_row": round(rate["par"] / rate["rbr"], 1),
                "marts_seconds": round(median(runs["seq_marts"]), 2),
                "phase_seconds": {k: round(median(v), 2) for k, v in phases.items()},
            }, indent=2) + "\n")


def server_version(engine) -> str:
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(text("show server_version")).scalar_one().split()[0]


if __name__ == "__main__":
    main()
