"""The Celery tasks (tasks.py) in real worker processes: a run posted to the API is landed
under chaos and handed to transformation; an attempt that keeps failing is retried by
Celery until the step is dead; the backfill task starts waiting dates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import orjson
import pytest
from sqlalchemy import text

from services.ingestion import runs
from shared import ops
from shared.celery_app import celery_app
from tests.fixtures.core import wait_for
from tests.fixtures.ingestion import control_lines_in_objects

RETAILERS = ("retailer1", "retailer2", "retailer3")
TASKS = "services.ingestion.tasks"


@pytest.fixture
def queue_length(redis_db):
    """How many messages wait in a queue; the downstream queues start and end empty."""
    for queue in ("transformation", "quality"):
        redis_db.delete(queue)
    yield redis_db.llen
    for queue in ("transformation", "quality"):
        redis_db.delete(queue)


def _manifests(s3, bucket: str, run_id: str) -> dict[str, dict]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="manifests/")
    found = [orjson.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
             for o in listed.get("Contents", []) if o["Key"].endswith(f"run={run_id}.json")]
    return {m["retailer_id"]: m for m in found}


def _step(engine, run_id: str, step: str, retailer_id: str):
    with engine.connect() as conn:
        return conn.execute(text(
            "select status, attempts, error from ops.run_step "
            "where run_id = :r and step = :s and retailer_id = :ret"),
            {"r": run_id, "s": step, "ret": retailer_id}).first()


def test_a_posted_run_is_landed_under_chaos_and_handed_over(
        retailer_chaos, clean_bucket, ingestion_api, auth_headers, start_worker, queue_length,
        settings):
    s3, bucket = clean_bucket, settings.s3_bucket
    for rid in RETAILERS:  # 20% of data requests fail: 10% 500s, 10% 429s
        retailer_chaos.set_chaos(rid, wait=rid == RETAILERS[-1], error_rate=0.1,
                                 throttle_rate=0.1, retry_after=1)
    worker = start_worker(TASKS, ["ingestion"], concurrency=3,
                          env={"INGESTION_PAGE_SIZE": "25", "STEP_HEARTBEAT_SECONDS": "0.2",
                               "INGESTION_RETRY_BASE_DELAY_SECONDS": "0.05"})
    try:
        resp = ingestion_api.post("/runs", json={"date": "2024-01-16"}, headers=auth_headers)
        assert resp.status_code == 202
        status_url = resp.json()["status_url"]

        def ingested():
            run = ingestion_api.get(status_url).json()
            steps = [run["retailers"][r]["ingest"] for r in RETAILERS]
            assert not [s for s in steps if s["status"] in ("failed", "dead")], steps
            return run if all(s["status"] == "succeeded" for s in steps) else None

        run = wait_for(ingested, timeout=120, message="three ingest steps to succeed")
        # a task sends transformation's message right after its step commits
        wait_for(lambda: queue_length("transformation") == 3, timeout=10,
                 message="one transformation.load_partition per retailer")
    finally:
        worker.stop()
    manifests = _manifests(s3, bucket, run["run_id"])
    for rid in RETAILERS:
        step, m = run["retailers"][rid]["ingest"], manifests[rid]
        assert run["retailers"][rid]["transform"]["status"] == "queued"
        assert step["counts"]["pages"] > 3 and step["counts"]["bytes"] > 0
        assert step["counts"]["order_lines"] == m["counts"]["order_lines"]
        # the silver objects hold every line the retailer counts, chaos or not
        line_count, amount = control_lines_in_objects(s3, bucket, m)
        assert line_count == m["control_totals"]["line_count"] > 0
        assert amount == Decimal(m["control_totals"]["amount"])
    assert sum(m["http"]["retries"] for m in manifests.values()) > 0  # the chaos was real
    assert run["counts"]["order_lines"]["received"] > 0


def test_an_attempt_that_keeps_failing_is_retried_until_the_step_is_dead(
        clean_warehouse, start_worker, queue_length):
    engine = clean_warehouse
    day = dt.date(2024, 1, 15)
    with engine.begin() as conn:
        run_id = ops.create_run(conn, day, ["retailer1"], requested_by="test", max_attempts=3)
        ref = ops.StepRef(run_id, "ingest", "retailer1", day)
        ops.mark_queued(conn, [ref])
    # a worker whose object store refuses every call: each attempt fails after claiming
    worker = start_worker(TASKS, ["ingestion"],
                          env={"S3_BUCKET": "not a bucket name",
                               "STEP_RETRY_DELAY_SECONDS": "0.2"})
    try:
        ops.send_steps([ref], celery_app)
        wait_for(lambda: _step(engine, run_id, "ingest", "retailer1").status == "dead",
                 timeout=90, message="the ingest step to be dead")
        # quality's message leaves right after the step's end commits
        wait_for(lambda: queue_length("quality") == 1, timeout=10,
                 message="quality.run_checks to be sent")
    finally:
        worker.stop()
    dead = _step(engine, run_id, "ingest", "retailer1")
    assert dead.attempts == 3 and "bucket" in dead.error.lower()
    assert _step(engine, run_id, "transform", "retailer1").status == "skipped"
    assert _step(engine, run_id, "quality", "*").status == "queued"
    assert "Retry in" in worker.log_path.read_text(errors="replace")  # Celery's own retries


def test_the_backfill_task_starts_waiting_dates(clean_warehouse, ingestion_queue):
    engine = clean_warehouse
    submitted = runs.submit_runs([dt.date(2024, 1, 10), dt.date(2024, 1, 11),
                                  dt.date(2024, 1, 12)], ["retailer2"], requested_by="test")
    first, _, third = (r.run_id for r in submitted.runs)
    with engine.begin() as conn:
        ops.finish_run(conn, first, "succeeded")
    # the task's body, run here: no worker may pick up the ingest steps it queues
    from services.ingestion.tasks import advance_backfills

    assert advance_backfills.apply().get() == 1
    with engine.connect() as conn:
        status = conn.execute(text("select status from ops.run where run_id = :r"),
                              {"r": third}).scalar_one()
    assert status == "running"
    assert any(kw["run_date"] == "2024-01-12" for _, kw in ingestion_queue())
