"""File benchmark: a retailer5 sales file from the S3 inbox to the marts.

    .venv/bin/python -m bench.bench_files --lines 1000000 --rss-lines 100000

Measured in one run, on the same file (docs/benchmarks.md):
- pipeline: the real path, `ingest_file` (stream the file from S3, parse, validate,
  canonical objects, bronze copy, manifest) in a child process of its own, then
  `load_partition` (staging, dimensions, facts, marts) in another: lines/s from inbox to
  marts, each phase reported;
- ceiling: a bare COPY of the same CSV bytes (`copy ... from stdin (format csv)`, psycopg 3
  `cursor.copy()`, written in 1 MiB chunks) into an UNLOGGED table without indexes;
- peak RSS of the ingest child (its VmHWM) at each size of `--rss-lines` and
  `--lines`: streaming keeps it flat (the issue's aim: 1M lines at most 1.25x 100k).
It uses its own database and its own S3 server (the suite's, rclone, on a free port).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import time
from multiprocessing import get_context
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DB_NAME = "retail_analytics_bench_files"
BUCKET = "retail-lake-bench-files"
# Lines per order average about 3.1 (retailers/generator/day.py BASKET_P).
LINES_PER_ORDER = 3.13


def environment(s3_port: int) -> dict[str, str]:
    from suite.environment import isolated_environment

    return {**isolated_environment("bench", database=DB_NAME, s3_port=s3_port,
                                   s3_bucket=BUCKET),
            "STEP_LEASE_SECONDS": "1800"}


def sales_file(lines: int, day: dt.date) -> list:
    """The day's files of about `lines` sales lines (a plain header, LF)."""
    from retailers.retailer5.files import Quirks, day_files
    from retailers.settings import GeneratorSettings

    plain = Quirks(header=True)
    return day_files(GeneratorSettings(), day, orders_per_day=int(lines / LINES_PER_ORDER),
                     quirks={"sales": plain, "stores": plain, "products": plain})


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). `getrusage`'s ru_maxrss would not do: Linux
    carries it over from the parent through fork and exec, so a child started by the
    benchmark (which holds the generated file) would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ingest_child(run_id: str, day: str, out: Any) -> None:
    """The ingest step alone in this process: its time and its peak RSS."""
    from functools import partial

    from services.ingestion.files.step import ingest_file
    from shared import ops
    from shared.steps import run_step

    started = time.perf_counter()
    ref = ops.StepRef(run_id, "ingest", "retailer5", dt.date.fromisoformat(day))
    result = run_step(ref, partial(ingest_file), send=False)
    out.put({"status": result.status, "error": result.error,
             "seconds": time.perf_counter() - started,
             "peak_rss_mb": peak_rss_mb()})


def _load_child(run_id: str, day: str, out: Any) -> None:
    from services.transformation.load import load_partition

    started = time.perf_counter()
    result = load_partition(run_id, "retailer5", day, send=False)
    out.put({"status": result.status, "error": result.error,
             "seconds": time.perf_counter() - started, "counts": result.counts,
             "peak_rss_mb": peak_rss_mb()})


def _child(target, *args) -> dict[str, Any]:
    ctx = get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, out))
    proc.start()
    result = out.get()
    proc.join()
    if result["status"] != "succeeded":
        raise RuntimeError(f"{target.__name__}: {result}")
    return result


def copy_ceiling(body: bytes) -> float:
    """Seconds of a bare COPY of the CSV bytes into an unlogged, index-free table."""
    import psycopg

    from retailers.retailer5.files import SALES_COLUMNS

    columns = ", ".join(f"{c} text" for c in SALES_COLUMNS)
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        conn.execute("drop table if exists bench_copy_ceiling")
        conn.execute(f"create unlogged table bench_copy_ceiling ({columns})")  # noqa: S608
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(
                "copy bench_copy_ceiling from stdin (format csv, header true)") as copy:
            view = memoryview(body)
            for i in range(0, len(body), 1 << 20):
                copy.write(view[i:i + (1 << 20)])
        conn.commit()
        seconds = time.perf_counter() - started
        conn.execute("drop table bench_copy_ceiling")
    return seconds


