"""The step runner (shared/steps.py) and the stage table (shared/stages.py) on the real
PostgreSQL and Redis: the lease outlives a long statement, and a new step kind is one
function plus one line of the table."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from shared import ops, stages
from shared.db import transaction
from shared.settings import StepSettings
from shared.stages import Stage
from shared.steps import PermanentError, StepContext, run_step

DAY = dt.date(2024, 4, 2)


def _steps(engine, run_id: str) -> dict[tuple[str, str], tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(text("select step, retailer_id, status, attempts from ops.run_step "
                                 "where run_id = :r"), {"r": run_id}).all()
    return {(r.step, r.retailer_id): (r.status, r.attempts) for r in rows}


def test_a_live_worker_keeps_its_lease_through_one_long_statement(clean_warehouse, settings):
    engine = clean_warehouse
    s = settings.model_copy(update={"step_lease_seconds": 2, "step_heartbeat_seconds": 0.4})
    with engine.begin() as conn:
        run_id = ops.create_run(conn, DAY, ["retailer1"])
    ref = ops.StepRef(run_id, "transform", "retailer1", DAY)

    def long_statement(step: StepContext) -> None:
        with transaction(step.engine) as conn:
            conn.execute(text("select pg_sleep(5)"))  # 2.5 leases in one statement
            step.finish(conn, {"slept": 5})

    resent: list[ops.StepRef] = []
    done = threading.Event()

    def sweeper() -> None:  # the sweeper at work all along, as beat would run it
        while not done.wait(0.3):
            with engine.begin() as conn:
                resent.extend(ops.sweep(conn, stale_queued_seconds=600))

    thread = threading.Thread(target=sweeper)
    thread.start()
    try:
        result = run_step(ref, long_statement, task_id="t-1", settings=s, engine=engine,
                          send=False)
    finally:
        done.set()
        thread.join()
    assert result.status == "succeeded" and result.counts == {"slept": 5}
    assert resent == []  # never taken for a dead worker's step
    assert _steps(engine, run_id)[("transform", "retailer1")] == ("succeeded", 1)


def test_a_work_that_never_finishes_its_step_is_a_failed_attempt(clean_warehouse, settings):
    engine = clean_warehouse
    with engine.begin() as conn:
        run_id = ops.create_run(conn, DAY, ["retailer1"], max_attempts=2)
    ref = ops.StepRef(run_id, "ingest", "retailer1", DAY)
    result = run_step(ref, lambda step: None, settings=settings, engine=engine, send=False)
    assert result.status == "retry" and "StepNotFinished" in (result.error or "")
    assert _steps(engine, run_id)[("ingest", "retailer1")] == ("pending", 1)


def test_a_new_step_kind_is_one_function_and_one_line_of_the_table(
        clean_warehouse, settings, monkeypatch, ingestion_queue):
    """retailer5's files are picked up by a task of their own (its real line of the table,
    `ingestion.ingest_file`), then loaded as usual; retailer4's stream needs no transform
    step. Neither touches the runner or ops."""
    monkeypatch.setattr(stages, "STAGES", (
        # the real table, but retailer4's line, replaced by a made-up one below
        *(s for s in stages.STAGES if s.retailers != frozenset({"retailer4"})),
        Stage("ingest", "ingestion.close_stream_day", then="quality",
              retailers=frozenset({"retailer4"})),
    ))
    engine = clean_warehouse
    retailers = ["retailer1", "retailer4", "retailer5"]
    with engine.begin() as conn:
        run_id = ops.create_run(conn, DAY, retailers)
        firsts = [ops.StepRef(run_id, "ingest", r, DAY) for r in retailers]
        ops.mark_queued(conn, firsts)
    assert set(_steps(engine, run_id)) == {
        ("ingest", "retailer1"), ("transform", "retailer1"), ("ingest", "retailer4"),
        ("ingest", "retailer5"), ("transform", "retailer5"), ("quality", "*")}
    ops.send_steps(firsts)  # each by the task its line names, on the real queue
    assert sorted(name for name, _ in ingestion_queue()) == [
        "ingestion.close_stream_day", "ingestion.ingest_file", "ingestion.ingest_partition"]

    def pick_up(step: StepContext) -> None:  # the new kind's "what this step does"
        with transaction(step.engine) as conn:
            step.finish(conn, {"files": 1})

    def refuse(step: StepContext) -> None:
        raise PermanentError("retailer1 is down past its budget", {"resource": "orders"})

    def run(retailer_id: str, step: str, work) -> list[tuple[str, str]]:
        ref = ops.StepRef(run_id, step, retailer_id, DAY)
        result = run_step(ref, work, settings=settings, engine=engine, send=False)
        return [(r.step, r.retailer_id) for r in result.handed_over]

    assert run("retailer5", "ingest", pick_up) == [("transform", "retailer5")]
    assert run("retailer4", "ingest", pick_up) == []       # quality waits for the others
    assert run("retailer1", "ingest", refuse) == []        # its transform has nothing to do
    assert _steps(engine, run_id)[("transform", "retailer1")] == ("skipped", 0)
    assert run("retailer5", "transform", pick_up) == [("quality", "*")]  # the last one
    assert _steps(engine, run_id)[("quality", "*")] == ("queued", 0)


def test_the_settings_refuse_a_lease_that_two_heartbeats_would_outlive(monkeypatch):
    monkeypatch.setenv("STEP_LEASE_SECONDS", "6")
    monkeypatch.setenv("STEP_HEARTBEAT_SECONDS", "3")
    with pytest.raises(ValidationError, match="more than twice STEP_HEARTBEAT_SECONDS"):
        StepSettings()
    monkeypatch.setenv("STEP_LEASE_SECONDS", "7")
    assert StepSettings().step_lease_seconds == 7


def test_a_beat_after_the_step_finished_is_no_lost_lease_but_a_taken_step_is(
        clean_warehouse, settings, caplog):
    """A beat that waited on the finishing transaction's row lock finds the step succeeded:
    that is the work's own end, not a lease lost to another task, and says nothing."""
    engine = clean_warehouse
    with engine.begin() as conn:
        run_id = ops.create_run(conn, DAY, ["retailer1", "retailer2"])
    beats: list[bool] = []

    def finish_then_beat(step: StepContext) -> None:
        with transaction(step.engine) as conn:
            step.finish(conn, {"done": 1})
        beats.append(step.lease.beat())   # the beat that ran into the commit

    def taken_then_beat(step: StepContext) -> None:
        with engine.begin() as conn:     # another delivery took the step over
            conn.execute(text("update ops.run_step set task_id = 'other' where run_id = :r "
                              "and step = 'transform' and retailer_id = 'retailer2'"),
                         {"r": run_id})
        beats.append(step.lease.beat())
        with transaction(step.engine) as conn:
            step.finish(conn, {"done": 1})

    caplog.set_level("WARNING", logger="shared.steps")
    run_step(ops.StepRef(run_id, "transform", "retailer1", DAY), finish_then_beat,
             task_id="t-1", settings=settings, engine=engine, send=False)
    assert beats == [False]
    assert "no longer held" not in caplog.text
    run_step(ops.StepRef(run_id, "transform", "retailer2", DAY), taken_then_beat,
             task_id="t-2", settings=settings, engine=engine, send=False)
    assert beats == [False, False]
    assert "the transform step of retailer2 is no longer held by this task" in caplog.text
