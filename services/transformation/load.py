"""What the transform step does: silver in S3 -> star schema -> marts, all or nothing.

`load` runs the whole load of a partition (retailer, date) in ONE transaction: staging,
dimensions, facts, rejected records, the marts of every touched date and the step's
`finish` (its success and the hand-over to quality when this was the run's last open
partition, exactly once under the run's row lock). A failure rolls all of it back. Claim,
lease, retries and failure records are the step runner's (`shared/steps.py`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from functools import partial
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
from services.transformation.restate import batch_of, clear_batch, record_batch
from services.transformation.sales import load_sales
from services.transformation.scd2 import load_customers, load_products
from services.transformation.settings import TransformationWorkerSettings, get_settings
from services.transformation.staging import PartitionCorrupt, stage_partition
from services.transformation.statistics import refresh_statistics
from shared import ops
from shared.contracts import ContractError
from shared.s3 import get_s3
from shared.steps import StepContext, StepResult, run_step

log = logging.getLogger(__name__)

# Errors that loading the same objects again cannot fix (shared.steps.is_permanent).
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    PartitionNotFound, PartitionCorrupt, MissingFxRate, ContractError, pg_errors.DataError,
    pg_errors.IntegrityError, pg_errors.UndefinedTable, pg_errors.UndefinedColumn,
    pg_errors.SyntaxError,
)


def as_date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def load(step: StepContext, *, settings: TransformationWorkerSettings | None = None,
         s3: Any = None) -> None:
    """Load the step's partition and refresh its marts; finish the step in the same
    transaction. Then analyze what it loaded, before the quality checks query it (the
    runner sends quality's message only after this returns).

    `settings` defaults to the worker's (`TransformationWorkerSettings`)."""
    started = time.perf_counter()
    counts = _load(step, s3 or get_s3(), settings or get_settings())
    try:
        refresh_statistics(step.engine, counts)
    except Exception:  # noqa: BLE001 - the load is committed; the hand-over must happen
        log.warning("analyzing the loaded tables failed", exc_info=True)
    log.info("partition loaded in %.1fs (+%.1fs marts), %.1fs in all", counts["seconds"],
             counts["marts_seconds"], time.perf_counter() - started)


def load_partition(run_id: str, retailer_id: str, run_date: dt.date | str, *,
                   engine: Engine | None = None, s3: Any = None,
                   settings: TransformationWorkerSettings | None = None,
                   task_id: str | None = None, send: bool = True) -> StepResult:
    """Run one transform step in this process, as the task does (tests, benchmarks).

    Args:
        engine: a psycopg 3 engine (default: `get_load_engine()`).
        s3: an S3 client (default: `get_s3()`).
        send: send the quality task when this load hands the run over.
    Returns:
        The step runner's result: `succeeded` with the counts, `skipped` for a duplicate
        delivery, `retry` / `failed` / `dead` with the error.
    """
    ref = ops.StepRef(run_id, "transform", retailer_id, as_date(run_date))
    return run_step(ref, partial(load, s3=s3, settings=settings), task_id=task_id,
                    settings=settings,
                    engine=engine or get_load_engine(), permanent=PERMANENT_ERRORS,
                    send=send)


def _load(step: StepContext, s3: Any, settings: TransformationWorkerSettings) -> dict[str, Any]:
    ref, conf = step.ref, settings.transformation
    started = time.perf_counter()
    phases = _Phases(step)
    with step.engine.begin() as conn:
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

        staged = apply_partition(ctx, s3, settings, partition, phases)
        load_seconds = time.perf_counter() - started

        phases("marts")
        marts_seconds = marts.refresh(cur, ctx.touched_dates, [ref.retailer_id])
        phases(None)
        counts: dict[str, Any] = {
            **ctx.counts,
            "staged": {e: {"records": s.records, "duplicates": s.duplicates,
                           "exact_duplicates": s.exact_duplicates}
                       for e, s in staged.items()},
            "source_run_id": partition.source_run_id,
            "seconds": round(load_seconds, 3),
            "marts_seconds": round(marts_seconds, 3),
            "phase_seconds": phases.seconds,
            "touched_dates": sorted(d.isoformat() for d in ctx.touched_dates),
        }
        step.finish(conn, counts)
    return counts


def apply_partition(ctx: LoadContext, s3: Any, settings: TransformationWorkerSettings,
                    partition: Any, phases: Any = None) -> dict[str, Any]:
    """Stage a partition's objects and write them to the star schema (no marts, no commit):
    the body of a load, shared by the transform step and the stream's micro-batches.

    Returns:
        The staging counts per entity.
    """
    conf = settings.transformation
    phase = phases or (lambda _name: None)
    phase("staging")
    staged = stage_partition(ctx, s3, settings.s3_bucket, partition,
                             chunk_bytes=conf.copy_chunk_bytes, verify=conf.verify_checksums)
    batch = batch_of(partition.manifest)
    if batch is not None:
        # A file batch replaces what its date loaded before (restate.py).
        phase("restate")
        cleared = clear_batch(ctx, batch)
    phase("dimensions")
    load_stores(ctx)
    load_customers(ctx)
    load_products(ctx)
    phase("lookups")
    build_lookups(ctx)
    phase("sales")
    load_sales(ctx, staged["order_lines"].records - staged["order_lines"].duplicates)
    phase("orders")
    load_orders(ctx, staged["orders"].records - staged["orders"].duplicates)
    phase("rejected")
    load_rejected(ctx)
    if batch is not None:
        ctx.counts["batch"] = record_batch(ctx, batch, cleared)
    return staged


def prepare_session(cur: psycopg.Cursor, *, work_mem: str) -> None:
    """Transaction-local settings of a load. Durability stays on (synchronous_commit).

    JIT is off: the staged tables make the planner's cost estimates large enough to
    trigger it, and compiling took longer than the queries it was meant to speed up.
    """
    cur.execute("select set_config('work_mem', %s, true), set_config('timezone', 'UTC', true), "
                "set_config('jit', 'off', true)", (work_mem,))


class _Phases:
    """Report the load's phase as the step's progress (the lease thread writes it outside
    the load's transaction, so a progress bar sees it while the load runs); time each phase
    for the step's counts."""

    def __init__(self, step: StepContext) -> None:
        self.step = step
        self.seconds: dict[str, float] = {}
        self._phase: str | None = None
        self._since = time.perf_counter()

    def __call__(self, phase: str | None) -> None:
        now = time.perf_counter()
        if self._phase is not None:
            self.seconds[self._phase] = round(now - self._since, 3)
        self._phase, self._since = phase, now
        if phase is not None:
            self.step.progress({"phase": phase})
