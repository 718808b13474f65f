"""The one step runner: everything a run step does besides its own work.

A service writes only "what this step does": a function that takes a `StepContext`, does
the work, and calls `step.finish(conn, counts)` inside the transaction that writes its
effect. `run_step` owns the rest, the same way for every stage of `shared/stages.py`:

1. claim the step (`ops.claim_step`): a duplicate delivery of an ended step, or a step a
   live worker holds, does nothing (`skipped`);
2. keep its lease alive from a background thread every STEP_HEARTBEAT_SECONDS while the
   work runs, even inside one long SQL statement, writing the progress the work reports;
3. on success, `finish` records the counts and hands over to the next stage (the stage
   table, `ops.hand_over`) in the work's own transaction; the next steps' messages, and
   any other message the work asked for (`step.send_after`, e.g. a backfill's next dates
   after a verdict), are sent after it commits;
4. on an exception, classify it: permanent (retrying cannot help) ends the step `failed`;
   transient leaves it `pending` for a retry with exponential backoff and jitter, until
   STEP_MAX_ATTEMPTS, after which it is dead-lettered (`dead`, with its error). A step that
   ends without success hands over too (its partition's later steps are skipped, the run
   moves on to its verdict).
5. every claim, success and failure is also an OpenLineage event (`shared.lineage`: START,
   COMPLETE with the step's datasets, FAIL), when LINEAGE_TRANSPORT is not `off`.

`step_task` turns a work function into the Celery task named in the stage table.
"""

from __future__ import annotations

import logging
import random
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from shared import ops, stages
from shared.contracts import StepPayload
from shared.db import get_engine, transaction
from shared.lineage import lineage
from shared.logging import bind
from shared.settings import StepSettings, current

log = logging.getLogger(__name__)

StepStatus = Literal["succeeded", "skipped", "retry", "failed", "dead"]
Errors = tuple[type[BaseException], ...]
# Retries double from STEP_RETRY_DELAY_SECONDS up to this.
MAX_RETRY_DELAY_SECONDS = 600.0


class PermanentError(Exception):
    """Raised by a step's work when another attempt cannot succeed (the step ends `failed`).

    `detail` is kept on the step (`ops.run_step.error_detail`) for the operator.
    """

    def __init__(self, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.detail = detail or {}


class StepNotFinished(RuntimeError):
    """The work returned without calling `step.finish` (a bug in the work)."""


@dataclass
class StepResult:
    """What one delivery of a step did."""

    ref: ops.StepRef
    status: StepStatus
    counts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    handed_over: list[ops.StepRef] = field(default_factory=list)
    value: Any = None  # what the work returned, for in-process callers


class Lease:
    """Keeps a claimed step's lease alive from a background thread and writes its progress.

    The thread beats every `interval` seconds on a connection of its own, so the lease
    stays alive while the work's thread is busy in Python or blocked in one long SQL
    statement; a lease runs out only when the process is gone (or the database is).
    """

    def __init__(self, ref: ops.StepRef, engine: Engine, *, lease_seconds: float,
                 interval: float, task_id: str | None) -> None:
        self.ref, self.engine, self.task_id = ref, engine, task_id
        self.lease_seconds, self.interval = lease_seconds, interval
        self._progress: dict[str, Any] | None = None
        self._written: dict[str, Any] | None = None
        self._stop = threading.Event()
        # Set by the work's `finish`: a beat that waited on the row lock of the finishing
        # transaction finds the step succeeded, which is not a lost lease.
        self.finishing = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"lease-{ref.step}-{ref.retailer_id}")

    def __enter__(self) -> Lease:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        # A beat waiting on the step's row lock (the work's transaction held it) ends when
        # that transaction ends, which it has by now.
        self._thread.join(timeout=self.interval + 30)

    def report(self, progress: dict[str, Any], *, force: bool = False) -> None:
        """Remember the work's progress; the next beat writes it (`force`: write it now)."""
        self._progress = dict(progress)
        if force:
            self.beat()

    def beat(self) -> bool:
        """Extend the lease (and write new progress) now. False when it could not."""
        with self._lock:
            progress = self._progress
            fresh = progress if progress != self._written else None
            try:
                with self.engine.begin() as conn:
                    held = ops.heartbeat(conn, self.ref, fresh,
                                         lease_seconds=self.lease_seconds,
                                         task_id=self.task_id)
            except Exception:  # noqa: BLE001 - a missed beat must not fail the work
                log.warning("could not extend the lease of %s %s", self.ref.step,
                            self.ref.retailer_id, exc_info=True)
                return False
            self._written = progress
            if not held and not self.finishing:
                log.warning("the %s step of %s is no longer held by this task",
                            self.ref.step, self.ref.retailer_id)
            return held

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()


