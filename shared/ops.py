"""Run and step state in the `ops` schema, shared by every service.

Step times use clock_timestamp(), not now(): a task may claim and complete its step in
one transaction, and now() would give both the transaction's start.

A run covers one date. It has one `ingest` and one `transform` step per retailer and one
run-wide `quality` step (retailer_id '*'). Steps move pending -> queued -> running ->
succeeded | failed | dead. Hand-overs happen under a row lock on the run, so the next stage
starts exactly once however many workers finish at the same moment; messages are sent only
after the state that asks for them is committed (at-least-once into idempotent tasks).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

ACTIVE_RUN_STATUSES = ("queued", "running")
FINAL_RUN_STATUSES = ("succeeded", "succeeded_with_warnings", "failed", "canceled")
TERMINAL_STEP_STATUSES = ("succeeded", "failed", "dead", "skipped")
RUN_WIDE = "*"

# Which task runs which step; tasks are sent by name only.
STEP_TASKS = {
    "ingest": "ingestion.ingest_partition",
    "transform": "transformation.load_partition",
    "quality": "quality.run_checks",
}


class ActiveRunExists(Exception):
    """A date already has an active run (the partial unique index said so)."""

    def __init__(self, run_date: dt.date, run_id: str | None) -> None:
        super().__init__(f"date {run_date} already has an active run {run_id}")
        self.run_date = run_date
        self.run_id = run_id


@dataclass(frozen=True)
class StepRef:
    run_id: str
    step: str
    retailer_id: str
    run_date: dt.date

    def task_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"run_id": self.run_id, "run_date": self.run_date.isoformat()}
        if self.retailer_id != RUN_WIDE:
            kwargs["retailer_id"] = self.retailer_id
        return kwargs


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def create_run(conn: Connection, run_date: dt.date, retailers: Sequence[str], *,
               kind: str = "ingest", requested_by: str | None = None,
               backfill_id: str | None = None, max_attempts: int = 3) -> str:
    """Create a run with all its steps (pending). Raises ActiveRunExists for a busy date.

    For `kind="replay"` there are no ingest steps: transformation re-reads stored silver.
    """
    run_id = str(uuid.uuid4())
    try:
        with conn.begin_nested():
            conn.execute(
                text("insert into ops.run (run_id, run_date, kind, status, retailers, "
                     "backfill_id, requested_by) values (:r, :d, :k, 'queued', :rs, :b, :by)"),
                {"r": run_id, "d": run_date, "k": kind, "rs": list(retailers),
                 "b": backfill_id, "by": requested_by},
            )
    except IntegrityError:
        active = active_run_for_date(conn, run_date)
        raise ActiveRunExists(run_date, active) from None
    steps = ["transform"] if kind == "replay" else ["ingest", "transform"]
    rows = [{"r": run_id, "s": s, "ret": ret, "d": run_date, "m": max_attempts}
            for s in steps for ret in retailers]
    rows.append({"r": run_id, "s": "quality", "ret": RUN_WIDE, "d": run_date, "m": max_attempts})
    conn.execute(
        text("insert into ops.run_step (run_id, step, retailer_id, run_date, max_attempts) "
             "values (:r, :s, :ret, :d, :m)"),
        rows,
    )
    return run_id


def active_run_for_date(conn: Connection, run_date: dt.date) -> str | None:
    row = conn.execute(
        text("select run_id from ops.run where run_date = :d and status in ('queued','running')"),
        {"d": run_date},
    ).first()
    return str(row[0]) if row else None


def mark_queued(conn: Connection, steps: Iterable[StepRef]) -> None:
    """Record that the steps' tasks are about to be sent."""
    conn.execute(
        text("update ops.run_step set status = 'queued', queued_at = now(), updated_at = now() "
             "where run_id = :r and step = :s and retailer_id = :ret "
             "and status in ('pending', 'queued')"),
        [{"r": s.run_id, "s": s.step, "ret": s.retailer_id} for s in steps],
    )
    conn.execute(
        text("update ops.run set status = 'running', started_at = coalesce(started_at, now()), "
             "updated_at = now() where run_id = any(cast(:ids as uuid[])) and status = 'queued'"),
        {"ids": list({s.run_id for s in steps})},
    )


def send_steps(steps: Iterable[StepRef], celery_app=None) -> None:
    """Send each step's task by name (after the transaction that queued it committed)."""
    if celery_app is None:
        from shared.celery_app import celery_app
    for s in steps:
        celery_app.send_task(STEP_TASKS[s.step], kwargs=s.task_kwargs())


