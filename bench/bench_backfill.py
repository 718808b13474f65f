"""`make bench-backfill`: years of small dates backfilled into one warehouse, through the
real stack, as `POST /runs {"start", "end"}` does.

    .venv/bin/python -m bench.bench_backfill --days 1100 --lines-per-day 10000

Reports, from one run (definitions in docs/benchmarks.md):
- the fixed cost of a date: POST /runs -> verdict of a date with one order, median of three;
- the curve: each backfilled date's own time (its run's start to its verdict) against the
  number of dates already in the warehouse, and the ratio of the last 30 dates' median to the
  first 30's (a cost that does not grow with history is 1.0);
- throughput: dates per minute and lines per second from the POST to the last verdict.
Writes the numbers to bench/results/backfill-<time>-<days>x<lines>.json and the curve to
docs/img/backfill-curve.svg. Uses bench.run's databases, ports and data folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import time

from bench import run as bench_run  # sets the benchmark's environment first

ROOT = bench_run.ROOT
CURVE = ROOT / "docs" / "img" / "backfill-curve.svg"
TINY_DATES = [dt.date(2026, 11, 2), dt.date(2026, 11, 3), dt.date(2026, 11, 4)]
EDGE = 30   # dates compared at each end of the curve


def seed(start: dt.date, end: dt.date, lines_per_day: int) -> float:
    """Fresh databases; the range seeded at about `lines_per_day`, the tiny dates at one
    order per retailer. Returns the seconds it took."""
    from bench.bench_retailers import orders_for
    from retailers.db import init_db
    from retailers.generator import seed_dates
    from suite.dbinit import init_warehouse
    from suite.settings import SuiteView

    s = SuiteView()
    init_warehouse(s.database_url, drop=True)
    for rid in s.retailer_ids:
        init_db(rid, getattr(s, rid).database_url, drop=True)
    started = time.perf_counter()
    for day in TINY_DATES:
        seed_dates(s.retailer_ids, day, day, settings=s, overrides={"orders_per_day": 1})
    # A Thursday's factor is 1.0: the other days scale around it, as a real calendar does.
    orders = orders_for(lines_per_day, dt.date(2024, 3, 7), s.retailer.fault_rate)
    seed_dates(s.retailer_ids, start, end, settings=s, overrides={"orders_per_day": orders})
    return time.perf_counter() - started


def post(body: dict) -> dict:
    """POST /runs for the REST retailers, which `seed` filled."""
    import httpx

    from services.ingestion.settings import IngestionApiOptions

    resp = httpx.post(f"http://127.0.0.1:{IngestionApiOptions().port}/runs",
                      json={**body, "retailers": bench_run.REST_RETAILERS},
                      headers={"Authorization": f"Bearer {bench_run.ENV['PIPELINE_API_TOKEN']}"},
                      timeout=60)
    resp.raise_for_status()
    return resp.json()


def wait_all(run_ids: list[str], engine, timeout: float, interval: float = 0.5) -> None:
    from sqlalchemy import text

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            active = conn.execute(text(
                "select count(*) from ops.run where run_id = any(cast(:ids as uuid[])) "
                "and status in ('queued', 'running')"), {"ids": run_ids}).scalar_one()
        if not active:
            return
        time.sleep(interval)
    raise SystemExit(f"{active} runs still active after {timeout:.0f}s")


def fixed_cost(engine) -> list[float]:
    """POST -> verdict of each tiny date, one after another."""
    seconds = []
    for day in TINY_DATES:
        posted_at = dt.datetime.now(dt.UTC)
        run_id = post({"date": day.isoformat()})["runs"][0]["run_id"]
        wait_all([run_id], engine, 120, interval=0.1)
        with engine.connect() as conn:
            seconds.append(round(bench_run.seconds_to_verdict(conn, run_id, posted_at), 3))
    return seconds


def step_medians(conn, run_ids: list[str], edge: int) -> dict[str, dict[str, float]]:
    """Median seconds of each step kind over the first and the last `edge` dates to end,
    and the load's phases (`counts.phase_seconds` of the transform steps)."""
    from sqlalchemy import text

    rows = conn.execute(text("""
        with r as (select run_id, row_number() over (order by finished_at) as n,
                          count(*) over () as total
                   from ops.run where run_id = any(cast(:ids as uuid[]))),
        s as (select case when r.n <= :edge then 'first' else 'last' end as part,
                     st.step, extract(epoch from st.finished_at - st.started_at) as seconds,
                     st.counts -> 'phase_seconds' as phases
              from ops.run_step st join r using (run_id)
              where r.n <= :edge or r.n > r.total - :edge)
        select part, step, percentile_cont(0.5) within group (order by seconds) from s
        group by 1, 2
        union all
        select part, 'load: ' || p.key, percentile_cont(0.5) within group
               (order by p.value::numeric)
        from s, jsonb_each_text(s.phases) as p where s.step = 'transform' group by 1, 2
        """), {"ids": run_ids, "edge": edge}).all()
    out: dict[str, dict[str, float]] = {}
    for part, step, seconds in rows:
        out.setdefault(step, {})[part] = round(float(seconds), 3)
    return out


