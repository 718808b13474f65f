"""An ingestion worker killed with SIGKILL mid-partition, with the DEFAULT lease settings:
the run is back to work and finished, exactly, within about a minute and a half.

Every process is real: the retailers (gunicorn), ingestion, transformation and quality
Celery workers, and Celery beat running the sweeper at its default interval. Nothing here
shortens the lease, the heartbeat or the sweeper; the test checks it runs with the
defaults. A dead worker's messages stay unacknowledged in Redis (for
TASK_VISIBILITY_TIMEOUT_SECONDS); its steps come back because their leases stop being
extended and the sweeper re-sends them.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import time
from collections.abc import Iterator

import psycopg2
import pytest
from sqlalchemy import text

from services.ingestion import runs
from services.ingestion.settings import IngestionBeatSettings
from shared.settings import RETAILER_IDS, BrokerSettings, StepSettings
from suite.processes import ManagedProcess
from tests.e2e.test_pipeline import SUCCESS, assert_marts_equal_sources, assert_reconciled
from tests.fixtures.core import LOG_DIR, celery_worker, purge_queues, truncate_pipeline_tables

DAY = dt.date(2024, 1, 15)
# Small pages and slow answers, so a partition is still being fetched when the worker dies.
WORKER_ENV = {"INGESTION_PAGE_SIZE": "25"}
RECOVERY_BOUND_SECONDS = 90
log = logging.getLogger(__name__)


def _ingest_steps(engine, run_id: str) -> dict[str, tuple[str, int, int]]:
    """Per retailer: (status, attempts, pages so far)."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "select retailer_id, status, attempts, coalesce((progress->>'pages')::int, 0) "
            "from ops.run_step where run_id = :r and step = 'ingest'"), {"r": run_id}).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _run_status(engine, run_id: str) -> str:
    with engine.connect() as conn:
        return conn.execute(text("select status from ops.run where run_id = :r"),
                            {"r": run_id}).scalar_one()


@pytest.fixture
def processes(retailer_apps, engine, s3, redis_db) -> Iterator[dict[str, ManagedProcess]]:
    truncate_pipeline_tables(engine)
    purge_queues()
    schedule = LOG_DIR / "kill-beat-schedule"
    schedule.unlink(missing_ok=True)
    beat_log = LOG_DIR / "kill-beat.log"
    beat_log.unlink(missing_ok=True)
    procs = {
        "ingestion": celery_worker("services.ingestion.tasks", ["ingestion"],
                                   name="kill-ingestion", concurrency=2, env=WORKER_ENV),
        "transformation": celery_worker("services.transformation.tasks", ["transformation"],
                                        name="kill-transformation"),
        "quality": celery_worker("services.quality.tasks", ["quality"], name="kill-quality"),
        "beat": ManagedProcess(
            "kill-beat", ["celery", "-A", "services.ingestion.schedule:celery_app", "beat",
                          "-s", str(schedule), "-l", "INFO"], log_dir=LOG_DIR,
            health=lambda: beat_log.exists() and "Starting" in beat_log.read_text()),
    }
    try:
        for proc in procs.values():
            proc.start()
        for proc in procs.values():
            proc.wait_healthy(90)
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()
        retailer_apps.reset_chaos()
        purge_queues()


def test_a_killed_ingestion_worker_is_back_to_work_within_90s_with_default_leases(
        processes, retailer_apps, engine, settings, record_property):
    defaults = {**BrokerSettings.model_fields, **StepSettings.model_fields,
                **IngestionBeatSettings.model_fields}
    for name in ("step_lease_seconds", "step_heartbeat_seconds", "sweeper_interval_seconds",
                 "task_visibility_timeout_seconds"):
        assert getattr(settings, name) == defaults[name].default, f"{name} is overridden"
        assert name.upper() not in os.environ
    # The REST retailers: the kill lands while their pages are fetched (retailer5's file
    # would be landed at once; tests/e2e/test_pipeline.py covers it).
    rest = [r for r in RETAILER_IDS if r in retailer_apps.database_urls]
    for rid in rest:  # every answer takes a second: the partitions take a while
        retailer_apps.set_chaos(rid, slow_rate=1.0, slow_seconds=1.0)
    [submitted] = runs.submit_runs([DAY], rest, requested_by="test").runs
    run_id = submitted.run_id

    deadline = time.monotonic() + 90
    while True:  # two partitions under way, pages landed, none finished
        steps = _ingest_steps(engine, run_id)
        working = [r for r, (status, _, pages) in steps.items()
                   if status == "running" and pages >= 1]
        if len(working) == 2:
            break
        assert time.monotonic() < deadline, f"no partition got under way: {steps}"
        time.sleep(0.2)
    assert not [r for r, (status, _, _) in steps.items() if status == "succeeded"], steps
    worker = processes["ingestion"]
    assert worker.proc is not None
    os.killpg(worker.proc.pid, signal.SIGKILL)  # the worker and its pool, no goodbye
    worker.proc.wait(10)
    killed_at = time.monotonic()

    retailer_apps.reset_chaos()  # the retailers recover; the worker comes back
    worker.start().wait_healthy(60)
    while _run_status(engine, run_id) not in (*SUCCESS, "failed", "canceled"):
        assert time.monotonic() - killed_at < RECOVERY_BOUND_SECONDS, (
            f"run still {_run_status(engine, run_id)} {RECOVERY_BOUND_SECONDS}s after the "
            f"kill: {_ingest_steps(engine, run_id)}")
        time.sleep(0.5)
    recovered_in = time.monotonic() - killed_at
    record_property("seconds_from_kill_to_verdict", round(recovered_in, 1))
    log.warning("run finished %.1fs after the kill", recovered_in)

    assert _run_status(engine, run_id) in SUCCESS
    attempts = {r: a for r, (_, a, _) in _ingest_steps(engine, run_id).items()}
    assert sorted(attempts[r] for r in working) == [2, 2]  # each killed one was redone once
    warehouse = psycopg2.connect(settings.database_url)
    try:
        assert_marts_equal_sources(warehouse, retailer_apps, DAY, known=DAY)
    finally:
        warehouse.close()
    assert_reconciled(engine, run_id)
