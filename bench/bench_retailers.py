"""Retailers benchmark: generating a date's order lines, and paging a whole day out over HTTP.

    .venv/bin/python -m bench.bench_retailers [--lines 1000000] [--runs 3]

Definitions:
- generate: `seed_dates` for one date across the three retailers, run concurrently (one
  database each): numpy generation plus binary COPY into each retailer's own indexed tables
  (the date's partitions), committed, statistics refreshed. Master data is loaded before the
  clock starts. Reported for a new date and for re-seeding it (what `retailers seed` does
  on a date it already has), median of --runs; with the CPU seconds PostgreSQL spent, and
  the load average, since wall time on a shared machine depends on the neighbours.
- paging: one client per retailer, one request at a time like an ingestion worker, with the
  largest page size and the retailer's own auth, every page of the date's order-line
  resource parsed with orjson: retailer1 /api/v1/order-lines, retailer2 /v2/orders (lines =
  the items inside the orders), retailer3 /api/order-items. lines/s = lines received / wall
  seconds. "day" is every resource of the date (records/s). Median of --runs; the first
  run includes building each server worker's key list of the day.
The benchmark uses its own databases (`retailerN_bench_gen`), ports and secrets, so a running
stack is never touched, and drops the databases at the end unless --keep.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson

RETAILERS = ("retailer1", "retailer2", "retailer3")
BENCH_DAY = dt.date(2024, 3, 7)  # a Thursday (weekday factor 1.0)
BENCH_DB_SUFFIX = "_bench_gen"


def bench_environment(ports: dict[str, int]) -> dict[str, str]:
    from suite.environment import isolated_environment

    return {**isolated_environment("bench", retailer_ports=ports,
                                   retailer_database_suffix=BENCH_DB_SUFFIX),
            "RETAILER_MAX_PAGE_SIZE": "5000", "RETAILER_ERROR_RATE": "0",
            "RETAILER_THROTTLE_RATE": "0", "RETAILER_SLOW_RATE": "0"}


def orders_for(lines: int, day: dt.date, fault_rate: float) -> int:
    """Orders per retailer and day for about `lines` order lines across the three."""
    from retailers.generator.day import WEEKDAY_FACTOR, mean_basket

    per_order = mean_basket() * (1 + fault_rate)  # duplicated lines are stored lines too
    return max(1, round(lines / len(RETAILERS) / per_order / WEEKDAY_FACTOR[day.weekday()]))


class BackendCpu:
    """CPU seconds used by the PostgreSQL backends of the seeding connections.

    Wall time on a shared machine mostly measures the neighbours; the server CPU a date's
    COPYs cost does not. Samples `/proc/<pid>/stat` of every backend connected to the
    benchmark's databases as `retailerN-seed` (so PostgreSQL must run on this host) every
    20 ms and keeps the last reading per backend.
    """

    def __init__(self) -> None:
        self._seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BackendCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self._seen.values())

    def _run(self) -> None:
        import psycopg2

        conn = psycopg2.connect("postgresql://postgres@127.0.0.1:5432/postgres",
                                application_name="bench-cpu-sampler")
        conn.autocommit = True
        tick = os.sysconf("SC_CLK_TCK")
        try:
            with conn.cursor() as cur:
                while not self._stop.is_set():
                    cur.execute("select pid from pg_stat_activity "
                                "where application_name like 'retailer_-seed' "
                                "and datname like %s", (f"%{BENCH_DB_SUFFIX}",))
                    for (pid,) in cur.fetchall():
                        try:
                            with open(f"/proc/{pid}/stat") as f:
                                fields = f.read().rsplit(")", 1)[1].split()
                            self._seen[pid] = (int(fields[11]) + int(fields[12])) / tick
                        except (OSError, IndexError):
                            pass
                    time.sleep(0.02)
        finally:
            conn.close()


def load_average() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def measure_generation(settings, day: dt.date, orders: int, runs: int) -> dict:
    from retailers.db import init_db
    from retailers.generator import seed_dates

    urls = {rid: getattr(settings, rid).database_url for rid in RETAILERS}
    for rid in RETAILERS:
        init_db(rid, urls[rid], drop=True)
    # Master data first (once per seed): not part of a date's generation.
    t0 = time.perf_counter()
    seed_dates(RETAILERS, day - dt.timedelta(days=1), settings=settings,
               overrides={"orders_per_day": 1})
    master_seconds = time.perf_counter() - t0

    def seed() -> tuple[Any, float, str]:
        before = load_average()
        with BackendCpu() as cpu:
            report = seed_dates(RETAILERS, day, settings=settings,
                                overrides={"orders_per_day": orders})
        return report, cpu.seconds, f"{before}->{load_average()}"

    fresh = seed()
    reseeds = [seed() for _ in range(runs)]
    return {"master_seconds": master_seconds, "fresh": fresh, "reseeds": reseeds}


@contextmanager
def servers(settings, workers: int) -> Iterator[dict[str, str]]:
    from suite.processes import ROOT, VENV_BIN, ManagedProcess

    procs = []
    try:
        for rid in RETAILERS:
            url = getattr(settings, rid).url
            port = int(url.rsplit(":", 1)[1])
            procs.append(ManagedProcess(
                f"{rid}-bench", [str(VENV_BIN / "gunicorn"), "-w", str(workers), "-k", "gthread",
                                 "--threads", "4", "-b", f"127.0.0.1:{port}",
                                 f'retailers.wsgi:create_app("{rid}")'],
                port=port, health_url=f"{url}/health",
                log_dir=ROOT / ".data" / "bench-logs").start())
        for proc in procs:
            proc.wait_healthy(60)
        yield {rid: getattr(settings, rid).url for rid in RETAILERS}
    finally:
        for proc in procs:
            proc.stop()


def client_for(rid: str, url: str, settings) -> httpx.Client:
    if rid == "retailer1":
        return httpx.Client(base_url=url, timeout=120,
                            headers={"X-API-Key": settings.retailer1.api_key.get_secret_value()})
    if rid == "retailer2":
        return httpx.Client(base_url=url, timeout=120,
                            auth=(settings.retailer2.username,
                                  settings.retailer2.password.get_secret_value()))
    token = httpx.post(f"{url}/oauth/token", data={
        "grant_type": "client_credentials", "client_id": settings.retailer3.client_id,
        "client_secret": settings.retailer3.client_secret.get_secret_value()}).json()
    return httpx.Client(base_url=url, timeout=120,
                        headers={"Authorization": f"Bearer {token['access_token']}"})


def _json(client: httpx.Client, path: str, params: dict) -> dict:
    resp = client.get(path, params=params)
    resp.raise_for_status()
    return orjson.loads(resp.content)


def offset_pages(client, path, day, size, count=len) -> int:
    n, offset, total = 0, 0, None
    while total is None or offset < total:
        body = _json(client, path, {"offset": offset, "limit": size,
                                    **({"date": str(day)} if day else {})})
        total = body["total"]
        n += count(body["data"])
        offset += size
    return n


def cursor_pages(client, path, key, day, size, count=len) -> int:
    n, cursor = 0, None
    while True:
        body = _json(client, path, {"page_size": size, **({"day": str(day)} if day else {}),
                                    **({"cursor": cursor} if cursor else {})})
        n += count(body[key])
        cursor = body["next_cursor"]
        if cursor is None:
            return n


def numbered_pages(client, path, day, size) -> int:
    n, page, pages = 0, 1, None
    while pages is None or page <= pages:
        body = _json(client, path, {"page": page, "per_page": size,
                                    **({"date": str(day)} if day else {})})
        pages = body["total_pages"]
        n += len(body["items"])
        page += 1
    return n


def _items(orders: list) -> int:
    return sum(len(o["items"]) for o in orders)


def line_readers(day: dt.date, size: int) -> dict[str, Callable[[httpx.Client], int]]:
    """Per retailer: read the date's order lines, return how many lines came."""
    return {
        "retailer1": lambda c: offset_pages(c, "/api/v1/order-lines", day, size),
        "retailer2": lambda c: cursor_pages(c, "/v2/orders", "orders", day, size, _items),
        "retailer3": lambda c: numbered_pages(c, "/api/order-items", day, size),
    }


