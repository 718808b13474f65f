"""Celery tasks of the ingestion service (queue `ingestion`). Thin: logic lives in
`step.py` and `runs.py`.

Worker: `celery -A services.ingestion.tasks:celery_app worker -Q ingestion`.
"""

from __future__ import annotations

import datetime as dt
import random

from services.ingestion import runs, sweeper
from services.ingestion.settings import IngestionWorkerSettings, get_worker_settings
from services.ingestion.step import Outcome, ingest_step
from shared.celery_app import celery_app
from shared.ops import StepRef
from shared.settings import load_settings_or_exit

__all__ = ["advance_backfills", "celery_app", "ingest_partition", "run_yesterday",
           "sweep"]

# A worker without its own variables (a retailer's credentials, ...) stops here, naming them.
settings = load_settings_or_exit(IngestionWorkerSettings)
celery_app.conf.worker_concurrency = settings.ingestion.worker_concurrency


def retry_countdown(retries: int) -> float:
    """Seconds before attempt `retries + 2`: doubling from the configured first delay, with
    jitter, capped at ten minutes."""
    base = get_worker_settings().ingestion.task_retry_delay_seconds
    delay = min(600.0, base * 2 ** retries)
    return delay / 2 + random.uniform(0, delay / 2)


@celery_app.task(name="ingestion.ingest_partition", bind=True, acks_late=True,
                 max_retries=None)
def ingest_partition(self, run_id: str, retailer_id: str, run_date: str) -> str:
    """Fetch, normalize and land one retailer's day, then send its transformation task.

    Retries (bounded by the step's max_attempts in ops.run_step) when an attempt fails
    for another reason than the retailer being down past its budget.
    """
    ref = StepRef(run_id, "ingest", retailer_id, dt.date.fromisoformat(run_date))
    outcome = ingest_step(ref, task_id=self.request.id)
    if outcome is Outcome.RETRY:
        raise self.retry(countdown=retry_countdown(self.request.retries))
    return outcome.value


@celery_app.task(name="ingestion.advance_backfills", acks_late=True)
def advance_backfills() -> int:
    """Start the next waiting dates of each backfill while it has free slots (run by beat)."""
    return len(runs.advance_backfills())


@celery_app.task(name="ingestion.sweep", acks_late=True)
def sweep() -> int:
    """Re-send steps whose worker vanished; dead-letter those out of attempts (beat)."""
    return len(sweeper.sweep_once())


@celery_app.task(name="ingestion.run_yesterday", acks_late=True)
def run_yesterday() -> str | None:
    """Run yesterday (UTC) for every retailer, as POST /runs would (beat, once a day)."""
    return runs.run_yesterday()
