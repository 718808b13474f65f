"""The ingest step of a run, as recorded in ops.run_step: claim, land, complete, hand over.

`ingest_step` is what the Celery task `ingestion.ingest_partition` does, with every state
change in PostgreSQL and every message sent only after the state that asks for it commits.
"""

from __future__ import annotations

import logging
import time
import traceback
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine

from services.ingestion.connectors import RetailerError, make_client
from services.ingestion.manifest import record_manifest, step_counts
from services.ingestion.partition import land_partition
from services.ingestion.settings import IngestionWorkerSettings, get_worker_settings
from shared import ops
from shared.db import transaction
from shared.logging import bind
from shared.ops import StepRef
from shared.s3 import get_s3

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    DUPLICATE = "duplicate"  # the step ended already, or a live worker holds it
    FAILED = "failed"        # the retailer failed past its budget: not retried
    RETRY = "retry"          # a failed attempt with attempts left: the task retries
    DEAD = "dead"            # a failed attempt, the last one


class Heartbeat:
    """Progress callback: writes progress and extends the lease, at most every `interval`."""

    def __init__(self, ref: StepRef, settings: IngestionWorkerSettings,
                 engine: Engine | None) -> None:
        self.ref, self.engine = ref, engine
        self.interval = settings.ingestion.heartbeat_seconds
        self.lease = settings.step_lease_seconds
        self._last = 0.0

    def __call__(self, progress: dict[str, Any], *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        try:
            with transaction(self.engine) as conn:
                ops.heartbeat(conn, self.ref, progress, lease_seconds=self.lease)
        except Exception:  # noqa: BLE001 - a missed heartbeat must not fail the landing
            log.warning("could not record progress", exc_info=True)


def ingest_step(ref: StepRef, *, task_id: str | None = None,
                settings: IngestionWorkerSettings | None = None,
                engine: Engine | None = None, s3=None) -> Outcome:
    """Run one ingest step: claim it, land the partition, record the result, hand over.

    Args:
        ref: the step (`step="ingest"`).
        task_id: the Celery task id, kept on the step (a redelivery may take it over).
        settings, engine, s3: default to the process-wide ones.
    Returns:
        What happened; RETRY asks the caller (the task) to retry with backoff.
    """
    s = settings or get_worker_settings()
    with bind(run_id=ref.run_id, retailer_id=ref.retailer_id,
              run_date=ref.run_date.isoformat()):
        with transaction(engine) as conn:
            if not ops.claim_step(conn, ref, lease_seconds=s.step_lease_seconds,
                                  task_id=task_id):
                log.info("ingest step already ended or held by a live worker; skipping")
                return Outcome.DUPLICATE
        heartbeat = Heartbeat(ref, s, engine)
        heartbeat({"pages": 0, "records": 0, "resource": None}, force=True)
        try:
            with make_client(ref.retailer_id, s) as client:
                landed = land_partition(client, s3 or get_s3(), s.s3_bucket, run_id=ref.run_id,
                                        day=ref.run_date, settings=s.ingestion,
                                        on_progress=heartbeat)
        except RetailerError as exc:
            log.error("retailer failed past its budget: %s", exc, extra=exc.detail)
            _end_without_data(ref, engine, error=str(exc), detail=exc.detail, retryable=False)
            return Outcome.FAILED
        except Exception as exc:
            log.exception("ingest attempt failed")
            status = _end_without_data(
                ref, engine, error=f"{type(exc).__name__}: {exc}", retryable=True,
                detail={"retailer_id": ref.retailer_id, "exception": type(exc).__name__,
                        "traceback": traceback.format_exc(limit=8)})
            return Outcome.DEAD if status == "dead" else Outcome.RETRY
        transform = StepRef(ref.run_id, "transform", ref.retailer_id, ref.run_date)
        with transaction(engine) as conn:
            record_manifest(conn, landed.manifest, landed.manifest_key)
            ops.complete_step(conn, ref, step_counts(landed.manifest))
            ops.mark_queued(conn, [transform])
        ops.send_steps([transform])
        return Outcome.SUCCEEDED


def _end_without_data(ref: StepRef, engine: Engine | None, *, error: str,
                      detail: dict[str, Any], retryable: bool) -> str:
    """Record a failed attempt. When the step has ended for good (not retryable, or out of
    attempts) its transform step is skipped and the run handed to quality, so the run still
    reaches a verdict. Returns the step's new status."""
    quality = None
    with transaction(engine) as conn:
        status = ops.fail_step(conn, ref, error, detail=detail, retryable=retryable)
        if status in ("failed", "dead"):
            ops.skip_downstream(conn, ref)
            quality = ops.hand_over_to_quality(conn, ref.run_id)
    if quality is not None:
        ops.send_steps([quality])
    return status