def day_readers(day: dt.date, size: int) -> dict[str, Callable[[httpx.Client], int]]:
    """Per retailer: read every resource of the date, return how many records came."""
    return {
        "retailer1": lambda c: sum(offset_pages(c, p, d, size) for p, d in (
            ("/api/v1/stores", None), ("/api/v1/products", day), ("/api/v1/customers", day),
            ("/api/v1/order-lines", day))),
        "retailer2": lambda c: len(_json(c, "/v2/channels", {})["channels"]) + sum(
            cursor_pages(c, p, k, day, size) for p, k in (
                ("/v2/catalog", "products"), ("/v2/customers", "customers"),
                ("/v2/orders", "orders"))),
        "retailer3": lambda c: sum(numbered_pages(c, p, d, size) for p, d in (
            ("/api/stores", None), ("/api/products", day), ("/api/customers", day),
            ("/api/orders", day), ("/api/order-items", day), ("/api/order-events", day))),
    }


def timed_runs(read: Callable[[], int], runs: int) -> tuple[int, list[float]]:
    seconds, count = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        count = read()
        seconds.append(time.perf_counter() - t0)
    return count, seconds


def drop_databases(settings) -> None:
    import psycopg2

    conn = psycopg2.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for rid in RETAILERS:
                name = getattr(settings, rid).database_url.rsplit("/", 1)[1]
                cur.execute(f'drop database if exists "{name}" with (force)')
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000,
                        help="order lines of the date across the three retailers")
    parser.add_argument("--runs", type=int, default=3, help="repetitions (median reported)")
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per retailer")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    args = parser.parse_args()

    from suite.processes import free_port

    os.environ.update(bench_environment({rid: free_port() for rid in RETAILERS}))
    from suite.settings import SuiteView

    settings = SuiteView()
    day = BENCH_DAY
    orders = orders_for(args.lines, day, settings.retailer.fault_rate)
    print(f"# retailers benchmark: {day}, about {args.lines:,} order lines across three "
          f"retailers ({orders:,} orders per retailer), {os.cpu_count()} CPUs")
    try:
        gen = measure_generation(settings, day, orders, args.runs)
        fresh, fresh_cpu, fresh_load = gen["fresh"]
        print(f"master data (once per seed, not counted): {gen['master_seconds']:.2f}s")
        print(f"generate a new date: {fresh.lines:,} lines, {fresh.orders:,} orders, "
              f"{sum(d.events for d in fresh.days):,} events in {fresh.seconds:.2f}s "
              f"({fresh.lines / fresh.seconds:,.0f} lines/s); PostgreSQL CPU "
              f"{fresh_cpu:.2f}s; load average {fresh_load}")
        for d in fresh.days:
            print(f"  {d.retailer_id}: {d.lines:,} lines, {d.events:,} events: numpy "
                  f"{d.generate_seconds:.2f}s, write {d.write_seconds:.2f}s")
        re_s = [r.seconds for r, _, _ in gen["reseeds"]]
        re_cpu = [c for _, c, _ in gen["reseeds"]]
        print(f"re-seed the date (replace its partitions), median of {len(re_s)}: "
              f"{statistics.median(re_s):.2f}s, PostgreSQL CPU {statistics.median(re_cpu):.2f}s "
              f"(runs: {', '.join(f'{s:.2f}' for s in re_s)}; load average "
              f"{', '.join(load for _, _, load in gen['reseeds'])})")

        with servers(settings, args.workers) as urls:
            print(f"paging over HTTP, page size {args.page_size}, {args.workers} gunicorn "
                  f"workers x 4 threads per retailer, one client at a time "
                  f"(load average {load_average()}):")
            lines = line_readers(day, args.page_size)
            whole = day_readers(day, args.page_size)
            for rid in RETAILERS:
                with client_for(rid, urls[rid], settings) as client:
                    n, secs = timed_runs(lambda c=client, r=rid: lines[r](c), args.runs)
                    m, day_secs = timed_runs(lambda c=client, r=rid: whole[r](c), args.runs)
                med = statistics.median(secs)
                print(f"  {rid}: order lines {n:,} in {med:.2f}s = {n / med:,.0f} lines/s "
                      f"(first run {secs[0]:.2f}s); whole day {m:,} records in "
                      f"{statistics.median(day_secs):.2f}s = "
                      f"{m / statistics.median(day_secs):,.0f} records/s")
    finally:
        if not args.keep:
            drop_databases(settings)


if __name__ == "__main__":
    main()
