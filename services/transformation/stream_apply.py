"""What applying one micro-batch of an event stream does (retailer4): its landed canonical
objects -> star schema -> marts of the dates it touched, in ONE transaction that also marks
the batch `applied` (ops.stream_batch). The stream consumer acknowledges the batch's
messages only after it sees that commit.

The load is the transform step's own (`load.apply_partition`): keyed upserts of
fact_sales, milestones in fact_orders that only move earlier (`least`) whatever the order
events arrive in, events of orders not loaded yet kept pending. Applying a batch twice, or
two batches holding the same events, changes nothing the second time. A batch already
applied is skipped under its row lock (a duplicate task message).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from sqlalchemy import Engine, text

from services.transformation import marts
from services.transformation.context import LoadContext
from services.transformation.db import get_load_engine, raw
from services.transformation.dimensions import ensure_retailer
from services.transformation.load import PERMANENT_ERRORS, apply_partition, prepare_session
from services.transformation.manifest import Partition
from services.transformation.settings import TransformationWorkerSettings, get_settings
from shared.contracts import read_manifest
from shared.s3 import get_s3

log = logging.getLogger(__name__)


class BatchNotFound(LookupError):
    """No landed batch with this id (the consumer records it before sending the task)."""


def apply_batch(batch_id: str, *, engine: Engine | None = None, s3: Any = None,
                settings: TransformationWorkerSettings | None = None) -> dict[str, Any]:
    """Apply one landed micro-batch; returns its counts (`{"status": "skipped"}` when it was
    applied already, `{"status": "failed", "error": ...}` when it cannot be: an error
    another attempt cannot fix, recorded on the batch so the consumer moves on)."""
    engine = engine or get_load_engine()
    try:
        return _apply(batch_id, engine, s3, settings or get_settings())
    except PERMANENT_ERRORS as exc:
        error = f"{type(exc).__name__}: {exc}"[:4000]
        with engine.begin() as conn:
            conn.execute(text("update ops.stream_batch set status = 'failed', error = :e "
                              "where batch_id = :b and status = 'landed'"),
                         {"b": batch_id, "e": error})
        log.error("stream batch %s cannot be applied: %s", batch_id, error)
        return {"status": "failed", "error": error}


def _apply(batch_id: str, engine: Engine, s3: Any,
           s: TransformationWorkerSettings) -> dict[str, Any]:
    started = time.perf_counter()
    with engine.begin() as conn:
        row = conn.execute(text(
            "select retailer_id, run_date, status, manifest_key, manifest "
            "from ops.stream_batch where batch_id = :b for update"), {"b": batch_id}).first()
        if row is None:
            raise BatchNotFound(f"no stream batch {batch_id}")
        if row.status != "landed":
            return {"status": "skipped"}
        cur = raw(conn).cursor()
        prepare_session(cur, work_mem=s.transformation.work_mem)
        cur.execute("select pg_advisory_xact_lock(hashtext('transformation.load'), "
                    "hashtext(%s))", (row.retailer_id,))
        manifest = read_manifest(row.manifest)
        partition = Partition(run_id=batch_id, source_run_id=batch_id,
                              retailer_id=row.retailer_id, run_date=row.run_date,
                              manifest_key=row.manifest_key, manifest=manifest)
        currency = manifest.control_totals.currency if manifest.control_totals else None
        ctx = LoadContext(cur, batch_id, row.retailer_id,
                          ensure_retailer(cur, row.retailer_id, currency), row.run_date)
        apply_partition(ctx, s3 or get_s3(), s, partition)
        marts_seconds = marts.refresh(cur, ctx.touched_dates, [row.retailer_id])
        counts = {**ctx.counts, "seconds": round(time.perf_counter() - started, 3),
                  "marts_seconds": round(marts_seconds, 3),
                  "touched_dates": sorted(d.isoformat() for d in ctx.touched_dates)}
        conn.execute(text(
            "update ops.stream_batch set status = 'applied', applied_at = clock_timestamp(), "
            "counts = cast(:c as jsonb) where batch_id = :b"),
            {"b": batch_id, "c": orjson.dumps(counts).decode()})
    log.info("stream batch %s applied in %.2fs", batch_id, counts["seconds"])
    return counts
