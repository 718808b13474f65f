"""Celery tasks of the quality service (queue `quality`). The logic lives in judge.py.

Worker: `celery -A services.quality.tasks:celery_app worker -Q quality`.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

from services.quality.judge import judge_run, recheck_date, record_failure
from services.quality.settings import QualityWorkerSettings
from shared.celery_app import celery_app
from shared.settings import load_settings_or_exit

log = logging.getLogger(__name__)

# A database that went away is worth another attempt; anything else would fail again.
RETRYABLE = (OperationalError, InterfaceError)
# A worker without its own variables stops here, naming them.
settings = load_settings_or_exit(QualityWorkerSettings)
celery_app.conf.worker_concurrency = settings.quality.worker_concurrency
MAX_RETRIES = settings.step_max_attempts


class StepGaveUp(Exception):
    """The quality step is dead or failed; the run already carries the verdict `failed`."""


@celery_app.task(name="quality.run_checks", bind=True, acks_late=True,
                 autoretry_for=RETRYABLE, retry_backoff=True, retry_jitter=True,
                 max_retries=MAX_RETRIES)
def run_checks(self, run_id: str, run_date: str) -> dict[str, Any]:
    """Judge a run: evaluate every check, store the results, set the run's final status."""
    date = dt.date.fromisoformat(run_date)
    try:
        return judge_run(run_id, date, task_id=self.request.id)
    except RETRYABLE as exc:
        _record(run_id, date, exc, retryable=True)
        raise  # autoretry_for re-sends it with backoff
    except Exception as exc:
        _record(run_id, date, exc, retryable=False)
        raise StepGaveUp(f"quality step of run {run_id} failed: {exc}") from exc


def _record(run_id: str, date: dt.date, exc: Exception, *, retryable: bool) -> None:
    try:
        status = record_failure(run_id, date, exc, retryable=retryable)
    except RETRYABLE:
        # The database is still away; the step's lease runs out and the sweeper re-sends.
        log.warning("could not record the failure of run %s's quality step", run_id)
        return
    if status != "pending":
        raise StepGaveUp(f"quality step of run {run_id} is {status}: {exc}") from exc


@celery_app.task(name="quality.check_date", bind=True, acks_late=True,
                 autoretry_for=RETRYABLE, retry_backoff=True, retry_jitter=True,
                 max_retries=MAX_RETRIES)
def check_date(self, run_date: str, retailers: list[str] | None = None) -> dict[str, Any]:
    """Re-run the checks of a date against its latest run and re-judge that run."""
    return recheck_date(dt.date.fromisoformat(run_date), retailers)
