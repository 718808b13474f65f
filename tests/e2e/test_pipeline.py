"""A date through the whole suite, with every real process: the three retailers
(gunicorn), the ingestion API (uvicorn), and ingestion, transformation and quality Celery
workers on Redis, PostgreSQL and the S3 server. Beat is off; the test runs the sweeper
itself where a test needs one.

The tests of this module build on each other in order (one date, then the same date
again, then the next dates), as a user's days do.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial

import psycopg2
import pytest
from sqlalchemy import text

from shared import ops
from shared.settings import RETAILER_IDS
from suite.processes import ManagedProcess, free_port
from tests.e2e.client import SUCCESS, RunClient
from tests.e2e.truth import actual_marts, assert_marts_match
from tests.fixtures.core import (
    api_process,
    celery_worker,
    purge_queues,
    truncate_pipeline_tables,
)

DAY1, DAY2, DAY3 = dt.date(2024, 1, 15), dt.date(2024, 1, 16), dt.date(2024, 1, 17)
# Short leases so a killed worker's step is re-sent within seconds, not minutes.
WORKER_ENV = {"STEP_LEASE_SECONDS": "8"}
# Columns that say when or by which run a row was written, not what it says.
VOLATILE = {"run_id", "loaded_at", "updated_at", "refreshed_at"}


@dataclass
class Suite(RunClient):
    """The running processes of the suite and how to talk to them."""

    workers: dict[str, ManagedProcess] = field(default_factory=dict)
    # drops retailer5's files of a date and returns its sales file's bytes
    drop_files: Callable[[dt.date], bytes] | None = None
    # retailer5's latest sales file per batch date (dropped before a date's first run)
    files: dict[dt.date, bytes] = field(default_factory=dict)

    def post_run(self, day: dt.date) -> str:
        if day not in self.files and self.drop_files is not None:
            self.files[day] = self.drop_files(day)
        return super().post_run(day)

    def wait_sweeping(self, run_id: str, timeout: float = 240, every: float = 2) -> dict:
        """Wait for the run, sweeping every `every` seconds as beat would (it is off)."""
        last = [time.monotonic()]

        def sweep_now() -> None:
            if time.monotonic() - last[0] > every:
                sweep(stale_seconds=int(WORKER_ENV["STEP_LEASE_SECONDS"]))
                last[0] = time.monotonic()

        return self.wait(run_id, timeout, meanwhile=sweep_now)


def sweep(stale_seconds: int) -> list[ops.StepRef]:
    from shared.db import transaction

    with transaction() as conn:
        refs = ops.sweep(conn, stale_queued_seconds=stale_seconds)
    ops.send_steps(refs)
    return refs


@pytest.fixture(scope="module")
def suite(retailer_apps, engine, s3, redis_db, settings) -> Iterator[Suite]:
    truncate_pipeline_tables(engine)
    purge_queues()
    port = free_port()
    api = api_process("ingestion", port, name="e2e-ingestion-api", env=WORKER_ENV)
    workers = {
        name: celery_worker(f"services.{name}.tasks", [name], name=f"e2e-{name}",
                            env=WORKER_ENV, concurrency=2 if name == "ingestion" else 1)
        for name in ("ingestion", "transformation", "quality")
    }
    procs = [api, *workers.values()]
    try:
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.wait_healthy(90)
        yield Suite(f"http://127.0.0.1:{port}", settings.pipeline_api_token.get_secret_value(),
                    workers=workers, drop_files=partial(drop_retailer5, s3, settings))
    finally:
        for proc in [api, *workers.values()]:
            proc.stop()
        purge_queues()


@pytest.fixture
def warehouse(settings) -> Iterator:
    conn = psycopg2.connect(settings.database_url)
    yield conn
    conn.close()


def drop_retailer5(s3, settings, day: dt.date) -> bytes:
    """retailer5 drops its files of `day` (as `retailers drop-files` does); returns the
    sales file's bytes, from which the truth is computed."""
    from retailers.retailer5.drop import drop
    from retailers.retailer5.files import day_files

    files = day_files(settings.retailer, day)
    drop(s3, settings.s3_bucket, "inbox/retailer5/", files)
    return next(f.body for f in files if f.name == f"sales_{day:%Y%m%d}.csv")


