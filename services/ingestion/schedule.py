"""Celery beat's schedule: yesterday's run every day, the sweeper, backfill slots.

Beat: `celery -A services.ingestion.schedule:celery_app beat`. It only sends task names;
the ingestion workers run them (services/ingestion/tasks.py).
"""

from __future__ import annotations

from celery.schedules import crontab

from services.ingestion.settings import IngestionBeatSettings
from shared.celery_app import celery_app
from shared.settings import load_settings_or_exit
from shared.stages import ADVANCE_BACKFILLS

__all__ = ["beat_schedule", "celery_app"]


def beat_schedule() -> dict[str, dict]:
    s = load_settings_or_exit(IngestionBeatSettings)
    return {
        "run-yesterday": {
            "task": "ingestion.run_yesterday",
            "schedule": crontab(hour=s.schedule_hour_utc, minute=s.schedule_minute),
        },
        "sweep": {"task": "ingestion.sweep", "schedule": float(s.sweeper_interval_seconds)},
        # A backfill's verdicts start its next dates; this catches runs that ended otherwise.
        "advance-backfills": {"task": ADVANCE_BACKFILLS, "schedule": 10.0},
        # bi_reader may lift its own statement_timeout; this is what holds the limit.
        "guard-bi-reader": {"task": "ingestion.guard_bi_reader",
                            "schedule": float(s.bi_guard_interval_seconds)},
        # Files dropped in the inbox are claimed and sent to their runs (docs/ingestion.md).
        "scan-inbox": {"task": "ingestion.scan_inbox", "schedule": float(s.inbox_scan_seconds)},
    }


celery_app.conf.beat_schedule = beat_schedule()