@dataclass
class StepContext:
    """What a step's work gets: which step, the step settings, and how to report and finish.

    `settings` holds only the steps' concern (`StepSettings`); a work reads what it does
    from its own process's settings (`IngestionWorkerSettings`, ...)."""

    ref: ops.StepRef
    settings: StepSettings
    engine: Engine
    task_id: str | None
    lease: Lease
    counts: dict[str, Any] | None = None
    handed_over: list[ops.StepRef] = field(default_factory=list)
    # Messages that are not steps (stages.ADVANCE_BACKFILLS), sent after the work committed.
    send_after: list[str] = field(default_factory=list)

    def progress(self, progress: dict[str, Any], *, force: bool = False) -> None:
        """Report progress (shown by GET /runs/{id}); written with the next heartbeat."""
        self.lease.report(progress, force=force)

    def finish(self, conn: Connection, counts: dict[str, Any]) -> None:
        """Record success with `counts` and queue what runs next, in `conn`'s transaction:
        call it in the transaction that writes the step's effect, so both commit together."""
        self.lease.finishing = True
        ops.complete_step(conn, self.ref, counts)
        self.handed_over = ops.hand_over(conn, self.ref, "succeeded")
        self.counts = counts


Work = Callable[[StepContext], Any]


def is_permanent(exc: BaseException, *, permanent: Errors = (),
                 transient: Errors | None = None) -> bool:
    """Permanent: a PermanentError or one of `permanent`; with `transient` given, also
    anything that is not one of those (for a step that retries only the errors it knows to
    pass, such as a database going away)."""
    if isinstance(exc, (PermanentError, *permanent)):
        return True
    return transient is not None and not isinstance(exc, transient)


def retry_countdown(retries: int, first_delay: float) -> float:
    """Seconds before the next attempt: doubling from `first_delay`, capped, with jitter
    (between half and all of it, so retries of many steps spread out)."""
    delay = min(MAX_RETRY_DELAY_SECONDS, first_delay * 2 ** retries)
    return delay / 2 + random.uniform(0, delay / 2)


def record_failure(ref: ops.StepRef, exc: BaseException, *, retryable: bool,
                   engine: Engine | None = None) -> StepResult:
    """Record a failed attempt and, when the step has ended (`failed`, `dead`), hand over.

    Returns the result with the step's new status (`retry` while attempts are left) and
    the steps queued by the hand-over (sent by the caller after this commits).
    """
    message = f"{type(exc).__name__}: {exc}"
    detail = {"exception": type(exc).__name__, **getattr(exc, "detail", {}),
              "traceback": "".join(traceback.format_exception(exc, limit=8))}
    if ref.retailer_id != ops.RUN_WIDE:
        detail.setdefault("retailer_id", ref.retailer_id)
    with transaction(engine) as conn:
        status = ops.fail_step(conn, ref, message, detail=detail, retryable=retryable)
        handed = ops.hand_over(conn, ref, status, message) if status != "pending" else []
    if status == "pending":
        log.warning("%s attempt failed, will retry: %s", ref.step, message)
        return StepResult(ref, "retry", error=message)
    log.error("%s step %s: %s", ref.step, status, message)
    return StepResult(ref, "dead" if status == "dead" else "failed", error=message,
                      handed_over=handed)


