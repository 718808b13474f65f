"""What `retail run` calls: start runs as POST /runs does, then follow them with a progress
display until they end.

    run_dates(date=dt.date(2024, 1, 15))
    run_dates(start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 7), retailers=["retailer1"])
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from sqlalchemy import text

from services.ingestion import runs
from services.ingestion.errors import IngestionError
from services.ingestion.settings import get_runs_settings
from shared.db import transaction
from shared.ops import FINAL_RUN_STATUSES, TERMINAL_STEP_STATUSES


def run_dates(date: dt.date | None = None, start: dt.date | None = None,
              end: dt.date | None = None, retailers: Sequence[str] | None = None,
              wait: bool = True, *, poll_seconds: float = 1.0, timeout: float | None = None,
              console: Console | None = None) -> dict[str, str]:
    """Create runs for `date` or `start`..`end`, queue them, and (with `wait`) follow them.

    Args:
        date: one UTC day; or `start` and `end` (inclusive) for a backfill.
        retailers: retailer ids; all when None.
        wait: show progress until every run has a final status.
        poll_seconds: how often progress is read from ops.run_step.
        timeout: give up waiting after this many seconds (None: wait as long as it takes).
        console: where to draw (a fresh rich Console by default).
    Returns:
        run id -> status: the final statuses with `wait`, else `running`/`queued`.
    Raises:
        SystemExit(2): the request is invalid or a date already has an active run (the
            reason is printed).
    """
    console = console or Console()
    s = get_runs_settings()
    try:
        dates = runs.dates_to_run(date, start, end, max_days=s.ingestion.max_backfill_days)
        submission = runs.submit_runs(dates, retailers, requested_by="cli")
    except IngestionError as exc:
        console.print(f"[red]cannot start: {exc.detail}[/red]")
        raise SystemExit(2) from None
    for run in submission.runs:
        console.print(f"run {run.run_id} for {run.run_date}: {run.status}")
    run_ids = [r.run_id for r in submission.runs]
    if not wait:
        return {r.run_id: r.status for r in submission.runs}
    statuses = follow_runs(run_ids, poll_seconds=poll_seconds, timeout=timeout,
                           console=console, advance_backfill=submission.backfill_id is not None)
    for run_id, status in statuses.items():
        colour = "green" if status.startswith("succeeded") else "red"
        console.print(f"run {run_id}: [{colour}]{status}[/{colour}]")
    return statuses


def _read(run_ids: Sequence[str]) -> tuple[dict[str, Any], Sequence[Any]]:
    with transaction() as conn:
        run_rows = conn.execute(text(
            "select run_id, run_date, status from ops.run where run_id = any(cast(:ids as uuid[]))"
        ), {"ids": list(run_ids)}).all()
        step_rows = conn.execute(text(
            "select run_id, step, retailer_id, status, attempts, progress, counts "
            "from ops.run_step where run_id = any(cast(:ids as uuid[])) "
            "order by run_id, retailer_id"), {"ids": list(run_ids)}).all()
    return {str(r.run_id): r for r in run_rows}, step_rows


def _describe(steps: dict[str, Any]) -> str:
    """One line for a retailer's partition: where it is and how far it got."""
    ingest, transform = steps.get("ingest"), steps.get("transform")
    if ingest is not None and ingest.status not in TERMINAL_STEP_STATUSES:
        p = ingest.progress or {}
        if ingest.status == "running":
            retry = f", attempt {ingest.attempts}" if ingest.attempts > 1 else ""
            return (f"ingest: {p.get('pages', 0)} pages, {p.get('records', 0):,} records"
                    f" ({p.get('resource') or 'starting'}){retry}")
        return f"ingest: {ingest.status}"
    if ingest is not None and ingest.status != "succeeded":
        return f"ingest {ingest.status}"
    if transform is not None and transform.status not in TERMINAL_STEP_STATUSES:
        phase = (transform.progress or {}).get("phase")
        return f"transform: {phase or transform.status}"
    if transform is not None:
        lines = (ingest.counts or {}).get("order_lines", {}) if ingest is not None else {}
        return (f"transform {transform.status}; {lines.get('normalized', 0):,} lines, "
                f"{lines.get('rejected', 0):,} rejected")
    return "waiting"


def follow_runs(run_ids: Sequence[str], *, poll_seconds: float = 1.0,
                timeout: float | None = None, console: Console | None = None,
                advance_backfill: bool = False) -> dict[str, str]:
    """Draw progress for `run_ids` until each has a final status; returns their statuses.

    With `advance_backfill`, waiting dates of a backfill are started as slots free up, so a
    backfill advances even where no Celery beat runs `ingestion.advance_backfills`.
    """
    console = console or Console()
    deadline = None if timeout is None else time.monotonic() + timeout
    bars: dict[tuple[str, str], TaskID] = {}
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.fields[info]}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        overall = progress.add_task("steps", total=None, info="")
        while True:
            if advance_backfill:
                runs.advance_backfills()
            run_rows, step_rows = _read(run_ids)
            by_partition: dict[tuple[str, str], dict[str, Any]] = {}
            done = total = 0
            for row in step_rows:
                total += 1
                done += row.status in TERMINAL_STEP_STATUSES
                if row.step != "quality":
                    by_partition.setdefault((str(row.run_id), row.retailer_id), {})[row.step] = row
            progress.update(overall, total=total, completed=done,
                            info=f"{done}/{total} steps")
            for (run_id, retailer_id), steps in sorted(
                    by_partition.items(), key=lambda kv: (run_rows[kv[0][0]].run_date, kv[0][1])):
                bar = bars.get((run_id, retailer_id))
                if bar is None:
                    bar = bars[(run_id, retailer_id)] = progress.add_task(
                        f"{run_rows[run_id].run_date} {retailer_id}", total=len(steps), info="")
                finished = sum(st.status in TERMINAL_STEP_STATUSES for st in steps.values())
                progress.update(bar, completed=finished, info=_describe(steps))
            statuses = {run_id: run_rows[run_id].status for run_id in run_ids}
            if all(st in FINAL_RUN_STATUSES for st in statuses.values()):
                return statuses
            if deadline is not None and time.monotonic() > deadline:
                console.print("[yellow]stopped waiting; the runs go on[/yellow]")
                return statuses
            time.sleep(poll_seconds)
