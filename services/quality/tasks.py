"""Celery tasks of the quality service (queue `quality`). The logic lives in judge.py.

Worker: `celery -A services.quality.tasks:celery_app worker -Q quality`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

from services.quality.judge import judge, recheck_date
from services.quality.settings import QualityWorkerSettings
from shared.celery_app import celery_app
from shared.contracts import DatePayload
from shared.settings import load_settings_or_exit
from shared.steps import retry_countdown, step_task

# A database that went away is worth another attempt; anything else would fail again.
RETRYABLE = (OperationalError, InterfaceError)
# A worker without its own variables stops here, naming them.
settings = load_settings_or_exit(QualityWorkerSettings)
celery_app.conf.worker_concurrency = settings.quality.worker_concurrency

# Judge a run: evaluate every check, store the results, set the run's final status.
run_checks = step_task(celery_app, "quality.run_checks", transient=RETRYABLE)(judge)


@celery_app.task(name="quality.check_date", bind=True, acks_late=True, max_retries=None)
def check_date(self, **kwargs: Any) -> dict[str, Any]:
    """Re-run the checks of a date against its latest run and re-judge that run."""
    payload = DatePayload.read(kwargs)
    s = settings
    try:
        return recheck_date(payload.run_date, payload.retailers)
    except RETRYABLE as exc:
        if self.request.retries + 1 >= s.step_max_attempts:
            raise
        raise self.retry(exc=exc, countdown=retry_countdown(
            self.request.retries, s.step_retry_delay_seconds)) from exc
