"""`make demo`: the whole suite on one day, as a user meets it.

Brings the stack up, seeds the day at the three REST retailers, has retailer4 publish the
day's events on NATS JetStream (the stream consumer applies them as they come), drops
retailer5's files for it into the S3 inbox (`retailers drop-files`), asks for a run with
`POST /runs` (exactly as a user or scheduler would), shows progress until the verdict, then
prints what happened: per stage counts and times, the money at each source next to the
warehouse's, the verdict and the URLs to open.
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from services.ingestion.cli import follow_runs
from shared.db import get_engine
from shared.settings import KNOWN_RETAILER_IDS
from suite.settings import StackSettings

SUCCESS = ("succeeded", "succeeded_with_warnings")


def seed_day(s: StackSettings, day: dt.date, orders_per_day: int | None, console: Console) -> None:
    from retailers.generator import seed_dates

    started = time.perf_counter()
    overrides = {"orders_per_day": orders_per_day} if orders_per_day else {}
    seed_dates(list(s.retailer_ids), day, day, generator=s.generator, overrides=overrides,
               database_urls={rid: s.retailer_database_url(rid) for rid in s.retailer_ids})
    console.print(f"seeded {day} at {', '.join(s.retailer_ids)} "
                  f"in {time.perf_counter() - started:.1f}s")


def drop_files(s: StackSettings, day: dt.date, orders_per_day: int | None,
               console: Console) -> None:
    """retailer5 drops the day's CSV files into the lake's inbox. In the demo it is handed
    the stack's S3 endpoint and keys (a real partner would have keys of its own)."""
    from retailers.retailer5.drop import drop, s3_client
    from retailers.retailer5.files import day_files
    from retailers.settings import Retailer5Settings

    w = s.ingestion_worker
    own = Retailer5Settings(s3_endpoint_url=w.s3_endpoint_url, s3_bucket=w.s3_bucket,
                            s3_region=w.s3_region, s3_access_key_id=w.s3_access_key_id,
                            s3_secret_access_key=w.s3_secret_access_key,
                            inbox_prefix=f"{w.inbox.prefix}retailer5/")
    files = day_files(s.generator, day, faults=own.faults(), orders_per_day=orders_per_day)
    keys = drop(s3_client(own), own.s3_bucket, own.inbox_prefix, files)
    names = ", ".join(k.rsplit("/", 1)[1] for k in keys)
    console.print(f"dropped retailer5's files for {day}: {names}")


def publish_stream_day(s: StackSettings, day: dt.date, console: Console,
                       timeout: float = 120.0) -> None:
    """Have retailer4 publish the day's events (a replay of the date), then wait until the
    stream consumer has applied all of them (the source's control totals say how many)."""
    from services.ingestion.stream import close, reference

    r4 = s.ingestion_worker.retailer4
    started = time.perf_counter()
    sent = reference.request_replay(r4, day)
    control = reference.control_totals(r4, day)
    deadline = time.monotonic() + timeout
    got = close.delivered(get_engine(), "retailer4", day)
    while close.missing(control, got) and time.monotonic() < deadline:
        time.sleep(0.5)
        got = close.delivered(get_engine(), "retailer4", day)
    console.print(f"retailer4 published {sent['messages']:,} events of {day}; the stream "
                  f"consumer applied {got['events']:,} of {control['events']:,} in "
                  f"{time.perf_counter() - started:.1f}s")


def start_run(s: StackSettings, day: dt.date) -> str:
    """POST /runs; if the date is already running, follow that run instead."""
    resp = httpx.post(
        f"http://127.0.0.1:{s.ingestion_api.ingestion.port}/runs",
        # every retailer, whatever INGESTION_DEFAULT_RETAILERS an older .env has
        json={"date": day.isoformat(), "retailers": list(KNOWN_RETAILER_IDS)},
        headers={"Authorization":
                 f"Bearer {s.ingestion_api.pipeline_api_token.get_secret_value()}"},
        timeout=30)
    body = resp.json()
    if resp.status_code == 409:
        return str(body.get("run_id") or body.get("active_run_id"))
    resp.raise_for_status()
    runs = body.get("runs") or [body]
    return str(runs[0]["run_id"])


def _steps(run_id: str) -> tuple[str, list]:
    with get_engine().connect() as conn:
        status = conn.execute(text("select status from ops.run where run_id = :r"),
                              {"r": run_id}).scalar_one()
        steps = conn.execute(text(
            "select step, retailer_id, status, attempts, counts, progress, error, "
            "extract(epoch from finished_at - started_at) as seconds "
            "from ops.run_step where run_id = :r order by step, retailer_id"),
            {"r": run_id}).mappings().all()
    return status, list(steps)


