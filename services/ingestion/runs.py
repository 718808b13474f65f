"""Runs: create them for a date or a backfill range, queue their ingest steps, report them.

Used by the API (POST /runs, GET /runs), the CLI (`retail run`) and the
`ingestion.advance_backfills` task.

Backfills: a range creates one run per date at once (so each date is claimed: another
request for one of them gets 409) but queues only the first INGESTION_BACKFILL_PARALLELISM;
the rest wait with status `queued`. `start_next_backfill_runs` starts waiting dates whenever
a backfill has fewer running runs than that, and is called after every POST /runs, by the
`ingestion.advance_backfills` task (scheduled by Celery beat) and by the CLI while it waits.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from services.ingestion.errors import ActiveRunConflict, InvalidRequest, RunNotFound
from services.ingestion.settings import IngestionRunsSettings, get_runs_settings
from shared import ops
from shared.db import transaction
from shared.ops import StepRef
from shared.settings import KNOWN_RETAILER_IDS, RETAILER_IDS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CreatedRun:
    run_id: str
    run_date: dt.date
    status: str  # `running` when queued now, `queued` when it waits for a backfill slot


@dataclass(frozen=True)
class Submission:
    runs: list[CreatedRun]
    backfill_id: str | None


def dates_to_run(date: dt.date | None = None, start: dt.date | None = None,
                 end: dt.date | None = None, *, max_days: int,
                 today: dt.date | None = None) -> list[dt.date]:
    """The dates a request asks for: one date, or `start`..`end` inclusive.

    Raises:
        InvalidRequest: neither or both forms, an inverted or too long range, a future date.
    """
    if date is not None and (start is not None or end is not None):
        raise InvalidRequest("give either date, or start and end, not both")
    if date is not None:
        dates = [date]
    elif start is not None and end is not None:
        if end < start:
            raise InvalidRequest(f"end {end} is before start {start}")
        span = (end - start).days + 1
        if span > max_days:
            raise InvalidRequest(f"{start}..{end} is {span} days; at most {max_days} "
                                 "(INGESTION_MAX_BACKFILL_DAYS) per request")
        dates = [start + dt.timedelta(days=i) for i in range(span)]
    else:
        raise InvalidRequest("give date, or start and end (YYYY-MM-DD)")
    today = today or dt.datetime.now(dt.UTC).date()
    if dates[-1] > today:
        raise InvalidRequest(f"{dates[-1]} is in the future (days are UTC; today is {today})")
    return dates


def retailers_to_run(retailers: Sequence[str] | None,
                     default: Sequence[str] = RETAILER_IDS) -> list[str]:
    """The retailers asked for (`default` when None: INGESTION_DEFAULT_RETAILERS), checked
    and deduplicated in suite order."""
    if retailers is None:
        return [r for r in KNOWN_RETAILER_IDS if r in set(default)]
    unknown = sorted(set(retailers) - set(KNOWN_RETAILER_IDS))
    if unknown:
        raise InvalidRequest(f"unknown retailers {unknown}; known: {list(KNOWN_RETAILER_IDS)}")
    if not retailers:
        raise InvalidRequest("retailers is empty; leave it out for all retailers")
    return [r for r in KNOWN_RETAILER_IDS if r in set(retailers)]


def ingest_refs(run_id: str, run_date: dt.date, retailers: Sequence[str]) -> list[StepRef]:
    return [StepRef(run_id, "ingest", r, run_date) for r in retailers]


def submit_runs(dates: Sequence[dt.date], retailers: Sequence[str] | None, *,
                requested_by: str, settings: IngestionRunsSettings | None = None,
                engine: Engine | None = None) -> Submission:
    """Create a run per date and queue the ingest steps (a backfill: the first N dates).

    All runs are created in one transaction, so a date with an active run rejects the
    whole request; messages are sent after it commits.

    Raises:
        ActiveRunConflict: one of the dates already has an active run (its id attached).
        InvalidRequest: unknown retailers.
    """
    s = settings or get_runs_settings()
    chosen = retailers_to_run(retailers, s.ingestion.default_retailers)
    backfill_id = str(uuid.uuid4()) if len(dates) > 1 else None
    with transaction(engine) as conn:
        created: list[tuple[str, dt.date]] = []
        for day in dates:
            try:
                run_id = ops.create_run(conn, day, chosen, requested_by=requested_by,
                                        backfill_id=backfill_id,
                                        max_attempts=s.step_max_attempts)
            except ops.ActiveRunExists as exc:
                raise ActiveRunConflict(
                    f"{day} already has an active run {exc.run_id}; wait for it to end",
                    run_id=exc.run_id, run_date=day.isoformat()) from None
            created.append((run_id, day))
        if backfill_id is None:
            refs = ingest_refs(created[0][0], created[0][1], chosen)
            ops.mark_queued(conn, refs)
        else:
            refs = start_next_backfill_runs(conn, s.ingestion.backfill_parallelism)
    ops.send_steps(refs)
    started = {r.run_id for r in refs}
    return Submission([CreatedRun(run_id, day, "running" if run_id in started else "queued")
                       for run_id, day in created], backfill_id)


def start_next_backfill_runs(conn: Connection, parallelism: int | None = None) -> list[StepRef]:
    """Start waiting dates of every backfill that has fewer than `parallelism` running runs.

    Runs under an advisory lock per backfill, so concurrent callers never start more than
    `parallelism` runs of one backfill. Marks the started runs' ingest steps queued; the
    caller sends the returned steps after committing.

    Args:
        conn: a connection inside the caller's transaction.
        parallelism: defaults to INGESTION_BACKFILL_PARALLELISM.
    Returns:
        The ingest steps to send.
    """
    limit = parallelism or get_runs_settings().ingestion.backfill_parallelism
    waiting = conn.execute(text(
        "select distinct backfill_id from ops.run "
        "where backfill_id is not null and status = 'queued'")).scalars().all()
    refs: list[StepRef] = []
    for backfill_id in waiting:
        conn.execute(text("select pg_advisory_xact_lock(hashtext(cast(:b as text)))"),
                     {"b": str(backfill_id)})
        running = conn.execute(text(
            "select count(*) from ops.run where backfill_id = :b and status = 'running'"),
            {"b": backfill_id}).scalar_one()
        free = limit - running
        if free <= 0:
            continue
        rows = conn.execute(text(
            "select run_id, run_date, retailers from ops.run "
            "where backfill_id = :b and status = 'queued' order by run_date limit :n"),
            {"b": backfill_id, "n": free}).all()
        for row in rows:
            run_refs = ingest_refs(str(row.run_id), row.run_date, row.retailers)
            ops.mark_queued(conn, run_refs)
            refs.extend(run_refs)
    return refs


def run_yesterday(today: dt.date | None = None) -> str | None:
    """The scheduled daily run: yesterday (UTC), all retailers. None when that date
    already has an active run (a re-delivered beat message, or someone ran it by hand)."""
    today = today or dt.datetime.now(dt.UTC).date()
    try:
        submission = submit_runs([today - dt.timedelta(days=1)], None, requested_by="schedule")
    except ActiveRunConflict as exc:
        log.info("scheduled run skipped: %s", exc)
        return None
    return submission.runs[0].run_id


def advance_backfills(engine: Engine | None = None) -> list[StepRef]:
    """`start_next_backfill_runs` in its own transaction, then send what it queued."""
    with transaction(engine) as conn:
        refs = start_next_backfill_runs(conn)
    ops.send_steps(refs)
    return refs


# -- reading runs ---------------------------------------------------------------------------

_STEP_COLUMNS = ("step, retailer_id, status, attempts, max_attempts, queued_at, started_at, "
                 "finished_at, updated_at, lease_expires_at, progress, counts, error, "
                 "error_detail")


def _seconds(start: Any, end: Any) -> float | None:
    if start is None:
        return None
    return round(((end or dt.datetime.now(dt.UTC)) - start).total_seconds(), 3)


def _step_view(row: Any) -> dict[str, Any]:
    return {"status": row.status, "attempts": row.attempts, "max_attempts": row.max_attempts,
            "queued_at": row.queued_at, "started_at": row.started_at,
            "finished_at": row.finished_at, "seconds": _seconds(row.started_at, row.finished_at),
            "lease_expires_at": row.lease_expires_at, "progress": row.progress,
            "counts": row.counts, "error": row.error, "error_detail": row.error_detail}


def run_status(conn: Connection, run_id: str) -> dict[str, Any]:
    """Everything about one run: status, each retailer's steps (state, attempts, counts,
    progress, timings, errors), the quality step and totals.

    Raises:
        RunNotFound: no such run.
    """
    run = conn.execute(text("select * from ops.run where run_id = :r"), {"r": run_id}).first()
    if run is None:
        raise RunNotFound(f"no run {run_id}")
    steps = conn.execute(text(f"select {_STEP_COLUMNS} from ops.run_step where run_id = :r "
                              "order by retailer_id, step"), {"r": run_id}).all()
    retailers: dict[str, dict[str, Any]] = {r: {} for r in run.retailers}
    quality = None
    totals: dict[str, dict[str, int]] = {}
    for row in steps:
        if row.step == "quality":
            quality = _step_view(row)
            continue
        retailers.setdefault(row.retailer_id, {})[row.step] = _step_view(row)
        if row.step == "ingest" and row.status == "succeeded":
            for entity, c in row.counts.items():
                if isinstance(c, dict) and "received" in c:
                    t = totals.setdefault(entity, {"received": 0, "normalized": 0,
                                                   "rejected": 0})
                    for k in t:
                        t[k] += int(c.get(k, 0))
    return {**_run_view(run), "steps_done": sum(r.status in ops.TERMINAL_STEP_STATUSES
                                                for r in steps),
            "steps_total": len(steps), "retailers": retailers, "quality": quality,
            "counts": totals}


def _run_view(run: Any) -> dict[str, Any]:
    return {"run_id": str(run.run_id), "run_date": run.run_date, "kind": run.kind,
            "status": run.status, "retailers": list(run.retailers),
            "backfill_id": str(run.backfill_id) if run.backfill_id else None,
            "requested_by": run.requested_by, "created_at": run.created_at,
            "started_at": run.started_at, "finished_at": run.finished_at,
            "seconds": _seconds(run.started_at, run.finished_at), "error": run.error}


def list_runs(conn: Connection, *, run_date: dt.date | None = None, status: str | None = None,
              limit: int = 100) -> list[dict[str, Any]]:
    """Runs, newest first, optionally of one date and/or one status."""
    rows = conn.execute(text(
        "select r.*, "
        "  (select count(*) from ops.run_step s where s.run_id = r.run_id "
        "   and s.status in ('succeeded', 'failed', 'dead', 'skipped')) as steps_done, "
        "  (select count(*) from ops.run_step s where s.run_id = r.run_id) as steps_total "
        "from ops.run r where (cast(:d as date) is null or r.run_date = :d) "
        "and (cast(:st as text) is null or r.status = :st) "
        "order by r.created_at desc limit :n"),
        {"d": run_date, "st": status, "n": limit}).all()
    return [{**_run_view(r), "steps_done": r.steps_done, "steps_total": r.steps_total}
            for r in rows]