def last_over_first(steps: dict[str, dict[str, float]], step: str) -> float | None:
    """The last dates' median seconds of `step` over the first dates'."""
    try:
        return steps[step]["last"] / steps[step]["first"]
    except (KeyError, ZeroDivisionError):
        return None


def drift_corrected(steps: dict[str, dict[str, float]], step: str) -> float | None:
    """`last_over_first` of `step` over the ingest step's. Ingesting a date pages a fixed day
    from the retailers, which no amount of history in the warehouse changes: its own drift
    from the first dates to the last is the machine's, and dividing it out leaves what the
    history costs."""
    ratio, ingest = last_over_first(steps, step), last_over_first(steps, "ingest")
    return round(ratio / ingest, 2) if ratio and ingest else None


def rolling_median(values: list[float], window: int) -> list[float]:
    """Each value's median with the `window - 1` values before it."""
    return [statistics.median(values[max(0, i - window + 1):i + 1]) for i in range(len(values))]


def curve_svg(per_date: list[float], title: str, window: int = EDGE) -> str:
    """A line chart of per-date seconds against dates already loaded (plain SVG): each
    date in light blue, the rolling median of `window` dates in dark blue."""
    width, height, pad = 720, 320, 48
    x_max, y_max = max(len(per_date) - 1, 1), (max(per_date, default=0) or 1) * 1.1

    def x(v: float) -> float:
        return pad + (width - 2 * pad) * v / x_max

    def y(v: float) -> float:
        return height - pad - (height - 2 * pad) * v / y_max

    def polyline(values: list[float], colour: str, stroke: float) -> str:
        path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        return (f'<polyline fill="none" stroke="{colour}" stroke-width="{stroke}" '
                f'points="{path}"/>')

    ticks = "".join(
        f'<text x="{pad - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.1f}</text>'
        f'<line x1="{pad}" x2="{width - pad}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>'
        for v in (y_max * k / 4 for k in range(5)))
    step = max(1, int(round(x_max / 4, -2)) or round(x_max / 4))
    ticks += "".join(f'<text x="{x(v):.1f}" y="{height - pad + 14}" text-anchor="middle">{v}'
                     f'</text>' for v in range(0, x_max + 1, step))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'font-family="sans-serif" font-size="11">'
            f'<rect width="100%" height="100%" fill="white"/>{ticks}'
            f'{polyline(per_date, "#9ecae1", 0.8)}'
            f'{polyline(rolling_median(per_date, window), "#08519c", 1.6)}'
            f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="13">{title}</text>'
            f'<text x="{width - pad}" y="34" text-anchor="end" fill="#08519c">'
            f'median of the last {window} dates</text>'
            f'<text x="{width / 2}" y="{height - 10}" text-anchor="middle">'
            f'dates already in the warehouse</text>'
            f'<text x="14" y="{height / 2}" transform="rotate(-90 14 {height / 2})" '
            f'text-anchor="middle">seconds per date (run start to verdict)</text></svg>\n')


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=1100, help="dates in the backfill")
    parser.add_argument("--lines-per-day", type=int, default=10_000)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2023, 1, 1))
    parser.add_argument("--parallelism", type=int, default=2,
                        help="INGESTION_BACKFILL_PARALLELISM: dates in flight")
    parser.add_argument("--postgres", choices=("shared", "private"), default="shared",
                        help="the machine's PostgreSQL, or a private one configured for a "
                             "warehouse (bench/postgres.py)")
    args = parser.parse_args(argv)
    postgres = bench_run.use_postgres(args.postgres)
    end = args.start + dt.timedelta(days=args.days - 1)
    os.environ.update({"INGESTION_MAX_BACKFILL_DAYS": str(args.days),
                       "INGESTION_BACKFILL_PARALLELISM": str(args.parallelism)})

    from sqlalchemy import text

    from shared.db import get_engine
    from suite import stack
    from suite.settings import load_stack_or_exit

    print(f"seeding {args.days} dates of ~{args.lines_per_day:,} lines", flush=True)
    seed_seconds = seed(args.start, end, args.lines_per_day)
    print(f"  seeded in {seed_seconds:.0f}s", flush=True)
    stack_settings = load_stack_or_exit()
    stack.up(stack_settings, echo=lambda *_: None)
    engine = get_engine()
    try:
        tiny = fixed_cost(engine)
        print(f"fixed cost (one-order dates, POST -> verdict): {tiny}", flush=True)
        started = time.perf_counter()
        answer = post({"start": args.start.isoformat(), "end": end.isoformat()})
        run_ids = [r["run_id"] for r in answer["runs"]]
        wait_all(run_ids, engine, timeout=24 * 3600)
        wall = time.perf_counter() - started
    finally:
        stack.down(echo=lambda *_: None)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "select r.run_date, r.status, extract(epoch from r.finished_at - r.started_at), "
            "(select sum((m.manifest->'control_totals'->>'line_count')::bigint) "
            " from ops.manifest m where m.run_id = r.run_id) "
            "from ops.run r where r.run_id = any(cast(:ids as uuid[])) order by r.finished_at"),
            {"ids": run_ids}).all()
        steps = step_medians(conn, run_ids, EDGE)
    failed = [str(r[0]) for r in rows if r[1] not in ("succeeded", "succeeded_with_warnings")]
    per_date = [float(r[2]) for r in rows]
    lines = sum(int(r[3] or 0) for r in rows)
    edge = min(EDGE, len(per_date) // 2) or 1
    first, last = statistics.median(per_date[:edge]), statistics.median(per_date[-edge:])
    # The first dates are cheaper than any later one for a reason that is not history:
    # each date's late status changes restate the marts of up to three weeks before it,
    # and the first dates have fewer weeks before them. Dates edge..2*edge have a full window.
    settled = statistics.median(per_date[edge:2 * edge]) if len(per_date) >= 3 * edge else None
    ingest_drift = last_over_first(steps, "ingest")
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "days": args.days, "lines_per_day": args.lines_per_day, "lines": lines,
        "parallelism": args.parallelism, "postgres": postgres,
        "seed_seconds": round(seed_seconds, 1),
        "fixed_cost_seconds": tiny, "fixed_cost_median_s": statistics.median(tiny),
        "backfill_wall_s": round(wall, 1),
        "dates_per_minute": round(len(rows) / wall * 60, 1),
        "lines_per_s": round(lines / wall),
        f"first_{edge}_median_s": round(first, 3), f"last_{edge}_median_s": round(last, 3),
        "last_over_first": round(last / first, 2),
        f"dates_{edge}_to_{2 * edge}_median_s": settled and round(settled, 3),
        "last_over_settled": settled and round(last / settled, 2),
        "step_medians_s": steps,
        "ingest_last_over_first": ingest_drift and round(ingest_drift, 2),
        "transform_last_over_first_per_ingest": drift_corrected(steps, "transform"),
        "quality_last_over_first_per_ingest": drift_corrected(steps, "quality"),
        "failed_dates": failed,
        "per_date_s": [round(v, 3) for v in per_date],
    }
    stamp = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}"
    path = bench_run.RESULTS / f"backfill-{stamp}-{args.days}x{args.lines_per_day}.json"
    bench_run.RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    CURVE.parent.mkdir(parents=True, exist_ok=True)
    CURVE.write_text(curve_svg(per_date, f"Backfill of {args.days} dates of "
                                         f"~{args.lines_per_day:,} lines ({stamp})"))
    print(f"{len(rows)} dates, {lines:,} lines in {wall:.0f}s: "
          f"{result['dates_per_minute']} dates/min, {result['lines_per_s']:,} lines/s; "
          f"per date: first {edge} median {first:.2f}s, last {edge} {last:.2f}s "
          f"(x{result['last_over_first']}; x{result['last_over_settled']} over dates "
          f"{edge}-{2 * edge}); against the ingest step (the machine's drift: "
          f"x{result['ingest_last_over_first']}), transform "
          f"x{result['transform_last_over_first_per_ingest']}, quality "
          f"x{result['quality_last_over_first_per_ingest']}; "
          f"fixed cost {result['fixed_cost_median_s']:.2f}s; "
          f"failed dates: {len(failed)}")
    bench_run.stop_postgres(postgres)
    print(f"written {path.relative_to(ROOT)} and {CURVE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