def summary(s: StackSettings, run_id: str, day: dt.date, console: Console) -> None:
    status, steps = _steps(run_id)
    stages = Table("stage", "retailer", "status", "attempts", "seconds", "counts",
                   title="Stages")
    for st in steps:
        counts = st["counts"] or {}
        if st["step"] == "ingest" and "stream" in counts:
            shown = (f"{counts['stream']['events']:,} events from the stream, "
                     f"{counts['stream']['missing']:,} missing, "
                     f"{counts['stream']['replays']} replays")
        elif st["step"] == "ingest":
            lines = counts.get("order_lines", {})
            shown = (f"{lines.get('received', 0):,} lines in, {lines.get('normalized', 0):,} "
                     f"normalized, {lines.get('rejected', 0):,} rejected")
        elif st["step"] == "transform":
            fs = counts.get("fact_sales", {})
            shown = (f"fact_sales +{fs.get('inserted', 0):,} ~{fs.get('updated', 0):,} "
                     f"={fs.get('unchanged', 0):,}")
        else:
            shown = ", ".join(f"{k} {v}" for k, v in counts.items() if k in
                              ("pass", "warn", "fail", "error"))
        seconds = f"{st['seconds']:.1f}" if st["seconds"] is not None else "-"
        stages.add_row(st["step"], st["retailer_id"], st["status"], str(st["attempts"]),
                       seconds, shown or (st["error"] or ""))
    console.print(stages)

    money = Table("retailer", "source lines", "loaded", "rejected", "source total",
                  "loaded total", "rejected total", "", title=f"Source vs warehouse, {day}")
    with get_engine().connect() as conn:
        rows = conn.execute(text(
            "select m.retailer_id, m.manifest->'control_totals' as ct, "
            "  (select count(*) from warehouse.fact_sales f join warehouse.dim_retailer r "
            "     using (retailer_key) where r.retailer_id = m.retailer_id "
            "     and f.order_date = m.run_date) as lines, "
            "  (select coalesce(sum(f.line_total), 0) from warehouse.fact_sales f "
            "     join warehouse.dim_retailer r using (retailer_key) "
            "     where r.retailer_id = m.retailer_id and f.order_date = m.run_date) as total, "
            # A line the retailer served twice is rejected twice: count each key once.
            "  (select count(*) from (select distinct record_key from ops.rejected_record x "
            "     where x.run_id = m.run_id and x.retailer_id = m.retailer_id "
            "     and x.entity = 'order_lines') k) as rej, "
            "  (select coalesce(sum(amount), 0) from (select distinct on (record_key) amount "
            "     from ops.rejected_record x where x.run_id = m.run_id "
            "     and x.retailer_id = m.retailer_id and x.entity = 'order_lines') k) as rej_total "
            "from ops.manifest m where m.run_id = :r order by m.retailer_id"),
            {"r": run_id}).mappings().all()
    for r in rows:
        ct = r["ct"] or {}
        source_lines, source_total = int(ct.get("line_count", 0)), Decimal(str(ct.get("amount", 0)))
        ok = source_lines == r["lines"] + r["rej"] and source_total == r["total"] + r["rej_total"]
        money.add_row(r["retailer_id"], f"{source_lines:,}", f"{r['lines']:,}", f"{r['rej']:,}",
                      f"{source_total:,.2f} {ct.get('currency', '')}", f"{r['total']:,.2f}",
                      f"{r['rej_total']:,.2f}", "[green]equal[/]" if ok else "[red]differs[/]")
    console.print(money)
    colour = "green" if status in SUCCESS else "red"
    console.print(f"verdict: [bold {colour}]{status}[/]   run {run_id}")
    console.print(
        "open:\n"
        f"  quality page     http://127.0.0.1:{s.quality.quality.port}/\n"
        f"  quality health   http://127.0.0.1:{s.quality.quality.port}/health\n"
        f"  ingestion API    http://127.0.0.1:{s.ingestion_api.ingestion.port}/docs   "
        f"(GET /runs/{run_id})\n"
        f"  replay API       http://127.0.0.1:{s.transformation.transformation.port}/docs\n"
        f"  Flower           http://127.0.0.1:{s.flower.flower_port}/\n"
        f"  warehouse        psql postgresql://bi_reader@127.0.0.1:5432/"
        f"{s.database_url.rsplit('/', 1)[1]}  (marts.*)")


def run_demo(s: StackSettings, day: dt.date | None, *, orders_per_day: int | None,
             console: Console) -> bool:
    from suite import stack

    day = day or (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1))
    console.rule("[bold]retail pipeline demo")
    started = time.perf_counter()
    for svc, state in stack.up(s, echo=console.print):
        console.print(f"  {svc.name:<22} {state:<8} {svc.url or ''}")
    seed_day(s, day, orders_per_day, console)
    publish_stream_day(s, day, console)
    # The files last, right before the POST: the inbox's own run of retailer5 waits
    # INBOX_RUN_DELAY_SECONDS, so this run takes them.
    drop_files(s, day, orders_per_day, console)
    run_id = start_run(s, day)
    console.print(f"POST /runs {{'date': '{day}', 'retailers': {list(KNOWN_RETAILER_IDS)}}} "
                  f"-> run {run_id}")
    status = follow_runs([run_id], poll_seconds=0.5, timeout=900, console=console)[run_id]
    summary(s, run_id, day, console)
    console.print(f"demo took {time.perf_counter() - started:.0f}s; the stack keeps running "
                  "(`make down` stops it)")
    return status in SUCCESS
