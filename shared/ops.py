"""Run and step state in the `ops` schema, shared by every service.

Step times use clock_timestamp(), not now(): a task may claim and complete its step in
one transaction, and now() would give both the transaction's start.

A run covers one date. Its steps are the stage table's (`shared/stages.py`): one `ingest`
and one `transform` step per retailer and one run-wide `quality` step (retailer_id '*').
Steps move pending -> queued -> running -> succeeded | failed | dead | skipped, and
`hand_over` is the one place that decides what runs after a step ended. Hand-overs happen
under a row lock on the run, so the next stage starts exactly once however many workers
finish at the same moment; messages are sent only after the state that asks for them is
committed (at-least-once into idempotent tasks).
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

from shared import stages
from shared.contracts import StepPayload
from shared.stages import RUN_WIDE, VERDICT

ACTIVE_RUN_STATUSES = ("queued", "running")
FINAL_RUN_STATUSES = ("succeeded", "succeeded_with_warnings", "failed", "canceled")
TERMINAL_STEP_STATUSES = ("succeeded", "failed", "dead", "skipped")


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
        """The kwargs of the step's task message (the `StepPayload` contract)."""
        return StepPayload(run_id=self.run_id, run_date=self.run_date,
                           retailer_id=None if self.retailer_id == RUN_WIDE
                           else self.retailer_id).to_kwargs()

    @classmethod
    def from_payload(cls, step: str, payload: StepPayload) -> StepRef:
        return cls(payload.run_id, step, payload.retailer_id or RUN_WIDE, payload.run_date)


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def create_run(conn: Connection, run_date: dt.date, retailers: Sequence[str], *,
               kind: str = "ingest", requested_by: str | None = None,
               backfill_id: str | None = None, max_attempts: int = 3) -> str:
    """Create a run with all its steps (pending). Raises ActiveRunExists for a busy date.

    Which steps: the stage table's (`shared.stages`), from the kind's first step; for
    `kind="replay"` there are no ingest steps: transformation re-reads stored silver.
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
    rows = [{"r": run_id, "s": s, "ret": ret, "d": run_date, "m": max_attempts}
            for ret in retailers for s in stages.partition_steps(ret, kind)]
    rows += [{"r": run_id, "s": s, "ret": RUN_WIDE, "d": run_date, "m": max_attempts}
             for s in stages.run_wide_steps()]
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
        celery_app.send_task(stages.stage_of(s.step, s.retailer_id).task, kwargs=s.task_kwargs())


def send_task(task: str, celery_app=None) -> None:
    """Send a task without arguments by name (`stages.ADVANCE_BACKFILLS`)."""
    if celery_app is None:
        from shared.celery_app import celery_app
    celery_app.send_task(task)


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


def heartbeat(conn: Connection, ref: StepRef, progress: dict[str, Any] | None, *,
              lease_seconds: float, task_id: str | None = None) -> bool:
    """Extend the lease and record progress (pages, records so far; None keeps it).

    Given a `task_id`, only that holder extends it: a worker whose lease ran out and whose
    step was taken over by another task must not keep the new holder's lease alive. Returns
    False when the step is no longer running (under `task_id`).
    """
    row = conn.execute(
        text("update ops.run_step set progress = coalesce(cast(:p as jsonb), progress), "
             "updated_at = now(), lease_expires_at = now() + make_interval(secs => :lease) "
             "where run_id = :r and step = :s and retailer_id = :ret and status = 'running' "
             "and (cast(:t as text) is null or task_id = :t) returning 1"),
        {"p": None if progress is None else _json(progress), "lease": lease_seconds,
         "r": ref.run_id, "s": ref.step, "ret": ref.retailer_id, "t": task_id},
    ).first()
    return row is not None


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


def skip_step(conn: Connection, ref: StepRef, reason: str) -> bool:
    """A step that has nothing to do (its partition's earlier step ended without data)."""
    row = conn.execute(
        text("update ops.run_step set status = 'skipped', finished_at = clock_timestamp(), "
             "error = :e, updated_at = now() "
             "where run_id = :r and step = :s and retailer_id = :ret "
             "and status in ('pending', 'queued') returning 1"),
        {"e": reason, "r": ref.run_id, "s": ref.step, "ret": ref.retailer_id},
    ).first()
    return row is not None


def queue_run_wide(conn: Connection, run_id: str, step: str) -> StepRef | None:
    """If every partition step of the run has ended, queue its run-wide `step`.

    Runs under a row lock on the run, and the step moves pending -> queued in the same
    statement, so exactly one caller gets the StepRef back; it sends the task after its
    transaction commits.
    """
    run = conn.execute(
        text("select run_date, status from ops.run where run_id = :r for update"), {"r": run_id}
    ).first()
    if run is None or run.status not in ACTIVE_RUN_STATUSES:
        return None
    open_steps = conn.execute(
        text("select count(*) from ops.run_step where run_id = :r and retailer_id <> :w "
             "and status not in ('succeeded', 'failed', 'dead', 'skipped')"),
        {"r": run_id, "w": RUN_WIDE},
    ).scalar_one()
    if open_steps:
        return None
    row = conn.execute(
        text("update ops.run_step set status = 'queued', queued_at = now(), updated_at = now() "
             "where run_id = :r and step = :s and retailer_id = :w and status = 'pending' "
             "returning run_date"),
        {"r": run_id, "s": step, "w": RUN_WIDE},
    ).first()
    if row is None:
        return None
    return StepRef(run_id, step, RUN_WIDE, row.run_date)


def fail_run(conn: Connection, run_id: str, error: str) -> None:
    """End an active run `failed` (its verdict step gave up); a canceled run stays so."""
    status = conn.execute(
        text("select status from ops.run where run_id = :r for update"), {"r": run_id}
    ).scalar()
    if status in ACTIVE_RUN_STATUSES:
        finish_run(conn, run_id, "failed", error[:4000])


def hand_over(conn: Connection, ref: StepRef, status: str, error: str | None = None
              ) -> list[StepRef]:
    """What runs after a step that ended with `status`, as the stage table says.

    Call in the transaction that records the step's end; send the returned steps after it
    commits. Succeeded: the same retailer's next step is queued, or the run-wide next step
    once every partition has ended. Failed or dead: the partition's later steps are skipped
    (they have nothing to work on) and the run moves on to its run-wide step, so it still
    reaches a verdict. The last stage's own work sets the verdict; when it gives up the run
    ends `failed`.
    """
    stage = stages.stage_of(ref.step, ref.retailer_id)
    if status not in ("succeeded", "failed", "dead"):
        return []
    if stage.then == VERDICT:
        if status != "succeeded":
            fail_run(conn, ref.run_id, f"{ref.step} step {status}: {error or 'no verdict'}")
        return []
    nxt = stages.stage_of(stage.then, ref.retailer_id)
    if status != "succeeded":
        while not nxt.run_wide:
            skip_step(conn, StepRef(ref.run_id, nxt.step, ref.retailer_id, ref.run_date),
                      f"{ref.step} did not complete")
            if nxt.then == VERDICT:
                return []
            nxt = stages.stage_of(nxt.then, ref.retailer_id)
    if nxt.run_wide:
        queued = queue_run_wide(conn, ref.run_id, nxt.step)
        return [queued] if queued else []
    following = StepRef(ref.run_id, nxt.step, ref.retailer_id, ref.run_date)
    mark_queued(conn, [following])
    return [following]


def finish_run(conn: Connection, run_id: str, status: str, error: str | None = None) -> bool:
    """Set a run's final status (quality's verdict, or failed by the sweeper).

    Returns True when the run belongs to a backfill: a slot is free, and the caller should
    send `stages.ADVANCE_BACKFILLS` after committing, so the next date starts now rather
    than at the next beat.
    """
    if status not in FINAL_RUN_STATUSES:
        raise ValueError(f"{status!r} is not a final run status")
    backfill_id = conn.execute(
        text("update ops.run set status = :st, error = :e, finished_at = clock_timestamp(), "
             "updated_at = now() where run_id = :r returning backfill_id"),
        {"st": status, "e": error, "r": run_id},
    ).scalar()
    return backfill_id is not None


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
             "and attempts >= max_attempts "
             "returning run_id, step, retailer_id, run_date, error"),
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
             "and s.status = 'pending' and s.attempts > 0 "
             "and s.updated_at < now() - make_interval(secs => :q) "
             "returning s.run_id, s.step, s.retailer_id, s.run_date"),
        {"q": stale_queued_seconds},
    ).all()
    refs = [StepRef(str(r.run_id), r.step, r.retailer_id, r.run_date) for r in [*rows, *pending]]
    # A dead-lettered step hands over like any step that ended dead (the stage table).
    for r in dead:
        refs += hand_over(conn, StepRef(str(r.run_id), r.step, r.retailer_id, r.run_date),
                          "dead", r.error)
    return refs
