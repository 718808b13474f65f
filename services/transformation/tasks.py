"""Celery tasks of the transformation service (queue `transformation`). Thin: the logic is
in `load.py` and `replay.py`.

Worker: `celery -A services.transformation.tasks:celery_app worker -Q transformation`.
"""

from __future__ import annotations

import random
from typing import Any

from services.transformation.load import LoadFailed
from services.transformation.load import load_partition as load_partition_step
from services.transformation.replay import replay_date as replay
from services.transformation.settings import TransformationWorkerSettings, get_settings
from shared.celery_app import celery_app
from shared.settings import load_settings_or_exit

__all__ = ["celery_app", "load_partition", "replay_date"]

# A worker without its own variables stops here, naming them.
settings = load_settings_or_exit(TransformationWorkerSettings)
celery_app.conf.worker_concurrency = settings.transformation.worker_concurrency


def retry_countdown(retries: int) -> float:
    """Seconds before the next attempt: doubling from the configured first delay, with
    jitter, capped at ten minutes."""
    base = get_settings().transformation.task_retry_delay_seconds
    delay = min(600.0, base * 2 ** retries)
    return delay / 2 + random.uniform(0, delay / 2)


@celery_app.task(name="transformation.load_partition", bind=True, acks_late=True,
                 max_retries=None)
def load_partition(self, run_id: str, retailer_id: str, run_date: str) -> dict[str, Any]:
    """Load one partition (silver -> star schema -> marts) in one transaction.

    Retries while the step has attempts left (ops.run_step.max_attempts bounds it: the
    step is `dead` after the last one); a duplicate delivery of a finished step does nothing.
    """
    try:
        result = load_partition_step(run_id, retailer_id, run_date, task_id=self.request.id)
    except LoadFailed as exc:
        if exc.status == "pending":
            raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries)) from exc
        return {"status": exc.status, "error": str(exc)}
    if result is None:
        return {"status": "skipped"}
    return {"status": "succeeded", "seconds": result.counts["seconds"],
            "touched_dates": result.counts["touched_dates"]}


@celery_app.task(name="transformation.replay_date", acks_late=True)
def replay_date(run_date: str, retailers: list[str] | None = None) -> str:
    """Re-transform a date from its stored silver objects; returns the replay run's id."""
    return replay(run_date, retailers, requested_by="task")
