"""Scenarios 1, 3 and 5 of issue #14: a worker SIGKILLed in the middle of its step, and the
database connections of a load terminated under it."""

from __future__ import annotations

import datetime as dt
import time

import psycopg2
import pytest

from tests.faults.harness import (
    RETAILERS,
    assert_exact,
    report,
    running_suite,
    wait_until,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow]


@pytest.fixture(scope="module")
def suite(settings, empty_pipeline):
    with running_suite(settings, "faults-workers") as running:
        yield running


def attempts(suite, run_id: str, step: str, retailer_id: str) -> int:
    with suite.db() as cur:
        cur.execute("select attempts from ops.run_step where run_id = %s and step = %s "
                    "and retailer_id = %s", (run_id, step, retailer_id))
        return cur.fetchone()[0]


def test_ingestion_worker_killed_mid_partition(suite, retailer_chaos, fresh_day) -> None:
    day = fresh_day(dt.date(2024, 3, 4))
    # Every retailer1 page answers after 0.3 s, so its partition takes several seconds.
    retailer_chaos.set_chaos("retailer1", slow_rate=1.0, slow_seconds=0.3)
    run_id = suite.post_run(day)
    wait_until(lambda: suite.step_status(run_id, "ingest", "retailer1") == "running",
               what="retailer1's ingest to start")
    time.sleep(1.5)  # some pages fetched and written, not all
    assert suite.step_status(run_id, "ingest", "retailer1") == "running"
    suite.kill("ingestion")
    killed_at = time.monotonic()
    retailer_chaos.reset_chaos("retailer1", wait=False)
    suite.restart("ingestion")  # what the stack's supervisor (or compose) does
    wait_until(lambda: attempts(suite, run_id, "ingest", "retailer1") >= 2, timeout=120,
               what="the killed partition to be taken up again")
    back = time.monotonic() - killed_at
    run = suite.wait(run_id)
    done = time.monotonic() - killed_at
    totals = assert_exact(suite, retailer_chaos.database_urls, run_id, day)
    assert run["retailers"]["retailer1"]["ingest"]["attempts"] >= 2
    report("1 ingestion worker SIGKILL mid-partition", back_to_work_s=round(back, 1),
           run_end_after_kill_s=round(done, 1), status=run["status"], **_flat(totals))


def test_quality_worker_killed_mid_check(suite, retailer_apps, fresh_day, engine) -> None:
    day = fresh_day(dt.date(2024, 3, 11))
    # The checks' results cannot be stored while this lock is held: the quality worker
    # stops inside its step, with the checks evaluated and nothing written.
    blocker = psycopg2.connect(suite.database_url)
    blocker.cursor().execute("lock table quality.check_result in access exclusive mode")
    try:
        run_id = suite.post_run(day)

        def checking() -> bool:
            with suite.db() as cur:
                cur.execute("select 1 from pg_stat_activity where application_name = "
                            "'faults-workers-quality' and wait_event_type = 'Lock'")
                return cur.fetchone() is not None

        wait_until(checking, timeout=120, what="the quality step to be inside its checks")
        assert suite.step_status(run_id, "quality", "*") == "running"
        suite.kill("quality")
        killed_at = time.monotonic()
        with suite.db() as cur:  # a dead host's connection does not linger either
            cur.execute("select pg_terminate_backend(pid) from pg_stat_activity "
                        "where application_name = 'faults-workers-quality'")
    finally:
        blocker.rollback()
        blocker.close()
    suite.restart("quality")
    wait_until(lambda: attempts(suite, run_id, "quality", "*") >= 2, timeout=120,
               what="the quality step to be taken up again")
    back = time.monotonic() - killed_at
    run = suite.wait(run_id)
    done = time.monotonic() - killed_at
    totals = assert_exact(suite, retailer_apps.database_urls, run_id, day)
    with suite.db() as cur:
        cur.execute("select count(*), count(distinct (retailer_id, check_name)) "
                    "from quality.check_result where run_id = %s", (run_id,))
        results, distinct = cur.fetchone()
    assert results == distinct > 0, "each check stored once for the run"
    report("3 quality worker SIGKILL mid-check", back_to_work_s=round(back, 1),
           run_end_after_kill_s=round(done, 1), status=run["status"], **_flat(totals))


def test_database_connections_terminated_mid_load(suite, retailer_apps, fresh_day) -> None:
    day = fresh_day(dt.date(2024, 3, 18))
    # Hold the fact table so every load waits inside its transaction, then cut them off.
    blocker = psycopg2.connect(suite.database_url)
    blocker.cursor().execute("lock table warehouse.fact_sales in access exclusive mode")
    try:
        run_id = suite.post_run(day)

        def loading() -> bool:
            with suite.db() as cur:
                cur.execute("select 1 from pg_stat_activity where application_name = "
                            "'faults-workers-transformation' and wait_event_type = 'Lock'")
                return cur.fetchone() is not None

        wait_until(loading, timeout=120, what="a load to be inside its transaction")
        with suite.db() as cur:
            cur.execute("select count(pg_terminate_backend(pid)) from pg_stat_activity "
                        "where application_name like 'faults-workers-%%' "
                        "and pid <> pg_backend_pid()")
            terminated = cur.fetchone()[0]
        cut_at = time.monotonic()
    finally:
        blocker.rollback()
        blocker.close()
    assert terminated >= 1
    run = suite.wait(run_id)
    done = time.monotonic() - cut_at
    totals = assert_exact(suite, retailer_apps.database_urls, run_id, day)
    transform_attempts = {r: run["retailers"][r]["transform"]["attempts"] for r in RETAILERS}
    assert max(transform_attempts.values()) >= 2, transform_attempts  # the cut load was redone
    report("5 PostgreSQL connections terminated mid-load", connections_cut=terminated,
           run_end_after_cut_s=round(done, 1), status=run["status"],
           transform_attempts=transform_attempts, **_flat(totals))


def _flat(totals: dict) -> dict:
    return {f"{rid}_lines": t["lines"] for rid, t in totals.items()} | {
        f"{rid}_money": f"{t['money']} {t['currency']}" for rid, t in totals.items()}
