"""What the ingest step does: land one retailer's day in S3 and record its manifest.

Claim, lease, retries, failure and the hand-over to transformation are the step runner's
(`shared/steps.py`); the task in tasks.py registers this function with it. A retailer that
stays down past its retry budget (`RetailerError`) ends the step `failed`: another attempt
would meet the same outage, and the run moves on to its verdict without this partition.
"""

from __future__ import annotations

from services.ingestion.connectors import RetailerError, make_client
from services.ingestion.manifest import record_manifest, step_counts
from services.ingestion.partition import land_partition
from services.ingestion.settings import IngestionWorkerSettings, get_worker_settings
from shared.db import transaction
from shared.s3 import get_s3
from shared.steps import StepContext

# Errors another attempt cannot fix (shared.steps.is_permanent).
PERMANENT_ERRORS = (RetailerError,)


def ingest(step: StepContext, *, settings: IngestionWorkerSettings | None = None,
           s3=None) -> None:
    """Fetch, normalize and land the step's partition, then record the manifest and finish
    the step in one transaction (the runner then sends the transform step).

    `settings` defaults to the worker's (`IngestionWorkerSettings`)."""
    ref, s = step.ref, settings or get_worker_settings()
    step.progress({"pages": 0, "records": 0, "resource": None}, force=True)
    with make_client(ref.retailer_id, s) as client:
        landed = land_partition(client, s3 or get_s3(), s.s3_bucket, run_id=ref.run_id,
                                day=ref.run_date, settings=s.ingestion,
                                on_progress=step.progress)
    with transaction(step.engine) as conn:
        record_manifest(conn, landed.manifest, landed.manifest_key)
        step.finish(conn, step_counts(landed.manifest))