def claim_step(conn: Connection, ref: StepRef, *, lease_seconds: int,
               task_id: str | None = None) -> bool:
    """Take the lease on a step. False when it ended already or a live worker holds it
    (a duplicate delivery): the caller then does nothing."""
    row = conn.execute(
        text("update ops.run_step set status = 'running', attempts = attempts + 1, "
             "lease_expires_at = now() + make_interval(secs => :lease), task_id = :t, "
             "started_at = clock_timestamp(), finished_at = null, updated_at = now() "
             "where run_id = :r and step = :s and retailer_id = :ret "
             "and (status in ('pending', 'queued') "
             # A running step is taken over only by a redelivery of the same message
             # (its worker died) or once its lease has run out; never from a live worker.
             "     or (status = 'running' and (task_id = :t or lease_expires_at < now()))) "
             "returning attempts"),
        {"lease": lease_seconds, "t": task_id, "r": ref.run_id, "s": ref.step,
         "ret": ref.retailer_id},
    ).first()
    if row is not None:
        conn.execute(
            text("update ops.run set status = 'running', started_at = coalesce(started_at, now()),"
                 " updated_at = now() where run_id = :r and status = 'queued'"),
            {"r": ref.run_id},
        )
    return row is not None


def heartbeat(conn: Connection, ref: StepRef, progress: dict[str, Any], *,
              lease_seconds: int) -> None:
    """Extend the lease and record progress (pages, records so far)."""
    conn.execute(
        text("update ops.run_step set progress = cast(:p as jsonb), updated_at = now(), "
             "lease_expires_at = now() + make_interval(secs => :lease) "
             "where run_id = :r and step = :s and retailer_id = :ret and status = 'running'"),
        {"p": _json(progress), "lease": lease_seconds, "r": ref.run_id, "s": ref.step,
         "ret": ref.retailer_id},
    )


def complete_step(conn: Connection, ref: StepRef, counts: dict[str, Any]) -> None:
    """Mark a step succeeded with its counts (call inside the transaction that did the work)."""
    conn.execute(
        text("update ops.run_step set status = 'succeeded', counts = cast(:c as jsonb), "
             "finished_at = clock_timestamp(), lease_expires_at = null, error = null, "
             "error_detail = null, "
             "updated_at = now() where run_id = :r and step = :s and retailer_id = :ret"),
        {"c": _json(counts), "r": ref.run_id, "s": ref.step, "ret": ref.retailer_id},
    )


def fail_step(conn: Connection, ref: StepRef, error: str, *, detail: dict | None = None,
              retryable: bool = True) -> str:
    """Record a failed attempt. Returns the new status: `pending` (will be retried),
    `failed` (not retryable) or `dead` (no attempts left)."""
    row = conn.execute(
        text("update ops.run_step set "
             "status = case when not :retry then 'failed' "
             "              when attempts >= max_attempts then 'dead' else 'pending' end, "
             "error = :e, error_detail = cast(:d as jsonb), lease_expires_at = null, "
             "finished_at = case when not :retry or attempts >= max_attempts "
             "                   then clock_timestamp() end, "
             "updated_at = now() "
             "where run_id = :r and step = :s and retailer_id = :ret returning status"),
        {"retry": retryable, "e": error[:4000], "d": _json(detail) if detail else None,
         "r": ref.run_id, "s": ref.step, "ret": ref.retailer_id},
    ).first()
    return row[0] if row else "missing"


def skip_downstream(conn: Connection, ref: StepRef) -> None:
    """An ingest step that ended without data: its transform step has nothing to do."""
    conn.execute(
        text("update ops.run_step set status = 'skipped', finished_at = clock_timestamp(), "
             "error = 'ingest did not complete', updated_at = now() "
             "where run_id = :r and step = 'transform' and retailer_id = :ret "
             "and status in ('pending', 'queued')"),
        {"r": ref.run_id, "ret": ref.retailer_id},
    )


