"""services/transformation/tasks.py through a real Celery worker on Redis."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from shared.celery_app import celery_app
from tests.factories import generate_day, new_run
from tests.fixtures.core import wait_for

DAY = dt.date(2024, 4, 2)


@pytest.fixture(scope="module")
def worker(start_worker):
    # Two processes, so two partitions finish at about the same moment; quick retries.
    return start_worker("services.transformation.tasks", ["transformation"], concurrency=2,
                        env={"STEP_RETRY_DELAY_SECONDS": "0.2"})


def quality_messages(redis_db) -> int:
    """Messages waiting on the quality queue (kombu keeps one Redis list per priority)."""
    return sum(redis_db.llen(k) for k in redis_db.keys("quality*")
               if redis_db.type(k) == b"list")


def steps(lake, run_id: str) -> dict[tuple[str, str], str]:
    return {(r.step, r.retailer_id): r.status for r in lake.rows(
        "select step, retailer_id, status from ops.run_step where run_id = :r", r=run_id)}


def test_two_partitions_load_through_the_worker_and_hand_over_once(lake, worker, redis_db):
    for key in redis_db.keys("quality*"):
        redis_db.delete(key)
    parts = [generate_day(r, DAY, orders=300, seed=i)
             for i, r in enumerate(("retailer1", "retailer2"))]
    run_id = new_run(lake.engine, DAY, ["retailer1", "retailer2"])
    for p in parts:
        lake.land(p, run_id=run_id)
    for p in parts:
        celery_app.send_task("transformation.load_partition", kwargs={
            "run_id": run_id, "retailer_id": p.retailer_id, "run_date": DAY.isoformat()})

    wait_for(lambda: steps(lake, run_id)[("quality", "*")] == "queued", timeout=90,
             message="both loads and the hand-over")
    assert steps(lake, run_id) == {
        ("ingest", "retailer1"): "succeeded", ("ingest", "retailer2"): "succeeded",
        ("transform", "retailer1"): "succeeded", ("transform", "retailer2"): "succeeded",
        ("quality", "*"): "queued"}
    # The step commits as queued just before its message is published, so wait for both.
    wait_for(lambda: quality_messages(redis_db) >= 1, timeout=10,
             message="the quality message")
    assert quality_messages(redis_db) == 1
    assert lake.scalar("select count(*) from warehouse.fact_sales") == sum(
        len(p.order_lines) for p in parts)

    # A duplicate delivery of a finished step does nothing, and sends nothing.
    before = lake.checksum()
    result = celery_app.send_task("transformation.load_partition", kwargs={
        "run_id": run_id, "retailer_id": "retailer1", "run_date": DAY.isoformat()})
    assert result.get(timeout=60) == {"status": "skipped"}
    assert lake.checksum() == before
    assert quality_messages(redis_db) == 1


def test_concurrent_finishes_hand_over_exactly_once(lake):
    """Many loads finishing at once, in threads: one of them queues quality."""
    from shared import ops

    retailers = ["retailer1", "retailer2", "retailer3"]
    run_id = new_run(lake.engine, DAY, retailers)
    for i, r in enumerate(retailers):
        lake.land(generate_day(r, DAY, orders=30, seed=i), run_id=run_id)
    results: list = []
    barrier = threading.Barrier(len(retailers))

    def load(retailer_id: str) -> None:
        barrier.wait()
        results.append(lake.load(run_id, retailer_id, DAY))

    threads = [threading.Thread(target=load, args=(r,)) for r in retailers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    handed = [ref for r in results for ref in r.handed_over]
    assert len(handed) == 1 and handed[0].step == "quality"
    with lake.engine.begin() as conn:                               # and never again
        assert ops.queue_run_wide(conn, run_id, "quality") is None


def test_a_load_that_keeps_failing_is_retried_then_dead(lake, worker, settings):
    data = generate_day("retailer3", DAY, orders=5)
    run_id = new_run(lake.engine, DAY, ["retailer3"])
    lake.land(data, run_id=run_id)
    key = lake.scalar("select o->>'key' from ops.manifest, "
                      "jsonb_array_elements(manifest->'objects') o "
                      "where run_id = :r and o->>'entity' = 'orders'", r=run_id)
    lake.s3.delete_object(Bucket=settings.s3_bucket, Key=key)   # S3 lost an object
    celery_app.send_task("transformation.load_partition", kwargs={
        "run_id": run_id, "retailer_id": "retailer3", "run_date": DAY.isoformat()})
    wait_for(lambda: steps(lake, run_id)[("transform", "retailer3")] == "dead", timeout=90,
             message="the step to be dead-lettered")
    step = lake.rows("select attempts, error from ops.run_step where run_id = :r "
                     "and step = 'transform'", r=run_id)[0]
    assert step.attempts == 3 and "NoSuchKey" in step.error
    assert steps(lake, run_id)[("quality", "*")] == "queued"   # the run still gets a verdict
    assert lake.scalar("select count(*) from warehouse.fact_orders") == 0