def one_size(s3, lines: int, day: dt.date) -> dict[str, Any]:
    from retailers.retailer5.drop import drop
    from services.ingestion.files.inbox import scan
    from services.ingestion.settings import get_worker_settings
    from shared import ops
    from shared.db import get_engine

    t0 = time.perf_counter()
    files = sales_file(lines, day)
    body = next(f.body for f in files if f.name.endswith(".csv") and f.name.startswith("sales"))
    rows = body.count(b"\n") - 1
    generated = time.perf_counter() - t0
    w = get_worker_settings()
    drop(s3, w.s3_bucket, f"{w.inbox.prefix}retailer5/", files)
    engine = get_engine()
    scan(s3, w.s3_bucket, w.inbox, engine=engine, start_runs=False)
    with engine.begin() as conn:
        run_id = ops.create_run(conn, day, ["retailer5"], requested_by="bench")
    ingest = _child(_ingest_child, run_id, day.isoformat())
    load = _child(_load_child, run_id, day.isoformat())
    ceiling = copy_ceiling(body)
    total = ingest["seconds"] + load["seconds"]
    return {
        "lines": rows, "file_bytes": len(body), "generate_seconds": round(generated, 2),
        "ingest_seconds": round(ingest["seconds"], 2),
        "load_seconds": round(load["counts"]["seconds"], 2),
        "marts_seconds": round(load["counts"]["marts_seconds"], 2),
        "transform_step_seconds": round(load["seconds"], 2),
        "inbox_to_marts_seconds": round(total, 2),
        "inbox_to_marts_lines_per_s": round(rows / total),
        "copy_ceiling_seconds": round(ceiling, 2),
        "copy_ceiling_lines_per_s": round(rows / ceiling),
        "ratio_to_copy": round((rows / total) / (rows / ceiling), 4),
        "ingest_peak_rss_mb": round(ingest["peak_rss_mb"], 1),
        "load_peak_rss_mb": round(load["peak_rss_mb"], 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rss-lines", type=int, default=100_000,
                        help="a smaller file, for the peak RSS comparison (0: none)")
    args = parser.parse_args(argv)

    from suite.processes import free_port

    port = free_port()
    os.environ.update(environment(port))
    from shared.s3 import get_s3
    from shared.settings import reset_settings
    from suite.dbinit import init_warehouse
    from suite.s3server import s3_server

    reset_settings()
    init_warehouse(os.environ["DATABASE_URL"], drop=True)
    data = ROOT / ".data" / "bench-files-lake"
    import shutil

    shutil.rmtree(data, ignore_errors=True)
    from shared.settings import S3Settings, current

    s3s = current(S3Settings)
    server = s3_server("bench-files-s3", port, data, access_key=s3s.s3_access_key_id,
                       secret_key=s3s.s3_secret_access_key.get_secret_value(),
                       log_dir=ROOT / ".data" / "bench-logs")
    server.start().wait_healthy(30)
    try:
        s3 = get_s3()
        sizes = [n for n in (args.rss_lines, args.lines) if n]
        results = {}
        for i, n in enumerate(dict.fromkeys(sizes)):
            results[n] = one_size(s3, n, dt.date(2024, 3, 6) + dt.timedelta(days=i))
            print(json.dumps(results[n], indent=2))
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)
    report: dict[str, Any] = {"benchmark": "files", "runs": {str(k): v for k, v in results.items()}}
    if len(results) == 2:
        small, large = (results[n] for n in sorted(results))
        report["rss_ratio_large_to_small"] = round(
            large["ingest_peak_rss_mb"] / small["ingest_peak_rss_mb"], 3)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"files-{stamp}-{max(results)}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
