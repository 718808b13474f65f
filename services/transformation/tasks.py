"""Celery tasks of the transformation service (queue `transformation`). Thin: the logic is
in `load.py` (run by the step runner, `shared/steps.py`) and `replay.py`.

Worker: `celery -A services.transformation.tasks:celery_app worker -Q transformation`.
"""

from __future__ import annotations

from typing import Any

from services.transformation.db import get_load_engine
from services.transformation.load import PERMANENT_ERRORS, load
from services.transformation.replay import replay_date as replay
from services.transformation.settings import TransformationWorkerSettings
from services.transformation.stream_apply import apply_batch
from shared.celery_app import celery_app
from shared.contracts import DatePayload, StreamBatchPayload
from shared.settings import load_settings_or_exit
from shared.steps import step_task

__all__ = ["apply_stream_batch", "celery_app", "load_partition", "replay_date"]

# A worker without its own variables stops here, naming them.
settings = load_settings_or_exit(TransformationWorkerSettings)
celery_app.conf.worker_concurrency = settings.transformation.worker_concurrency

# Load one partition (silver -> star schema -> marts) in one transaction.
load_partition = step_task(celery_app, "transformation.load_partition",
                           permanent=PERMANENT_ERRORS, engine=get_load_engine)(load)


@celery_app.task(name="transformation.replay_date", acks_late=True)
def replay_date(**kwargs: Any) -> str:
    """Re-transform a date from its stored silver objects; returns the replay run's id."""
    payload = DatePayload.read(kwargs)
    return replay(payload.run_date, payload.retailers, requested_by="task")


@celery_app.task(name="transformation.apply_stream_batch", acks_late=True,
                 autoretry_for=(OSError,), retry_backoff=True, retry_jitter=True,
                 max_retries=5)
def apply_stream_batch(**kwargs: Any) -> dict[str, Any]:
    """Apply one landed micro-batch of an event stream (safe to run twice)."""
    payload = StreamBatchPayload.read(kwargs)
    return apply_batch(payload.batch_id)