def assert_marts_equal_sources(warehouse, retailer_apps, day: dt.date, known: dt.date,
                               files: dict[dt.date, bytes] | None = None) -> dict:
    return assert_marts_match(warehouse, retailer_apps.database_urls, day, known, files=files)


def assert_reconciled(engine, run_id: str) -> None:
    """Both reconciliation checks passed for each retailer of the run."""
    with engine.connect() as conn:
        retailers = conn.execute(text("select cardinality(retailers) from ops.run "
                                      "where run_id = :r"), {"r": run_id}).scalar_one()
        checks = conn.execute(text(
            "select retailer_id, status from quality.check_result where run_id = :r "
            "and check_name in ('reconcile_line_count', 'reconcile_amount')"),
            {"r": run_id}).all()
    assert len(checks) == 2 * retailers, checks
    assert all(status == "pass" for _, status in checks), checks


def table_checksums(warehouse) -> dict[str, str]:
    """md5 over every row of every warehouse and marts table, ignoring who wrote it when."""
    sums = {}
    with warehouse.cursor() as cur:
        cur.execute("select table_schema, table_name from information_schema.tables "
                    "where table_schema in ('warehouse', 'marts') and table_type = 'BASE TABLE'"
                    " order by 1, 2")
        for schema, table in cur.fetchall():
            cur.execute("select column_name from information_schema.columns where "
                        "table_schema = %s and table_name = %s order by ordinal_position",
                        (schema, table))
            cols = [c for (c,) in cur.fetchall() if c not in VOLATILE and not c.endswith("_key")]
            row = "(" + ", ".join(f'"{c}"' for c in cols) + ")::text"
            cur.execute(f'select count(*), md5(coalesce(string_agg({row}, \'|\' order by {row}),'
                        f' \'\')) from "{schema}"."{table}"')
            count, digest = cur.fetchone()
            sums[f"{schema}.{table}"] = f"{count}:{digest}"
    warehouse.rollback()
    return sums


def test_a_seeded_date_goes_through_and_the_marts_equal_the_sources(suite, retailer_apps,
                                                                     warehouse):
    run = suite.wait(suite.post_run(DAY1))
    assert run["status"] in SUCCESS, run
    for rid in RETAILER_IDS:
        steps = run["retailers"][rid]
        assert steps["ingest"]["status"] == steps["transform"]["status"] == "succeeded"
    actual = assert_marts_equal_sources(warehouse, retailer_apps, DAY1, known=DAY1,
                                        files=suite.files)
    assert actual["daily_orders"]["ALL"]["orders_created"] > 100


def test_running_the_same_date_again_changes_nothing(suite, warehouse, s3, settings):
    before = table_checksums(warehouse)
    run = suite.wait(suite.post_run(DAY1))
    assert run["status"] in SUCCESS, run
    assert table_checksums(warehouse) == before
    # Each run landed under its own prefix; the first run's bronze is still there.
    prefix = f"bronze/retailer=retailer1/entity=order-lines/date={DAY1}/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=settings.s3_bucket,
                                                 Prefix=prefix).get("Contents", [])]
    assert len({k.split("run=")[1].split("/")[0] for k in keys}) == 2, keys


def test_the_next_dates_lifecycle_changes_update_the_first_dates_fulfillment(
        suite, retailer_apps, warehouse):
    first = actual_marts(warehouse, DAY1, ["fulfillment_times"])["fulfillment_times"]
    run = suite.wait(suite.post_run(DAY2))
    assert run["status"] in SUCCESS, run
    after = assert_marts_equal_sources(warehouse, retailer_apps, DAY1, known=DAY2,
                                       files=suite.files)
    shipped_before = first["ALL"]["orders_shipped"]
    assert after["fulfillment_times"]["ALL"]["orders_shipped"] > shipped_before
    assert after["fulfillment_times"]["ALL"]["orders_delivered"] >= first["ALL"][
        "orders_delivered"]
    assert_marts_equal_sources(warehouse, retailer_apps, DAY2, known=DAY2, files=suite.files)


