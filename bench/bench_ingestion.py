"""Ingestion benchmark: lines/s against download-only, and the worker's peak RSS.

    .venv/bin/python -m bench.bench_ingestion --lines 100000
    .venv/bin/python -m bench.bench_ingestion --lines 100000 --rss-lines 100000,1000000

Definitions (docs/benchmarks.md):
- download-only: the same client (auth, page size, paging) fetching the same pages of the
  same day, decoding only the JSON that paging needs, normalizing and writing nothing;
- ingestion: `land_partition`, the code the worker runs: fetch, bronze, normalize, silver,
  rejected, manifest, into a real S3-compatible server;
- peak RSS: `ru_maxrss` of a child process that imports the worker's modules and lands one
  partition, for a day of each size.

The benchmark brings up its own stack so a developer's running one is never touched: a moto
S3 server and the three retailer servers on free ports, over their own databases
(`retailerN_bench_ingestion`), seeded with a day of about `--lines` order lines.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RETAILERS = ("retailer1", "retailer2", "retailer3")
BENCH_DAY = "2024-03-06"       # a Wednesday (weekday factor 0.95)
RSS_DAY = "2024-03-07"


def bench_environment(s3_port: int, retailer_ports: dict[str, int]) -> dict[str, str]:
    """The environment of the benchmark's own stack (no .env; its own ports and databases)."""
    from suite.environment import isolated_environment

    return {**isolated_environment("bench", s3_port=s3_port, s3_bucket="retail-lake-bench",
                                   retailer_ports=retailer_ports,
                                   retailer_database_suffix="_bench_ingestion"),
            # the whole catalog and customer base stay at their defaults; only orders grow
            "RETAILER_MAX_PAGE_SIZE": "5000", "INGESTION_PAGE_SIZE": "5000"}


@contextmanager
def bench_stack(retailers: list[str], fresh: bool = True):
    """S3 and the retailer servers, started here and stopped on exit; `fresh` recreates
    the retailers' benchmark databases first (their schema follows the code)."""
    from suite.processes import ManagedProcess, free_port

    s3_port = free_port()
    ports = {rid: free_port() for rid in retailers}
    os.environ.update(bench_environment(s3_port, ports))
    log_dir = ROOT / ".data" / "bench-logs"
    procs = [ManagedProcess("bench-s3", ["moto_server", "-H", "127.0.0.1", "-p", str(s3_port)],
                            port=s3_port, log_dir=log_dir)]
    for rid, port in ports.items():
        procs.append(ManagedProcess(
            f"bench-{rid}",
            ["gunicorn", "-w", "2", "-k", "gthread", "--threads", "4", "-b",
             f"127.0.0.1:{port}", f'retailers.wsgi:create_app("{rid}")'],
            health_url=f"http://127.0.0.1:{port}/health", log_dir=log_dir))
    from retailers.db import init_db

    for rid in retailers:
        init_db(rid, drop=fresh)
    try:
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.wait_healthy(60)
        yield
    finally:
        for proc in procs:
            proc.stop()


def seed(retailers: list[str], day: str, lines: int) -> dict[str, int]:
    """Seed `day` with about `lines` order lines per retailer; returns the lines written."""
    import datetime as dt

    from retailers.generator import seed_dates
    from retailers.generator.day import mean_basket

    orders = max(1, round(lines / mean_basket()))
    report = seed_dates(retailers, dt.date.fromisoformat(day), overrides={"orders_per_day": orders})
    return {d.retailer_id: d.lines for d in report.days}


def download_only(retailer_id: str, day: str) -> tuple[float, int, int]:
    """Fetch every page of the day, keeping nothing. Returns (seconds, records, bytes)."""
    import datetime as dt

    from services.ingestion.connectors import make_client

    records = nbytes = 0
    started = time.perf_counter()
    with make_client(retailer_id) as client:
        for page in client.iter_day(dt.date.fromisoformat(day)):
            records += len(page.records)
            nbytes += page.nbytes
    return time.perf_counter() - started, records, nbytes


def ingest(retailer_id: str, day: str) -> tuple[float, dict]:
    """Land the partition as the worker does. Returns (seconds, manifest)."""
    import datetime as dt

    from services.ingestion.connectors import make_client
    from services.ingestion.partition import land_partition
    from services.ingestion.settings import get_worker_settings
    from shared.s3 import get_s3

    s = get_worker_settings()
    started = time.perf_counter()
    with make_client(retailer_id) as client:
        landed = land_partition(client, get_s3(), s.s3_bucket, run_id=str(uuid.uuid4()),
                                day=dt.date.fromisoformat(day), settings=s.ingestion)
    return time.perf_counter() - started, landed.manifest