def hand_over_to_quality(conn: Connection, run_id: str) -> StepRef | None:
    """If every ingest/transform step of the run has ended, queue the quality step.

    Runs under a row lock on the run, and the quality step moves pending -> queued in
    the same statement, so exactly one caller gets the StepRef back; it sends the task
    after its transaction commits.
    """
    run = conn.execute(
        text("select run_date, status from ops.run where run_id = :r for update"), {"r": run_id}
    ).first()
    if run is None or run.status not in ACTIVE_RUN_STATUSES:
        return None
    open_steps = conn.execute(
        text("select count(*) from ops.run_step where run_id = :r and step <> 'quality' "
             "and status not in ('succeeded', 'failed', 'dead', 'skipped')"),
        {"r": run_id},
    ).scalar_one()
    if open_steps:
        return None
    row = conn.execute(
        text("update ops.run_step set status = 'queued', queued_at = now(), updated_at = now() "
             "where run_id = :r and step = 'quality' and status = 'pending' returning run_date"),
        {"r": run_id},
    ).first()
    if row is None:
        return None
    return StepRef(run_id, "quality", RUN_WIDE, row.run_date)


def finish_run(conn: Connection, run_id: str, status: str, error: str | None = None) -> None:
    """Set a run's final status (quality's verdict, or failed by the sweeper)."""
    if status not in FINAL_RUN_STATUSES:
        raise ValueError(f"{status!r} is not a final run status")
    conn.execute(
        text("update ops.run set status = :st, error = :e, finished_at = clock_timestamp(), "
             "updated_at = now() where run_id = :r"),
        {"st": status, "e": error, "r": run_id},
    )


def failed_partitions(conn: Connection, run_id: str) -> list[dict[str, Any]]:
    """Steps of a run that ended without success, with their errors."""
    rows = conn.execute(
        text("select step, retailer_id, status, error, error_detail from ops.run_step "
             "where run_id = :r and status in ('failed', 'dead') order by step, retailer_id"),
        {"r": run_id},
    ).mappings()
    return [dict(r) for r in rows]


def sweep(conn: Connection, *, stale_queued_seconds: int) -> list[StepRef]:
    """Find steps whose worker vanished: running past their lease, or queued too long.

    Steps with attempts left go back to queued and are returned for re-sending; the
    others become dead with their last error. Call `send_steps` after committing.
    """
    dead = conn.execute(
        text("update ops.run_step set status = 'dead', finished_at = clock_timestamp(), "
             "updated_at = now(), "
             "error = coalesce(error, 'lease expired') || ' (gave up after ' || attempts "
             "|| ' attempts)' "
             "where ((status = 'running' and lease_expires_at < now()) "
             "   or (status = 'queued' and queued_at < now() - make_interval(secs => :q))) "
             "and attempts >= max_attempts returning run_id"),
        {"q": stale_queued_seconds},
    ).all()
    rows = conn.execute(
        text("update ops.run_step set status = 'queued', queued_at = now(), updated_at = now(), "
             "error = case when status = 'running' then 'lease expired; re-sent' else error end "
             "where ((status = 'running' and lease_expires_at < now()) "
             "   or (status = 'queued' and queued_at < now() - make_interval(secs => :q))) "
             "and attempts < max_attempts "
             "returning run_id, step, retailer_id, run_date"),
        {"q": stale_queued_seconds},
    ).all()
    # Pending steps of a running run that nobody will send (e.g. a failed attempt that
    # was recorded but whose retry was lost) are re-sent as well.
    pending = conn.execute(
        text("update ops.run_step s set status = 'queued', queued_at = now(), updated_at = now() "
             "from ops.run r where r.run_id = s.run_id and r.status = 'running' "
             "and s.status = 'pending' and s.attempts > 0 and s.step <> 'quality' "
             "and s.updated_at < now() - make_interval(secs => :q) "
             "returning s.run_id, s.step, s.retailer_id, s.run_date"),
        {"q": stale_queued_seconds},
    ).all()
    refs = [StepRef(str(r.run_id), r.step, r.retailer_id, r.run_date) for r in [*rows, *pending]]
    for run_id in {str(r[0]) for r in dead}:
        ref = hand_over_to_quality(conn, run_id)
        if ref:
            refs.append(ref)
    # A run whose verdict step itself is dead can never get a verdict: it has failed.
    conn.execute(
        text("update ops.run r set status = 'failed', finished_at = clock_timestamp(), "
             "updated_at = now(), "
             "error = 'quality step dead: ' || coalesce(s.error, 'no verdict') "
             "from ops.run_step s where s.run_id = r.run_id and s.step = 'quality' "
             "and s.status in ('dead', 'failed') and r.status in ('queued', 'running')"))
    return refs
