"""`make bench`: one date of N order lines through the real services, as POST /runs does.

Prints one table: per stage wall time and lines/s, the peak RSS of each process, and the
ratios measured in the same run (load vs the COPY ceiling and vs row-by-row, ingestion vs
download-only, peak RSS at the small volume vs the large one), checks the marts of the
date against the retailers' own databases with the end-to-end suite's truth queries, and
writes it all as JSON under bench/results/. It runs on its own databases, ports, Redis
database and data folder, so a running development stack is not touched. Definitions:
docs/benchmarks.md.

    .venv/bin/python -m bench.run --lines 1000000 --small 100000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DAY = dt.date(2024, 3, 7)  # a Thursday: weekday factor 1.0
# The benchmarks' days are the REST retailers' (retailer5's files: bench_files.py; retailer4's
# stream: bench_stream.py).
REST_RETAILERS = ["retailer1", "retailer2", "retailer3"]
PORTS = {"RETAILER1_URL": 26001, "RETAILER2_URL": 26002, "RETAILER3_URL": 26003,
         "INGESTION_PORT": 28001, "TRANSFORMATION_PORT": 28002, "QUALITY_PORT": 28003,
         "S3_ENDPOINT_URL": 29000, "FLOWER_PORT": 25555}
from suite.environment import POSTGRES, isolated_environment  # noqa: E402

# Redis db 1: tests use 15 down to 15 - TEST_NS, the local stack 0.
ENV = {
    **isolated_environment("bench", database="retail_analytics_bench", redis_db=1,
                           s3_bucket="retail-lake-bench", retailer_database_suffix="_bench"),
    "STEP_LEASE_SECONDS": "1800", "RETAIL_DATA_DIR": str(ROOT / ".data" / "bench"),
}
for _name, _port in PORTS.items():
    ENV[_name] = f"http://127.0.0.1:{_port}" if _name.endswith("_URL") else str(_port)
os.environ.update(ENV)  # before anything reads settings

import httpx  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bench import statements  # noqa: E402
from bench.cpu import CpuSampler  # noqa: E402
from services.ingestion.settings import IngestionApiOptions  # noqa: E402
from shared.run_models import parse_run_status  # noqa: E402
from suite.settings import SuiteView  # noqa: E402


def group_peak_rss_mb(pgid: int) -> float:
    """The largest peak RSS (VmHWM) of any live process in a process group, in MB."""
    peak = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
    return round(peak / 1024, 1)


def stop_postgres(used: dict) -> None:
    """Stop the private server `use_postgres` started (its data stays under .data/bench)."""
    if used["server"] == "private":
        from bench import postgres

        postgres.stop(ROOT / ".data" / "bench")


def use_postgres(kind: str, *, statements: bool = False) -> dict:
    """Point the benchmark's databases at the machine's PostgreSQL (`shared`, the default)
    or at a private one with a production configuration (`private`, bench/postgres.py).
    Call before anything reads settings. Returns what the result files record."""
    if kind == "shared":
        return {"server": "shared", "url": POSTGRES}
    from bench import postgres

    base = postgres.start(ROOT / ".data" / "bench", statements=statements)
    for key, value in list(ENV.items()):
        if key.endswith("DATABASE_URL") and value.startswith(POSTGRES):
            ENV[key] = base + value[len(POSTGRES):]
    os.environ.update(ENV)
    return {"server": "private", "url": base, "settings": postgres.PRODUCTION_SETTINGS,
            "statements": statements}


def bench_databases() -> list[str]:
    """The benchmark's databases: the warehouse and the retailers'."""
    from sqlalchemy.engine import make_url

    s = SuiteView()
    return [make_url(s.database_url).database,
            *(make_url(getattr(s, rid).database_url).database for rid in s.retailer_ids)]


def bench_backends():
    """A function giving the pids of the PostgreSQL backends of the benchmark's databases
    (the warehouse and the retailers'): PostgreSQL's share of the CPU."""
    import psycopg2
    from sqlalchemy.engine import make_url

    names = bench_databases()
    s = SuiteView()
    conn = psycopg2.connect(make_url(s.database_url).set(database="postgres")
                            .render_as_string(hide_password=False))
    conn.autocommit = True

    def pids() -> list[int]:
        with conn.cursor() as cur:
            cur.execute("select pid from pg_stat_activity where datname = any(%s)", (names,))
            return [r[0] for r in cur.fetchall()]

    return pids


def download_only_day(retailer_ids: list[str]) -> float:
    """Seconds to page every resource of the day at every retailer side by side, as the
    ingestion workers do, keeping nothing (the same client, auth and page size)."""
    from concurrent.futures import ThreadPoolExecutor

    from bench.bench_ingestion import download_only

    started = time.perf_counter()
    with ThreadPoolExecutor(len(retailer_ids)) as pool:
        list(pool.map(lambda rid: download_only(rid, DAY.isoformat()), retailer_ids))
    return time.perf_counter() - started


def seconds_to_verdict(conn, run_id: str, posted_at: dt.datetime) -> float:
    """From `posted_at` (taken just before the POST) to the run's verdict as the database
    stamped it: precise whatever the poll's interval."""
    verdict_at = conn.execute(text("select finished_at from ops.run where run_id = :r"),
                              {"r": run_id}).scalar_one()
    return (verdict_at - posted_at).total_seconds()


def prepare(lines: int) -> int:
    """Fresh warehouse and retailer databases, and the day seeded; returns the lines."""
    from bench.bench_retailers import orders_for
    from retailers.db import init_db
    from retailers.generator import seed_dates
    from suite.dbinit import init_warehouse

    s = SuiteView()
    init_warehouse(s.database_url, drop=True)
    for rid in s.retailer_ids:
        init_db(rid, getattr(s, rid).database_url, drop=True)
    started = time.perf_counter()
    seed_dates(s.retailer_ids, DAY, DAY, settings=s,
               overrides={"orders_per_day": orders_for(lines, DAY, s.retailer.fault_rate)})
    print(f"  seeded {lines:,} lines in {time.perf_counter() - started:.1f}s", flush=True)
    return lines


def run_once(lines: int, postgres: dict | None = None) -> dict:
    """Seed, start the stack, POST /runs, wait for the verdict; stage times and RSS (and,
    when `postgres` says so, the statements the server's time went to)."""
    from shared.db import get_engine
    from suite import stack
    from suite.settings import load_stack_or_exit

    prepare(lines)
    stack_settings = load_stack_or_exit()
    stack.up(stack_settings, echo=lambda *_: None)
    try:
        names = [svc.name for svc in stack.services(stack_settings)]
        cpu = CpuSampler({n: stack.running_pid(n) or -1 for n in names},
                         backend_pids=bench_backends()).start()
        profiling = bool(postgres and postgres.get("statements"))
        if profiling:
            statements.reset(postgres["url"])
        posted_at = dt.datetime.now(dt.UTC)
        resp = httpx.post(f"http://127.0.0.1:{IngestionApiOptions().port}/runs",
                          json={"date": DAY.isoformat(), "retailers": REST_RETAILERS},
                          headers={"Authorization": f"Bearer {ENV['PIPELINE_API_TOKEN']}"},
                          timeout=30)
        resp.raise_for_status()
        run_id = resp.json()["runs"][0]["run_id"]
        while True:
            status = parse_run_status(httpx.get(
                f"http://127.0.0.1:{IngestionApiOptions().port}/runs/{run_id}",
                timeout=30).json()).status
            if status not in ("queued", "running"):
                break
            # The verdict's own timestamp ends the measure (below), so a slow poll loses no
            # precision, and its requests add little to the ingestion API's CPU.
            time.sleep(0.5)
        cpu_seconds = cpu.stop()
        profile = statements.top(postgres["url"], bench_databases()) if profiling else None
        rss = {name: group_peak_rss_mb(stack.running_pid(name) or -1) for name in names}
        download_s = download_only_day(SuiteView().retailer_ids)
    finally:
        stack.down(echo=lambda *_: None)
    with get_engine().connect() as conn:
        stages = conn.execute(text(
            "select step, extract(epoch from max(finished_at) - min(started_at)) as wall "
            "from ops.run_step where run_id = :r group by step"), {"r": run_id}).all()
        total = seconds_to_verdict(conn, run_id, posted_at)
        loaded = conn.execute(text("select count(*) from warehouse.fact_sales")).scalar_one()
        source = conn.execute(text(
            "select sum((manifest->'control_totals'->>'line_count')::bigint) from ops.manifest "
            "where run_id = :r"), {"r": run_id}).scalar_one()
    get_engine().dispose()
    truth = truth_check()
    print(f"  marts against the retailers' own databases: {truth}", flush=True)
    walls = {row.step: float(row.wall or 0) for row in stages}
    source = int(source or 0)
    if profile is not None:
        statements.report(profile, source)
    return {"statements": profile,
            "lines": int(source or 0), "loaded_lines": loaded, "status": status,
            "marts_vs_sources": truth,
            "post_to_verdict_s": round(total, 2),
            "stages": {k: {"wall_s": round(v, 2),
                           "lines_per_s": round((source or 0) / v) if v else None}
                       for k, v in walls.items()},
            "peak_rss_mb": rss,
            "download_only_s": round(download_s, 2),
            "post_to_verdict_over_download_only": round(total / download_s, 2),
            "cpu_seconds": {**cpu_seconds, "total": round(sum(cpu_seconds.values()), 1)},
            "cpu_seconds_per_million_lines": round(
                sum(cpu_seconds.values()) / max(source, 1) * 1_000_000, 1)}


def truth_check() -> str:
    """The end-to-end suite's truth queries on the benchmark's date (tests/e2e/truth.py):
    every mart they cover equals what the retailers' own databases say, to the cent.
    Returns "equal", or the first difference."""
    import psycopg2
    from sqlalchemy.engine import make_url

    from tests.e2e.truth import assert_marts_match

    def plain(url: str) -> str:
        return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    s = SuiteView()
    sources = {rid: plain(getattr(s, rid).database_url) for rid in REST_RETAILERS}
    conn = psycopg2.connect(plain(s.database_url))
    try:
        assert_marts_match(conn, sources, DAY, DAY)
        return "equal"
    except AssertionError as exc:
        return f"differs: {exc}"
    finally:
        conn.close()


def stage_benchmark(module: str, *args: str) -> dict:
    """Run a per-stage benchmark in its own process; it writes its numbers as JSON."""
    out = RESULTS / f".{module}.json"
    out.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ENV}
    proc = subprocess.run([sys.executable, "-m", f"bench.{module}", *args, "--json", str(out)],
                          cwd=ROOT, env=env, text=True, capture_output=True)
    sys.stdout.write(proc.stdout[-3000:])
    if proc.returncode != 0 or not out.exists():
        sys.stdout.write(proc.stderr[-3000:])
        return {"error": f"bench.{module} exited {proc.returncode}"}
    data = json.loads(out.read_text())
    out.unlink()
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000, help="order lines (large run)")
    parser.add_argument("--small", type=int, default=100_000, help="order lines (small run)")
    parser.add_argument("--skip-stages", action="store_true",
                        help="only the end-to-end runs, not the per-stage ratio benchmarks")
    parser.add_argument("--postgres", choices=("shared", "private"), default="shared",
                        help="the machine's PostgreSQL, or a private one configured for a "
                             "warehouse (bench/postgres.py)")
    parser.add_argument("--statements", action="store_true",
                        help="profile the server's statements (pg_stat_statements; implies "
                             "--postgres private)")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    postgres = use_postgres("private" if args.statements else args.postgres,
                            statements=args.statements)

    result: dict = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                    "postgres": postgres, "runs": {}}
    for lines in (args.small, args.lines):
        print(f"end to end, {lines:,} lines", flush=True)
        result["runs"][str(lines)] = run_once(lines, postgres)
    if not args.skip_stages:
        print("load path vs COPY ceiling vs row-by-row", flush=True)
        result["load"] = stage_benchmark("bench_load", "--lines", str(args.lines))
        print("ingestion vs download-only", flush=True)
        # bench_ingestion sizes a day per retailer: a third of each volume.
        per_retailer = [str(n // 3) for n in (args.small, args.lines)]
        result["ingestion"] = stage_benchmark("bench_ingestion", "--lines", per_retailer[0],
                                              "--rss-lines", ",".join(per_retailer))
    small, large = result["runs"][str(args.small)], result["runs"][str(args.lines)]
    result["ratios"] = ratios(small, large, result.get("load", {}), result.get("ingestion", {}))
    report(result, args.small, args.lines)
    path = RESULTS / f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{args.lines}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    stop_postgres(postgres)
    print(f"written {path.relative_to(ROOT)}")


def ratios(small: dict, large: dict, load: dict, ingestion: dict) -> dict:
    rss = {name: round(large["peak_rss_mb"][name] / small["peak_rss_mb"][name], 2)
           for name in large["peak_rss_mb"]
           if small["peak_rss_mb"].get(name) and large["peak_rss_mb"].get(name)}
    out = {"peak_rss_large_over_small": rss,
           "max_peak_rss_mb": max(large["peak_rss_mb"].values(), default=0)}
    for key in ("load_over_ceiling", "load_over_row_by_row"):
        if key in load:
            out[key] = load[key]
    if "ingestion_over_download" in ingestion:
        out["ingestion_over_download"] = ingestion["ingestion_over_download"]
        out["ingestion_partition_peak_rss_large_over_small"] = {
            rid: round(mbs[-1] / mbs[0], 2)
            for rid, mbs in ingestion.get("peak_rss_mb", {}).items() if len(mbs) > 1}
    return out


def report(result: dict, small: int, large: int) -> None:
    rows = []
    for lines in (small, large):
        run = result["runs"][str(lines)]
        rows.append(f"{lines:>10,} lines  status {run['status']}  POST /runs -> verdict "
                    f"{run['post_to_verdict_s']:.1f}s; marts vs the retailers' databases: "
                    f"{run.get('marts_vs_sources', '-')}")
        for stage in ("ingest", "transform", "quality"):
            st = run["stages"].get(stage, {})
            rate = f"{st['lines_per_s']:,}" if st.get("lines_per_s") else "-"
            rows.append(f"{'':14}{stage:<10} wall {st.get('wall_s', 0):>7.1f}s   "
                        f"{rate:>10} lines/s")
        rows.append(f"{'':14}download-only {run['download_only_s']:.1f}s, POST -> verdict / "
                    f"download-only {run['post_to_verdict_over_download_only']:.2f}x")
        cpu = ", ".join(f"{k} {v:.1f}" for k, v in run["cpu_seconds"].items())
        rows.append(f"{'':14}CPU s: {cpu}; per million lines "
                    f"{run['cpu_seconds_per_million_lines']:.1f}")
        rss = ", ".join(f"{k} {v:.0f}" for k, v in sorted(run["peak_rss_mb"].items()))
        rows.append(f"{'':14}peak RSS MB: {rss}")
    rows.append("ratios (same run):")
    for key, value in result["ratios"].items():
        rows.append(f"  {key}: {value}")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
