"""What a Prometheus scrape of the quality API costs with a long history in the ops tables.

    .venv/bin/python -m bench.bench_metrics            # 1,000 runs, then 10,000
    .venv/bin/python -m bench.bench_metrics --runs 1000

For each history size, in a database of its own (`retail_analytics_bench_metrics`):
1. seed N finished runs with set-based SQL, as the suite leaves them: per run 3 ingest and 3
   transform steps with their counts, a quality step, and a result for every check of the
   registry per retailer (26 checks: ~79 results a run), with some failed runs, failed
   checks and dead steps among them; ANALYZE, as autovacuum would;
2. start the quality API as a real uvicorn process on that database;
3. time, over HTTP, GET /metrics (the process's metrics plus the pipeline's figures read
   from the tables) and GET /livez (the same process, no figures), `--requests` times each
   after a warm-up, and report the medians and the difference: what the figures add to a
   scrape. Also the collector's own time as it reports it (`retail_ops_scrape_duration_seconds`).

The aim (issue #16): under 50 ms added with 1,000 runs. Results go to bench/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "retail_analytics_bench_metrics"
RETAILERS = ("retailer1", "retailer2", "retailer3")

SEED_RUNS = """
insert into ops.run (run_id, run_date, kind, status, retailers, requested_by, created_at,
                     started_at, finished_at)
select gen_random_uuid(), date '2024-06-01' - (i / 2), 'ingest',
       case when i % 20 = 0 then 'failed' when i % 5 = 0 then 'succeeded_with_warnings'
            else 'succeeded' end,
       array['retailer1', 'retailer2', 'retailer3'], 'bench',
       now() - make_interval(hours => i), now() - make_interval(hours => i),
       now() - make_interval(hours => i) + interval '40 seconds'
from generate_series(1, :runs) as i
"""
SEED_STEPS = """
insert into ops.run_step (run_id, step, retailer_id, run_date, status, attempts, started_at,
                          finished_at, counts)
select r.run_id, s.step, s.retailer_id, r.run_date,
       case when r.status = 'failed' and s.step = 'transform' and s.retailer_id = 'retailer2'
            then 'dead' else 'succeeded' end,
       1, r.started_at + s.offset_s * interval '1 second',
       r.started_at + (s.offset_s + 3 + random() * 10) * interval '1 second',
       case s.step
         when 'ingest' then jsonb_build_object('order_lines', jsonb_build_object(
              'received', 1200, 'normalized', 1188, 'rejected', 12), 'pages', 3,
              'bytes', 40960, 'seconds', 4.2)
         when 'transform' then jsonb_build_object('fact_sales', jsonb_build_object(
              'inserted', 1100, 'updated', 50, 'unchanged', 38), 'seconds', 3.1)
         else jsonb_build_object('pass', 75, 'warn', 3, 'fail', 1, 'error', 0) end
from ops.run r
cross join (values ('ingest', 'retailer1', 0), ('ingest', 'retailer2', 0),
                   ('ingest', 'retailer3', 0), ('transform', 'retailer1', 15),
                   ('transform', 'retailer2', 15), ('transform', 'retailer3', 15),
                   ('quality', '*', 30)) as s(step, retailer_id, offset_s)
"""
SEED_RESULTS = """
insert into quality.check_result (run_id, run_date, retailer_id, check_name, severity,
                                  status, observed, threshold, message, started_at,
                                  finished_at, duration_ms)
select r.run_id, r.run_date, k.retailer_id, d.check_name, d.severity,
       case when r.status = 'failed' and d.check_name = 'reconcile_amount' then 'fail'
            when r.status = 'succeeded_with_warnings' and d.check_name = 'rejected_share'
            then 'warn' else 'pass' end,
       0, 0, 'bench', r.finished_at, r.finished_at, 5
from ops.run r
join quality.check_definition d on true
cross join lateral (
  select unnest(case when d.scope = 'run' then array['*']
                     else array['retailer1', 'retailer2', 'retailer3'] end)) as k(retailer_id)
"""


def seed(runs: int) -> dict[str, int]:
    """A fresh database with `runs` finished runs; returns the rows per table."""
    from sqlalchemy import create_engine, text

    from services.quality.checks import REGISTRY
    from services.quality.store import sync_definitions
    from suite.dbinit import init_warehouse

    url = os.environ["DATABASE_URL"]
    init_warehouse(url, drop=True)
    engine = create_engine(url)
    with engine.begin() as conn:
        sync_definitions(conn, REGISTRY)
        conn.execute(text(SEED_RUNS), {"runs": runs})
        conn.execute(text(SEED_STEPS))
        conn.execute(text(SEED_RESULTS))
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("analyze"))
        rows = {t: conn.execute(text(f"select count(*) from {t}")).scalar_one()
                for t in ("ops.run", "ops.run_step", "quality.check_result")}
    engine.dispose()
    return rows


def median_ms(client: httpx.Client, path: str, requests: int) -> float:
    for _ in range(5):  # warm-up: connections, plans, imports
        client.get(path).raise_for_status()
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get(path).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def collector_ms(body: str) -> float:
    for line in body.splitlines():
        if line.startswith("retail_ops_scrape_duration_seconds "):
            return float(line.split()[1]) * 1000
    raise LookupError("no retail_ops_scrape_duration_seconds in /metrics")


def measure(runs: int, requests: int) -> dict[str, float | int | dict[str, int]]:
    from suite.processes import ManagedProcess, free_port

    rows = seed(runs)
    port = free_port()
    api = ManagedProcess(
        "bench-metrics-quality-api",
        ["uvicorn", "services.quality.api:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port)],
        port=port, health_url=f"http://127.0.0.1:{port}/livez",
        log_dir=ROOT / ".data" / "bench-logs")
    api.start().wait_healthy(60)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            metrics = median_ms(client, "/metrics", requests)
            livez = median_ms(client, "/livez", requests)
            body = client.get("/metrics").text
            assert "retail_ops_scrape_success 1.0" in body, "the figures could not be read"
            inner = statistics.median(collector_ms(client.get("/metrics").text)
                                      for _ in range(requests))
    finally:
        api.stop()
    return {"runs": runs, "rows": rows, "metrics_ms": round(metrics, 2),
            "livez_ms": round(livez, 2), "added_ms": round(metrics - livez, 2),
            "collector_ms": round(inner, 2), "bytes": len(body)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default="1000,10000",
                        help="history sizes, comma-separated (default 1000,10000)")
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    from suite.environment import isolated_environment

    os.environ.update(isolated_environment("bench", database=DB_NAME))
    results = [measure(int(n), args.requests) for n in args.runs.split(",")]
    for r in results:
        print(f"{r['runs']:>6} runs ({r['rows']}): GET /metrics {r['metrics_ms']} ms, "
              f"GET /livez {r['livez_ms']} ms, added {r['added_ms']} ms "
              f"(collector {r['collector_ms']} ms), {r['bytes']} bytes")
    out = ROOT / "bench" / "results" / (
        f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-metrics.json")
    out.write_text(json.dumps({"benchmark": "metrics", "requests": args.requests,
                               "results": results}, indent=2) + "\n")
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