def _vm_hwm_kb() -> int:
    """This process's own peak resident set (its memory map's high-water mark)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


def child_main(retailer_id: str, day: str) -> None:
    """In a fresh process: import what the worker imports, land one partition, report."""
    import resource

    import services.ingestion.tasks  # noqa: F401 - the worker's import footprint

    seconds, manifest = ingest(retailer_id, day)
    print(json.dumps({"seconds": seconds,
                      "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      "vm_hwm_kb": _vm_hwm_kb(),
                      "lines": manifest["counts"]["order_lines"]["received"],
                      "records": sum(c["received"] for c in manifest["counts"].values())}))


def peak_rss(retailer_id: str, day: str) -> dict:
    """Run `child_main` in a child process and return what it reports.

    Linux carries a process's peak RSS into the child it forks and across exec, so a child
    forked straight from this (large) process would report our peak as its own. The child is
    therefore forked by a small shell, whose own small memory map is what it inherits.
    """
    cmd = [sys.executable, "-m", "bench.bench_ingestion", "--child", retailer_id, "--day", day]
    out = subprocess.run(["/bin/sh", "-c", '"$@"; exit $?', "sh", *cmd], cwd=ROOT,
                         env=os.environ.copy(), check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=100_000,
                        help="order lines per retailer of the throughput day")
    parser.add_argument("--retailers", default=",".join(RETAILERS))
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--rss-lines", default="100000,1000000",
                        help="day sizes for the peak-RSS measurement ('' to skip)")
    parser.add_argument("--json", type=Path, help="also write the numbers here (bench.run)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--day", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # a plain `kill` should still stop the servers this benchmark started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.child:
        child_main(args.child, args.day)
        return
    retailers = [r.strip() for r in args.retailers.split(",") if r.strip()]
    with bench_stack(retailers):
        ratios = throughput(retailers, args.lines, args.repeat)
        sizes = [int(x) for x in args.rss_lines.split(",") if x.strip()]
        rss = memory(retailers, sizes) if sizes else {}
    if args.json:
        args.json.write_text(json.dumps({
            "lines_per_retailer": args.lines, "repeat": args.repeat,
            "ingestion_over_download": ratios,
            "peak_rss_mb": {rid: [round(mb, 1) for mb in mbs] for rid, mbs in rss.items()},
            "rss_lines_per_retailer": sizes}, indent=2) + "\n")


def throughput(retailers: list[str], lines: int, repeat: int) -> dict[str, float]:
    """Ingestion next to download-only per retailer; returns each ratio."""
    ratios: dict[str, float] = {}
    seeded = seed(retailers, BENCH_DAY, lines)
    print(f"\nthroughput, {BENCH_DAY}, page size 5000, median of {repeat}")
    print(f"{'retailer':<10} {'lines':>9} {'records':>9} {'download rec/s':>15} "
          f"{'ingest rec/s':>13} {'ingest lines/s':>15} {'ratio':>6}")
    for rid in retailers:
        download_only(rid, BENCH_DAY)  # warm the retailer's caches for both measurements
        downloads, ingests = [], []
        for _ in range(repeat):  # interleaved, so drift hits both alike
            downloads.append(download_only(rid, BENCH_DAY))
            ingests.append(ingest(rid, BENCH_DAY))
        records = downloads[0][1]
        d_s = statistics.median(d[0] for d in downloads)
        i_s = statistics.median(i[0] for i in ingests)
        manifest = ingests[0][1]
        n_lines = manifest["counts"]["order_lines"]["received"]
        assert manifest["reconciliation"]["line_count_matches"], manifest["reconciliation"]
        print(f"{rid:<10} {seeded[rid]:>9,} {records:>9,} {records / d_s:>15,.0f} "
              f"{records / i_s:>13,.0f} {n_lines / i_s:>15,.0f} {d_s / i_s:>6.2f}")
        ratios[rid] = round(d_s / i_s, 3)
    return ratios


def memory(retailers: list[str], sizes: list[int]) -> dict[str, list[float]]:
    """Peak RSS (MB) of one partition's ingestion per retailer, at each size."""
    print(f"\npeak RSS of one partition's ingestion in a child process ({RSS_DAY})")
    print(f"{'retailer':<10} {'lines':>10} {'records':>10} {'seconds':>8} {'peak RSS MB':>12}")
    results: dict[str, list[float]] = {}
    for size in sizes:
        seed(retailers, RSS_DAY, size)
        for rid in retailers:
            r = peak_rss(rid, RSS_DAY)
            results.setdefault(rid, []).append(r["max_rss_kb"] / 1024)
            print(f"{rid:<10} {r['lines']:>10,} {r['records']:>10,} {r['seconds']:>8.1f} "
                  f"{r['max_rss_kb'] / 1024:>12.1f}")
    if len(sizes) > 1:
        for rid, mbs in results.items():
            print(f"{rid}: peak RSS at {sizes[-1]:,} lines is {mbs[-1] / mbs[0]:.2f}x "
                  f"that at {sizes[0]:,}")
    return results


if __name__ == "__main__":
    main()
