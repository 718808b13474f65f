"""Judging runs against the database: results stored, step completed, ops.run.status set."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from services.quality.checks import REGISTRY, Scope
from services.quality.errors import Conflict, InvalidRequest, NotFound
from services.quality.judge import judge_run, recheck_date
from shared.ops import RUN_WIDE, StepRef
from shared.settings import RETAILER_IDS
from shared.steps import record_failure
from tests.quality.seed import seed_run

EXPECTED_RESULTS = len(RETAILER_IDS) * len(REGISTRY.for_scope(Scope.RETAILER_DATE)) + len(
    REGISTRY.for_scope(Scope.RUN))


def run_row(engine, run_id: str):
    with engine.connect() as conn:
        return conn.execute(
            text("select r.status, r.error, r.finished_at, s.status as step_status, s.counts "
                 "from ops.run r join ops.run_step s on s.run_id = r.run_id "
                 "and s.step = 'quality' where r.run_id = :r"), {"r": run_id}).one()


def execute(engine, statement: str, **params) -> None:
    with engine.begin() as conn:
        conn.execute(text(statement), params)


def normal_day_faults(engine, run) -> None:
    """The retailers' everyday faults at their usual rate, in retailer1's partition."""
    order = run.order("retailer1", 2)
    # a customer without email
    execute(engine, "update warehouse.dim_customer set email = null where retailer_id = "
                    "'retailer1' and customer_id = 'C1'")
    # a line whose total does not add up, reported that way in the control totals too
    execute(engine, "update warehouse.fact_sales set line_total = line_total + 0.50 "
                    "where retailer_key = 1 and order_id = :o and line_number = 1", o=order)
    execute(engine, "update ops.manifest set manifest = jsonb_set(manifest, "
                    "'{control_totals,amount}', to_jsonb(((manifest #>> "
                    "'{control_totals,amount}')::numeric + 0.50)::text)) "
                    "where retailer_id = 'retailer1' and run_id = :r", r=run.run_id)
    # an unknown SKU, loaded against an inferred product
    execute(engine, "with p as (insert into warehouse.dim_product (retailer_id, product_id, "
                    "valid_from, is_inferred) values ('retailer1', 'SKU-X', '2020-01-01', true) "
                    "returning product_key) update warehouse.fact_sales set product_key = "
                    "(select product_key from p) where retailer_key = 1 and order_id = :o "
                    "and line_number = 2", o=order)
    # (the seeded day already carries a rejected negative quantity and a duplicate line)


def test_clean_run_succeeds_and_results_are_stored(quality_db, seeded_run) -> None:
    outcome = judge_run(seeded_run.run_id, seeded_run.run_date)
    assert outcome["status"] == "succeeded"
    row = run_row(quality_db, seeded_run.run_id)
    assert (row.status, row.step_status, row.error) == ("succeeded", "succeeded", None)
    assert row.counts == {"pass": EXPECTED_RESULTS, "warn": 0, "fail": 0, "error": 0}
    with quality_db.connect() as conn:
        stored = conn.execute(text(
            "select count(*), count(distinct retailer_id), min(run_date), max(run_date) "
            "from quality.check_result where run_id = :r"), {"r": seeded_run.run_id}).one()
    assert tuple(stored) == (EXPECTED_RESULTS, len(RETAILER_IDS) + 1, seeded_run.run_date,
                             seeded_run.run_date)


def test_a_normal_day_with_the_retailers_faults_succeeds_with_warnings(
        quality_db, seeded_run) -> None:
    normal_day_faults(quality_db, seeded_run)
    outcome = judge_run(seeded_run.run_id, seeded_run.run_date)
    assert outcome["status"] == "succeeded_with_warnings", outcome["reasons"]
    warned = {reason.split(" ")[0] for reason in outcome["reasons"]}
    assert warned == {"customer_email_present", "line_total_matches",
                      "inferred_members_completed"}
    assert run_row(quality_db, seeded_run.run_id).status == "succeeded_with_warnings"


def test_a_critical_failure_fails_the_run(quality_db, seeded_run) -> None:
    execute(quality_db, "delete from warehouse.fact_sales where retailer_key = 3 "
                        "and order_id = :o and line_number = 1", o=seeded_run.order("retailer3"))
    outcome = judge_run(seeded_run.run_id, seeded_run.run_date)
    assert outcome["status"] == "failed"
    row = run_row(quality_db, seeded_run.run_id)
    assert row.status == "failed"
    assert "critical check reconcile_line_count (retailer3) fail" in row.error
    assert row.counts["fail"] == 2  # line count and amount
    assert row.step_status == "succeeded"  # the step did its job: it judged


def test_a_failed_step_fails_the_run_even_when_checks_pass_elsewhere(
        quality_db, seeded_run) -> None:
    execute(quality_db, "update ops.run_step set status = 'dead', error = 'retailer down' "
                        "where run_id = :r and step = 'ingest' and retailer_id = 'retailer2'",
            r=seeded_run.run_id)
    outcome = judge_run(seeded_run.run_id, seeded_run.run_date)
    assert outcome["status"] == "failed"
    assert "step ingest retailer2 dead: retailer down" in run_row(
        quality_db, seeded_run.run_id).error


def test_a_duplicate_delivery_does_nothing(quality_db, seeded_run) -> None:
    first = judge_run(seeded_run.run_id, seeded_run.run_date)
    second = judge_run(seeded_run.run_id, seeded_run.run_date)
    assert first["status"] == "succeeded"
    assert second == {"run_id": seeded_run.run_id, "skipped": True}
    with quality_db.connect() as conn:
        evaluations = conn.execute(text("select max(evaluations) from quality.check_result "
                                        "where run_id = :r"), {"r": seeded_run.run_id}).scalar()
    assert evaluations == 1


def test_a_canceled_run_stays_canceled(quality_db, seeded_run) -> None:
    execute(quality_db, "update ops.run set status = 'canceled' where run_id = :r",
            r=seeded_run.run_id)
    judge_run(seeded_run.run_id, seeded_run.run_date)
    assert run_row(quality_db, seeded_run.run_id).status == "canceled"


def test_a_dead_quality_step_fails_the_run(quality_db, seeded_run) -> None:
    execute(quality_db, "update ops.run_step set attempts = max_attempts where run_id = :r "
                        "and step = 'quality'", r=seeded_run.run_id)
    ref = StepRef(seeded_run.run_id, "quality", RUN_WIDE, seeded_run.run_date)
    status = record_failure(ref, ConnectionError("database went away"), retryable=True).status
    row = run_row(quality_db, seeded_run.run_id)
    assert (status, row.step_status, row.status) == ("dead", "dead", "failed")
    assert "database went away" in row.error


def test_recheck_replaces_results_and_rejudges_the_latest_run(quality_db, seeded_run) -> None:
    execute(quality_db, "update warehouse.fact_orders set status = 'lost' where retailer_key = 2 "
                        "and order_id = :o", o=seeded_run.order("retailer2"))
    assert judge_run(seeded_run.run_id, seeded_run.run_date)["status"] == "failed"
    # someone repairs the row, then re-checks only retailer2
    execute(quality_db, "update warehouse.fact_orders set status = 'paid' where retailer_key = 2 "
                        "and order_id = :o", o=seeded_run.order("retailer2"))
    outcome = recheck_date(seeded_run.run_date, ["retailer2"])
    assert (outcome["run_id"], outcome["status"]) == (seeded_run.run_id, "succeeded")
    with quality_db.connect() as conn:
        rows = conn.execute(text(
            "select retailer_id, max(evaluations) from quality.check_result where run_id = :r "
            "group by retailer_id order by 1"), {"r": seeded_run.run_id}).all()
    assert [tuple(r) for r in rows] == [("*", 2), ("retailer1", 1), ("retailer2", 2),
                                        ("retailer3", 1), ("retailer5", 1)]
    assert run_row(quality_db, seeded_run.run_id).status == "succeeded"


def test_recheck_refuses_what_it_cannot_judge(quality_db, seeded_run) -> None:
    with pytest.raises(Conflict):  # the run is still running: its own step will judge it
        recheck_date(seeded_run.run_date)
    judge_run(seeded_run.run_id, seeded_run.run_date)
    with pytest.raises(NotFound):
        recheck_date(seeded_run.run_date - dt.timedelta(days=30))
    with quality_db.begin() as conn:
        only_one = seed_run(conn, seeded_run.run_date - dt.timedelta(days=1),
                            retailers=("retailer1",), status="succeeded")
    with pytest.raises(InvalidRequest):
        recheck_date(only_one.run_date, ["retailer2"])


def test_the_verdict_of_a_backfill_run_starts_the_next_dates_at_once(
        quality_db, seeded_run, ingestion_queue) -> None:
    judge_run(seeded_run.run_id, seeded_run.run_date)
    assert ingestion_queue() == []      # a run of its own frees no backfill slot
    execute(quality_db, "update ops.run set status = 'running', finished_at = null, "
                        "backfill_id = gen_random_uuid() where run_id = :r", r=seeded_run.run_id)
    execute(quality_db, "update ops.run_step set status = 'queued' where run_id = :r "
                        "and step = 'quality'", r=seeded_run.run_id)
    assert judge_run(seeded_run.run_id, seeded_run.run_date)["status"] == "succeeded"
    # sent after the verdict committed, to ingestion's queue (no wait for the 10 s beat)
    assert ingestion_queue() == [("ingestion.advance_backfills", {})]
