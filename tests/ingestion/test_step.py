"""The ingest step's bookkeeping in ops (step.py, run by shared/steps.py) when things go
wrong, in-process: a retailer down past its budget, an attempt failing for another reason,
a duplicate delivery. The happy path runs in a real worker in test_ingest_partition.py."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from shared import ops
from tests.fixtures.ingestion import ingest_step, make_run

DAY = dt.date(2024, 1, 15)


def _steps(engine, run_id: str) -> dict[tuple[str, str], dict]:
    with engine.connect() as conn:
        rows = conn.execute(text("select step, retailer_id, status, attempts, error, "
                                 "error_detail from ops.run_step where run_id = :r"),
                            {"r": run_id}).mappings().all()
    return {(r["step"], r["retailer_id"]): dict(r) for r in rows}


@pytest.fixture
def quality_queue(redis_db):
    redis_db.delete("quality")
    yield lambda: redis_db.llen("quality")
    redis_db.delete("quality")


def _settings(settings, **ingestion):
    s = settings.model_copy(deep=True)
    for name, value in ingestion.items():
        setattr(s.ingestion, name, value)
    return s


class BrokenS3:
    """An S3 client whose every call fails, as a storage outage would."""

    def __getattr__(self, name):
        def fail(*_args, **_kwargs):
            raise ConnectionError(f"s3 {name}: connection reset")
        return fail


def test_a_retailer_down_past_its_budget_fails_the_step_and_hands_over(
        clean_warehouse, clean_bucket, settings, quality_queue):
    engine = clean_warehouse
    run_id = make_run(engine, DAY, ["retailer1"])
    ref = ops.StepRef(run_id, "ingest", "retailer1", DAY)
    # nothing listens on a port that was just closed
    s = _settings(settings, retry_max_attempts=2, retry_base_delay_seconds=0.01)
    s.retailer1.url = "http://127.0.0.1:1"
    assert ingest_step(ref, task_id="t1", settings=s, engine=engine,
                       s3=clean_bucket).status == "failed"
    steps = _steps(engine, run_id)
    ingest = steps[("ingest", "retailer1")]
    assert ingest["status"] == "failed" and ingest["attempts"] == 1
    assert ingest["error_detail"]["retailer_id"] == "retailer1"
    assert ingest["error_detail"]["resource"] == "control-totals"
    assert "ConnectError" in ingest["error_detail"]["error"]
    assert steps[("transform", "retailer1")]["status"] == "skipped"
    assert steps[("quality", "*")]["status"] == "queued"
    assert quality_queue() == 1


def test_other_failures_are_retried_until_max_attempts_then_dead(
        clean_warehouse, settings, quality_queue):
    engine = clean_warehouse
    run_id = make_run(engine, DAY, ["retailer2"], max_attempts=2)
    ref = ops.StepRef(run_id, "ingest", "retailer2", DAY)
    assert ingest_step(ref, task_id="t1", settings=settings, engine=engine,
                       s3=BrokenS3()).status == "retry"
    first = _steps(engine, run_id)[("ingest", "retailer2")]
    assert (first["status"], first["attempts"]) == ("pending", 1)
    assert "connection reset" in first["error"]
    assert first["error_detail"]["exception"] == "ConnectionError"
    assert quality_queue() == 0
    assert ingest_step(ref, task_id="t1", settings=settings, engine=engine,
                       s3=BrokenS3()).status == "dead"
    steps = _steps(engine, run_id)
    assert steps[("ingest", "retailer2")]["status"] == "dead"
    assert steps[("transform", "retailer2")]["status"] == "skipped"
    assert steps[("quality", "*")]["status"] == "queued" and quality_queue() == 1


def test_a_duplicate_delivery_of_a_finished_step_does_nothing(clean_warehouse, settings):
    engine = clean_warehouse
    run_id = make_run(engine, DAY, ["retailer3"])
    ref = ops.StepRef(run_id, "ingest", "retailer3", DAY)
    with engine.begin() as conn:
        ops.claim_step(conn, ref, lease_seconds=60, task_id="t1")
        ops.complete_step(conn, ref, {"order_lines": {"received": 1}})
    assert ingest_step(ref, task_id="t2", settings=settings, engine=engine,
                       s3=BrokenS3()).status == "skipped"
    assert _steps(engine, run_id)[("ingest", "retailer3")]["attempts"] == 1
