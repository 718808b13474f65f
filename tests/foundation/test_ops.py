"""The run/step state machine in shared/ops.py, on the real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import text

from shared import ops

DAY = dt.date(2024, 4, 2)
RETAILERS = ["retailer1", "retailer2"]


def _ref(run_id, step, retailer):
    return ops.StepRef(run_id, step, retailer, DAY)


def _status(engine, run_id, step, retailer):
    with engine.connect() as conn:
        return conn.execute(text(
            "select status, attempts from ops.run_step where run_id = :r and step = :s "
            "and retailer_id = :ret"), {"r": run_id, "s": step, "ret": retailer}).one()


def test_a_run_gets_every_step(clean_warehouse):
    with clean_warehouse.begin() as conn:
        run_id = ops.create_run(conn, DAY, RETAILERS)
        steps = conn.execute(text("select step, retailer_id, status from ops.run_step "
                                  "where run_id = :r order by 1, 2"), {"r": run_id}).all()
    assert steps == [("ingest", "retailer1", "pending"), ("ingest", "retailer2", "pending"),
                     ("quality", "*", "pending"), ("transform", "retailer1", "pending"),
                     ("transform", "retailer2", "pending")]


def test_a_finished_step_is_not_claimed_again(clean_warehouse):
    with clean_warehouse.begin() as conn:
        run_id = ops.create_run(conn, DAY, RETAILERS)
        ref = _ref(run_id, "ingest", "retailer1")
        assert ops.claim_step(conn, ref, lease_seconds=60)
        ops.complete_step(conn, ref, {"order_lines": {"received": 3}})
        assert not ops.claim_step(conn, ref, lease_seconds=60)  # a duplicate delivery
    assert _status(clean_warehouse, run_id, "ingest", "retailer1") == ("succeeded", 1)


def test_failures_retry_then_dead_letter(clean_warehouse):
    with clean_warehouse.begin() as conn:
        run_id = ops.create_run(conn, DAY, RETAILERS, max_attempts=2)
        ref = _ref(run_id, "transform", "retailer1")
        ops.claim_step(conn, ref, lease_seconds=60)
        assert ops.fail_step(conn, ref, "boom 1") == "pending"
        ops.claim_step(conn, ref, lease_seconds=60)
        assert ops.fail_step(conn, ref, "boom 2") == "dead"
        assert ops.failed_partitions(conn, run_id)[0]["error"] == "boom 2"
        other = _ref(run_id, "ingest", "retailer2")
        ops.claim_step(conn, other, lease_seconds=60)
        assert ops.fail_step(conn, other, "budget spent", retryable=False) == "failed"


def test_the_run_wide_hand_over_happens_exactly_once_under_concurrency(clean_warehouse):
    with clean_warehouse.begin() as conn:
        run_id = ops.create_run(conn, DAY, RETAILERS)
        for step in ("ingest", "transform"):
            for r in RETAILERS:
                ops.claim_step(conn, _ref(run_id, step, r), lease_seconds=60)
                ops.complete_step(conn, _ref(run_id, step, r), {})
    got: list[object] = []
    barrier = threading.Barrier(4)

    def finisher():
        barrier.wait()
        with clean_warehouse.begin() as conn:
            got.append(ops.queue_run_wide(conn, run_id, "quality"))

    threads = [threading.Thread(target=finisher) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refs = [g for g in got if g is not None]
    assert len(refs) == 1 and refs[0].step == "quality"
    assert _status(clean_warehouse, run_id, "quality", "*")[0] == "queued"


def test_no_hand_over_while_a_partition_is_open(clean_warehouse):
    with clean_warehouse.begin() as conn:
        run_id = ops.create_run(conn, DAY, RETAILERS)
        ops.claim_step(conn, _ref(run_id, "ingest", "retailer1"), lease_seconds=60)
        assert ops.queue_run_wide(conn, run_id, "quality") is None


def test_sweeper_resends_expired_leases_and_dead_letters_exhausted_steps(clean_warehouse):
    with clean_warehouse.begin() as conn:
        run_id = ops.create_run(conn, DAY, RETAILERS, max_attempts=2)
        a, b = _ref(run_id, "ingest", "retailer1"), _ref(run_id, "ingest", "retailer2")
        ops.claim_step(conn, a, lease_seconds=0)
        ops.claim_step(conn, b, lease_seconds=0, task_id="first")
        ops.claim_step(conn, b, lease_seconds=0, task_id="first")  # a redelivery: 2nd attempt
        conn.execute(text("update ops.run_step set lease_expires_at = now() - interval '1s' "
                          "where run_id = :r"), {"r": run_id})
        refs = ops.sweep(conn, stale_queued_seconds=600)
    assert [(r.step, r.retailer_id) for r in refs] == [("ingest", "retailer1")]
    assert _status(clean_warehouse, run_id, "ingest", "retailer1")[0] == "queued"
    assert _status(clean_warehouse, run_id, "ingest", "retailer2")[0] == "dead"


def test_a_live_lease_is_not_stolen_but_a_redelivery_or_an_expired_lease_is(clean_warehouse):
    with clean_warehouse.begin() as conn:
        run_id = ops.create_run(conn, DAY, RETAILERS)
        ref = _ref(run_id, "ingest", "retailer1")
        assert ops.claim_step(conn, ref, lease_seconds=60, task_id="t-1")
        assert not ops.claim_step(conn, ref, lease_seconds=60, task_id="t-2")  # re-sent copy
        assert ops.claim_step(conn, ref, lease_seconds=60, task_id="t-1")  # redelivery
        conn.execute(text("update ops.run_step set lease_expires_at = now() - interval '1s' "
                          "where run_id = :r"), {"r": run_id})
        assert ops.claim_step(conn, ref, lease_seconds=60, task_id="t-3")  # lease ran out


def test_a_run_whose_quality_step_is_dead_ends_failed(clean_warehouse):
    with clean_warehouse.begin() as conn:
        run_id = ops.create_run(conn, DAY, ["retailer1"], max_attempts=1)
        for step in ("ingest", "transform"):
            ops.claim_step(conn, _ref(run_id, step, "retailer1"), lease_seconds=60)
            ops.complete_step(conn, _ref(run_id, step, "retailer1"), {})
        quality = ops.queue_run_wide(conn, run_id, "quality")
        ops.claim_step(conn, quality, lease_seconds=0)
        conn.execute(text("update ops.run_step set lease_expires_at = now() - interval '1s' "
                          "where run_id = :r and step = 'quality'"), {"r": run_id})
        assert ops.sweep(conn, stale_queued_seconds=600) == []
        status = conn.execute(text("select status from ops.run where run_id = :r"),
                              {"r": run_id}).scalar_one()
    assert status == "failed"


def test_each_queue_has_its_own_exchange_and_routing_key():
    from shared.celery_app import QUEUES, celery_app

    queues = celery_app.amqp.queues
    assert {(queues[q].exchange.name, queues[q].routing_key) for q in QUEUES} == {
        (q, q) for q in QUEUES}
    router = celery_app.amqp.router
    for task, queue in (("ingestion.ingest_partition", "ingestion"),
                        ("transformation.load_partition", "transformation"),
                        ("quality.run_checks", "quality")):
        route = router.route({}, task)
        assert route["queue"].name == queue and route["queue"].routing_key == queue


def test_a_worker_freezes_its_start_up_objects_for_the_collector():
    import gc

    from celery.signals import worker_init, worker_process_init

    from shared.celery_app import GC_YOUNG_THRESHOLD  # connects the handlers, as workers do

    threshold = gc.get_threshold()
    try:
        for signal in (worker_init, worker_process_init):
            gc.unfreeze()
            gc.set_threshold(*threshold)
            assert gc.get_freeze_count() == 0
            signal.send(sender=None)
            # the modules loaded so far are far more than the objects a collection leaves
            assert gc.get_freeze_count() > 10_000
            assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *threshold[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
