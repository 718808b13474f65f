"""Load one partition (retailer, date): silver in S3 -> star schema -> marts, all or nothing.

`load_partition` claims the step, then runs the whole load in ONE transaction: staging,
dimensions, facts, rejected records, the marts of every touched date and
`ops.complete_step`. A failure rolls all of it back and is recorded with `fail_step`
(retryable or not); the caller (the Celery task) retries. After the commit the run is
handed over to quality when this was its last open partition (exactly once, under the
run's row lock).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from sqlalchemy import Engine

from services.transformation import marts
from services.transformation.context import LoadContext
from services.transformation.db import get_load_engine, raw
from services.transformation.dimensions import ensure_retailer, load_stores
from services.transformation.lookups import MissingFxRate, build_lookups
from services.transformation.manifest import PartitionNotFound, find_partition
from services.transformation.orders import load_orders
from services.transformation.rejected import load_rejected
from services.transformation.sales import load_sales
from services.transformation.scd2 import load_customers, load_products
from services.transformation.settings import TransformationWorkerSettings, get_settings
from services.transformation.staging import PartitionCorrupt, stage_partition
from services.transformation.statistics import refresh_statistics
from shared import ops
from shared.logging import bind
from shared.s3 import get_s3

log = logging.getLogger(__name__)

# Errors that loading the same objects again cannot fix.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    PartitionNotFound, PartitionCorrupt, MissingFxRate, pg_errors.DataError,
    pg_errors.IntegrityError, pg_errors.UndefinedTable, pg_errors.UndefinedColumn,
    pg_errors.SyntaxError,
)


class LoadFailed(Exception):
    """A load attempt failed; `status` is the step's status after `fail_step`."""

    def __init__(self, message: str, status: str, retryable: bool) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


@dataclass
class LoadResult:
    run_id: str
    retailer_id: str
    run_date: dt.date
    counts: dict[str, Any] = field(default_factory=dict)
    quality_step: ops.StepRef | None = None


def as_date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def load_partition(run_id: str, retailer_id: str, run_date: dt.date | str, *,
                   engine: Engine | None = None, s3: Any = None,
                   settings: TransformationWorkerSettings | None = None, task_id: str | None = None,
                   send: bool = True) -> LoadResult | None:
    """Load one partition into the warehouse and refresh its marts.

    Args:
        run_id, retailer_id, run_date: the transform step (`ops.run_step`) to do.
        engine: a psycopg 3 engine (default: `get_load_engine()`).
        s3: an S3 client (default: `get_s3()`).
        task_id: the Celery task id, so a redelivered message may re-claim its step.
        send: send the quality task when this load hands the run over.
    Returns:
        The counts recorded on the step, or None on a duplicate delivery (nothing done).
    Raises:
        LoadFailed: the attempt failed and was recorded; `status` says whether the step
            will be retried (`pending`) or ended (`failed`, `dead`).
    """
    day = as_date(run_date)
    ref = ops.StepRef(run_id, "transform", retailer_id, day)
    settings = settings or get_settings()
    engine = engine or get_load_engine()
    with bind(run_id=run_id, retailer_id=retailer_id, run_date=day.isoformat()):
        with engine.begin() as conn:
            if not ops.claim_step(conn, ref, lease_seconds=settings.step_lease_seconds,
                                  task_id=task_id):
                log.info("transform step already done or held by a live worker: skipped")
                return None
        try:
            counts = _load(engine, ref, s3 or get_s3(), settings)
        except Exception as exc:
            raise _record_failure(engine, ref, exc, send=send) from exc
        result = LoadResult(run_id, retailer_id, day, counts)
        try:
            refresh_statistics(engine, counts)  # before the checks that query what it loaded
        except Exception:  # noqa: BLE001 - the load is committed; the hand-over must happen
            log.warning("analyzing the loaded tables failed", exc_info=True)
        result.quality_step = hand_over(engine, run_id, send=send)
        log.info("partition loaded in %.1fs (+%.1fs marts)", counts["seconds"],
                 counts["marts_seconds"])
        return result


