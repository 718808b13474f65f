"""Celery tasks of the ingestion service (queue `ingestion`). Thin: logic lives in
`step.py` (run by the step runner, `shared/steps.py`) and `runs.py`.

Worker: `celery -A services.ingestion.tasks:celery_app worker -Q ingestion`.
"""

from __future__ import annotations

from services.ingestion import runs, sweeper
from services.ingestion.files import inbox
from services.ingestion.files import step as file_step
from services.ingestion.settings import IngestionWorkerSettings
from services.ingestion.step import PERMANENT_ERRORS, ingest
from services.ingestion.stream.close import close_day
from shared.celery_app import celery_app
from shared.settings import load_settings_or_exit
from shared.stages import ADVANCE_BACKFILLS
from shared.steps import step_task

__all__ = ["advance_backfills", "celery_app", "close_stream_day", "guard_bi_reader",
           "ingest_file", "ingest_partition", "run_yesterday", "scan_inbox", "sweep"]

# A worker without its own variables (a retailer's credentials, ...) stops here, naming them.
settings = load_settings_or_exit(IngestionWorkerSettings)
celery_app.conf.worker_concurrency = settings.ingestion.worker_concurrency

# Fetch, normalize and land one retailer's day, then send its transformation task.
ingest_partition = step_task(celery_app, "ingestion.ingest_partition",
                             permanent=PERMANENT_ERRORS)(ingest)

# Land a file-delivered retailer's batch (retailer5): the stage table's other ingest line.
ingest_file = step_task(celery_app, "ingestion.ingest_file",
                        permanent=PERMANENT_ERRORS)(file_step.ingest_file)


@celery_app.task(name="ingestion.scan_inbox", acks_late=True, ignore_result=True, expires=30)
def scan_inbox() -> int:
    """Claim new files in the inbox and start their batch dates' runs (beat)."""
    from shared.s3 import get_s3

    report = inbox.scan(get_s3(), settings.s3_bucket, settings.inbox)
    return len(report.claimed)

# A stream retailer's day: reconcile with the source, re-request what is missing, land its
# reference data (the stage table's retailer4 line of `ingest`).
close_stream_day = step_task(celery_app, "ingestion.close_stream_day")(close_day)


@celery_app.task(name=ADVANCE_BACKFILLS, acks_late=True)
def advance_backfills() -> int:
    """Start the next waiting dates of each backfill while it has free slots (sent by
    quality after a backfill run's verdict, and by beat as the safety net)."""
    return len(runs.advance_backfills())


@celery_app.task(name="ingestion.sweep", acks_late=True)
def sweep() -> int:
    """Re-send steps whose worker vanished; dead-letter those out of attempts (beat)."""
    return len(sweeper.sweep_once())


@celery_app.task(name="ingestion.guard_bi_reader", acks_late=True, ignore_result=True,
                 expires=30)
def guard_bi_reader() -> int:
    """Cut off bi_reader statements past the limit, restore its role defaults (beat)."""
    from shared.bi_guard import enforce_bi_reader
    from shared.db import get_engine

    with get_engine().begin() as conn:
        done = enforce_bi_reader(conn, settings.bi_statement_limit_seconds)
    return done.canceled + done.terminated


@celery_app.task(name="ingestion.run_yesterday", acks_late=True)
def run_yesterday() -> str | None:
    """Run yesterday (UTC) for every retailer, as POST /runs would (beat, once a day)."""
    return runs.run_yesterday()