def test_killing_the_transformation_worker_mid_run_still_ends_exact(
        suite, retailer_apps, warehouse, engine):
    # Hold the fact table so the first load blocks inside its transaction.
    blocker = psycopg2.connect(retailer_apps.settings.database_url)
    blocker.cursor().execute("lock table warehouse.fact_sales in access exclusive mode")
    try:
        run_id = suite.post_run(DAY3)

        def a_load_is_running() -> bool:
            with engine.connect() as conn:
                return bool(conn.execute(text(
                    "select 1 from pg_stat_activity where application_name = 'e2e-transformation'"
                    " and wait_event_type = 'Lock'")).first())

        deadline = time.monotonic() + 90
        while not a_load_is_running():
            assert time.monotonic() < deadline, "no load started"
            time.sleep(0.2)
        suite.workers["transformation"].stop(timeout=0)  # SIGKILL: no clean shutdown
        with engine.connect() as conn:  # its abandoned connection, as a dead host's would be
            conn.execute(text("select pg_terminate_backend(pid) from pg_stat_activity "
                              "where application_name = 'e2e-transformation'"))
    finally:
        blocker.rollback()
        blocker.close()
    suite.workers["transformation"].start().wait_healthy(90)
    run = suite.wait_sweeping(run_id)
    assert run["status"] in SUCCESS, run
    attempts = [run["retailers"][r]["transform"]["attempts"] for r in run["retailers"]]
    assert max(attempts) >= 2  # the killed load was redone
    assert_marts_equal_sources(warehouse, retailer_apps, DAY3, known=DAY3, files=suite.files)
    assert_reconciled(engine, run_id)


def test_a_corrected_file_dropped_later_is_picked_up_by_beat_and_restates_its_dates(
        suite, retailer_apps, warehouse, engine, s3, settings, tmp_path):
    """retailer5 uploads a corrected DAY3 file (lines changed, removed, added, one order
    re-dated to DAY1). Beat's inbox scan finds it within seconds, a run of DAY3 for
    retailer5 loads it, and the marts of DAY3 and of DAY1 equal the latest files."""
    from retailers.retailer5.drop import drop
    from retailers.retailer5.files import Faults, day_files

    assert DAY3 in suite.files, "runs after the DAY3 test"
    beat = ManagedProcess(
        "e2e-beat", ["celery", "-A", "services.ingestion.schedule:celery_app", "beat", "-s",
                     str(tmp_path / "celerybeat-schedule"), "-l", "INFO"],
        env={"INBOX_SCAN_SECONDS": "1"}, log_dir=tmp_path,
        health=lambda: (tmp_path / "celerybeat-schedule.sent").exists())
    fixed = day_files(settings.retailer, DAY3, faults=Faults(correction=True))
    dropped_at = time.monotonic()
    drop(s3, settings.s3_bucket, "inbox/retailer5/", fixed)
    beat.start()
    try:
        deadline = time.monotonic() + 120
        run_id = None
        while run_id is None:
            assert time.monotonic() < deadline, "the file was not picked up"
            with engine.connect() as conn:
                run_id = conn.execute(text(
                    "select run_id from ops.run where requested_by = 'inbox' "
                    "and run_date = :d"), {"d": DAY3}).scalar()
            time.sleep(0.3)
        picked_up = time.monotonic() - dropped_at
        run = suite.wait(str(run_id))
    finally:
        beat.stop()
    assert picked_up < 30, picked_up
    assert run["status"] in SUCCESS, run
    assert set(run["retailers"]) == {"retailer5"}
    suite.files[DAY3] = next(f.body for f in fixed if f.name == f"sales_{DAY3:%Y%m%d}.csv")
    assert_marts_equal_sources(warehouse, retailer_apps, DAY3, known=DAY3, files=suite.files)
    assert_marts_equal_sources(warehouse, retailer_apps, DAY1, known=DAY3, files=suite.files)
    with engine.connect() as conn:
        audit = conn.execute(text(
            "select requested_by, dates_touched from ops.restatement "
            "where retailer_id = 'retailer5' and batch_date = :d"), {"d": DAY3}).one()
    assert audit.requested_by == "inbox" and set(audit.dates_touched) == {DAY1, DAY3}
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=settings.s3_bucket,
                                                   Prefix="inbox/").get("Contents", [])}
    assert keys == set()