def _load(engine: Engine, ref: ops.StepRef, s3: Any,
          settings: TransformationWorkerSettings) -> dict[str, Any]:
    conf = settings.transformation
    started = time.perf_counter()
    progress = _Progress(engine, ref, settings.step_lease_seconds)
    with engine.begin() as conn:
        cur = raw(conn).cursor()
        prepare_session(cur, work_mem=conf.work_mem)
        # Loads of one retailer run one at a time (SCD2 reads, then writes, its members);
        # different retailers touch different keys and load side by side.
        cur.execute("select pg_advisory_xact_lock(hashtext('transformation.load'), "
                    "hashtext(%s))", (ref.retailer_id,))
        partition = find_partition(conn, ref.run_id, ref.retailer_id, ref.run_date)
        ctx = LoadContext(cur, ref.run_id, ref.retailer_id,
                          ensure_retailer(cur, ref.retailer_id, partition.currency),
                          ref.run_date)
        ctx.touch([ref.run_date])

        progress("staging")
        staged = stage_partition(ctx, s3, settings.s3_bucket, partition,
                                 chunk_bytes=conf.copy_chunk_bytes,
                                 verify=conf.verify_checksums)
        progress("dimensions")
        load_stores(ctx)
        load_customers(ctx)
        load_products(ctx)
        progress("lookups")
        build_lookups(ctx)
        progress("sales")
        load_sales(ctx, staged["order_lines"].records - staged["order_lines"].duplicates)
        progress("orders")
        load_orders(ctx, staged["orders"].records - staged["orders"].duplicates)
        progress("rejected")
        load_rejected(ctx)
        load_seconds = time.perf_counter() - started

        progress("marts")
        marts_seconds = marts.refresh(cur, ctx.touched_dates, [ref.retailer_id])
        progress(None)
        counts: dict[str, Any] = {
            **ctx.counts,
            "staged": {e: {"records": s.records, "duplicates": s.duplicates}
                       for e, s in staged.items()},
            "source_run_id": partition.source_run_id,
            "seconds": round(load_seconds, 3),
            "marts_seconds": round(marts_seconds, 3),
            "phase_seconds": progress.seconds,
            "touched_dates": sorted(d.isoformat() for d in ctx.touched_dates),
        }
        ops.complete_step(conn, ref, counts)
    return counts


def prepare_session(cur: psycopg.Cursor, *, work_mem: str) -> None:
    """Transaction-local settings of a load. Durability stays on (synchronous_commit).

    JIT is off: the staged tables make the planner's cost estimates large enough to
    trigger it, and compiling took longer than the queries it was meant to speed up.
    """
    cur.execute("select set_config('work_mem', %s, true), set_config('timezone', 'UTC', true), "
                "set_config('jit', 'off', true)", (work_mem,))


class _Progress:
    """Write the load's phase to its step and extend the lease, outside the load's
    transaction (so a progress bar sees it while the load is still running); time each
    phase for the step's counts."""

    def __init__(self, engine: Engine, ref: ops.StepRef, lease_seconds: int) -> None:
        self.engine, self.ref, self.lease = engine, ref, lease_seconds
        self.seconds: dict[str, float] = {}
        self._phase: str | None = None
        self._since = time.perf_counter()

    def __call__(self, phase: str | None) -> None:
        now = time.perf_counter()
        if self._phase is not None:
            self.seconds[self._phase] = round(now - self._since, 3)
        self._phase, self._since = phase, now
        if phase is not None:
            with self.engine.begin() as conn:
                ops.heartbeat(conn, self.ref, {"phase": phase}, lease_seconds=self.lease)


def _record_failure(engine: Engine, ref: ops.StepRef, exc: Exception, *,
                    send: bool) -> LoadFailed:
    retryable = not isinstance(exc, PERMANENT_ERRORS)
    message = f"{type(exc).__name__}: {exc}"
    log.warning("load failed (%s): %s", "will retry" if retryable else "permanent", message)
    quality = None
    with engine.begin() as conn:
        status = ops.fail_step(conn, ref, message, retryable=retryable,
                               detail={"error_type": type(exc).__name__})
        if status in ("failed", "dead"):
            quality = ops.hand_over_to_quality(conn, ref.run_id)
    if quality is not None and send:
        ops.send_steps([quality])
    return LoadFailed(message, status, retryable)


def hand_over(engine: Engine, run_id: str, *, send: bool = True) -> ops.StepRef | None:
    """Queue the run's quality step if every partition has ended; send it after commit."""
    with engine.begin() as conn:
        quality = ops.hand_over_to_quality(conn, run_id)
    if quality is not None and send:
        ops.send_steps([quality])
    return quality