def run_step(ref: ops.StepRef, work: Work, *, task_id: str | None = None,
             settings: StepSettings | None = None, engine: Engine | None = None,
             permanent: Errors = (), transient: Errors | None = None,
             send: bool = True, celery_app: Any = None) -> StepResult:
    """Do one delivery of a step: claim, keep the lease, work, finish or fail, hand over.

    Args:
        ref: the step.
        work: what the step does; it must call `step.finish(conn, counts)`.
        task_id: the Celery task id, kept on the step (a redelivery may take it over).
        settings: the leases, beats and attempts (default: `current(StepSettings)`, the
            process's settings when they include the steps' concern).
        engine: defaults to the process-wide one.
        permanent / transient: how the work's exceptions are classified (`is_permanent`).
        send: send the next steps' messages after their state commits (tests may not).
    Returns:
        The StepResult; status `retry` asks the caller to retry with `retry_countdown`.
    """
    s = settings or current(StepSettings)
    engine = engine or get_engine()
    with bind(run_id=ref.run_id, retailer_id=ref.retailer_id, step=ref.step,
              run_date=ref.run_date.isoformat()):
        with transaction(engine) as conn:
            if not ops.claim_step(conn, ref, lease_seconds=s.step_lease_seconds,
                                  task_id=task_id):
                log.info("%s step already ended or held by a live worker: skipped", ref.step)
                return StepResult(ref, "skipped")
        events = lineage()
        events.started(ref, engine)
        lease = Lease(ref, engine, lease_seconds=s.step_lease_seconds,
                      interval=s.step_heartbeat_seconds, task_id=task_id)
        step = StepContext(ref, s, engine, task_id, lease)
        try:
            with lease:
                value = work(step)
                if step.counts is None:
                    raise StepNotFinished(f"the {ref.step} work returned without finishing")
        except Exception as exc:
            retryable = not is_permanent(exc, permanent=permanent, transient=transient)
            result = record_failure(ref, exc, retryable=retryable, engine=engine)
            events.failed(ref, exc, final=result.status != "retry")
        else:
            result = StepResult(ref, "succeeded", step.counts, handed_over=step.handed_over,
                                value=value)
            events.completed(ref, step.counts or {}, engine)
        if send and result.handed_over:
            ops.send_steps(result.handed_over, celery_app)
        if send and result.status == "succeeded":
            for task in step.send_after:
                ops.send_task(task, celery_app)
        return result


def step_task(celery_app: Any, task: str, *, permanent: Errors = (),
              transient: Errors | None = None,
              engine: Callable[[], Engine] | None = None) -> Callable[[Work], Any]:
    """Register a step's work as the Celery task the stage table names for it.

    The task reads its payload (`StepPayload`, refusing an unknown major version), runs
    `run_step`, and retries itself with backoff while the step has attempts left. It returns
    `{"status": ..., "counts" | "error": ...}`.

    Args:
        task: the task's name, as in `shared/stages.py`.
        permanent / transient: exception classification (see `is_permanent`).
        engine: the engine the step's state is written with (default: `shared.db`'s).
    """
    stage = stages.stage_of_task(task)

    def register(work: Work) -> Any:
        @celery_app.task(name=task, bind=True, acks_late=True, max_retries=None)
        def run(self: Any, **kwargs: Any) -> dict[str, Any]:
            payload = StepPayload.read(kwargs)
            ref = ops.StepRef.from_payload(stage.step, payload)
            result = run_step(ref, work, task_id=self.request.id,
                              engine=engine() if engine else None,
                              permanent=permanent, transient=transient)
            if result.status == "retry":
                delay = current(StepSettings).step_retry_delay_seconds
                raise self.retry(countdown=retry_countdown(self.request.retries, delay))
            if result.status == "succeeded":
                return {"status": "succeeded", "counts": result.counts}
            if result.error:
                return {"status": result.status, "error": result.error}
            return {"status": result.status}

        run.__doc__ = work.__doc__
        run.work = work  # the plain function, for in-process callers and tests
        return run

    return register
