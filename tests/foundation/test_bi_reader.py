"""bi_reader enforced, not defaulted (issue #14, defect 6), from real connections as bi_reader.

Every test first lifts what a session can lift itself (read-only default, statement
timeout), so what is proved is what the role cannot undo: privileges, and the guard.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urlparse

import psycopg2
import pytest
from sqlalchemy import text

from shared.bi_guard import enforce_bi_reader


def bi_session(warehouse_db: str):
    conn = psycopg2.connect(warehouse_db.replace("postgres@", "bi_reader@"),
                            application_name="bi-probe")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("set default_transaction_read_only = off")
    cur.execute("set statement_timeout = 0")
    cur.execute("set idle_in_transaction_session_timeout = 0")
    return conn, cur


WRITES = [
    "insert into warehouse.dim_retailer values (9, 'x', 'x', 'USD', 'UTC')",
    "update warehouse.dim_date set year = 1 where date_key = 20240115",
    "delete from warehouse.fact_sales",
    "truncate marts.daily_orders",
    "create table warehouse.t_bi (x int)",
    "create table marts.t_bi (x int)",
    "create table public.t_bi (x int)",
    "create temp table t_bi (x int)",
    "create function pg_temp.f() returns int language sql as 'select 1'",
    "select lo_create(0)",
    "select lo_from_bytea(0, 'x')",
    "select count(*) from ops.run",
    "select count(*) from quality.check_result",
    "select * from ops.enforce_bi_reader(0)",
    "set role retail_pipeline",
    "alter role bi_reader createrole",
    "alter role bi_reader connection limit 100",
]


@pytest.mark.parametrize("statement", WRITES)
def test_whatever_its_session_sets_bi_reader_only_reads(warehouse_db, statement) -> None:
    conn, cur = bi_session(warehouse_db)
    try:
        cur.execute("begin read write")
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute(statement)
        cur.execute("rollback")
        # ...and reading is what it still can do
        cur.execute("select count(*) from warehouse.dim_date")
        assert cur.fetchone()[0] > 7000
        cur.execute("select count(*) from marts.daily_orders")
        assert cur.fetchone()[0] >= 0
    finally:
        conn.close()


def _guard_until(engine, limit: int, stop: threading.Event, passes: list) -> None:
    while not stop.is_set():
        with engine.begin() as conn:
            passes.append(enforce_bi_reader(conn, limit))
        time.sleep(0.2)


def test_a_statement_past_the_limit_is_cut_off_though_the_session_lifted_it(
        warehouse_db, engine) -> None:
    conn, cur = bi_session(warehouse_db)
    cur.execute("show statement_timeout")
    assert cur.fetchone()[0] == "0"  # lifted: the server no longer times it out by itself
    stop, passes = threading.Event(), []
    guard = threading.Thread(target=_guard_until, args=(engine, 1, stop, passes))
    guard.start()
    started = time.monotonic()
    try:
        with pytest.raises(psycopg2.errors.QueryCanceled):
            cur.execute("select pg_sleep(30)")
        took = time.monotonic() - started
    finally:
        stop.set()
        guard.join()
        conn.close()
    assert 1 <= took < 5, f"cut off after {took:.1f}s with a 1 s limit"
    assert sum(p.canceled for p in passes) == 1


def test_a_transaction_left_open_past_the_limit_is_ended(warehouse_db, engine) -> None:
    conn, cur = bi_session(warehouse_db)
    cur.execute("begin")
    cur.execute("select count(*) from warehouse.fact_sales")  # holds a lock on it now
    time.sleep(1.5)
    with engine.begin() as guard:
        done = enforce_bi_reader(guard, 1)
    assert done.terminated == 1
    with pytest.raises(psycopg2.OperationalError):
        cur.execute("select 1")
    conn.close()


def test_role_defaults_it_changes_on_itself_are_put_back(warehouse_db, engine) -> None:
    """PostgreSQL 15 lets a role change its own defaults (this cannot be revoked); the
    guard restores them on its next pass. Done per database, so other databases on this
    server never see the change."""
    db = urlparse(warehouse_db).path.lstrip("/")
    conn, cur = bi_session(warehouse_db)
    try:
        cur.execute(f'alter role bi_reader in database "{db}" set statement_timeout = 0')
    finally:
        conn.close()
    conn = psycopg2.connect(warehouse_db.replace("postgres@", "bi_reader@"))
    cur = conn.cursor()
    cur.execute("show statement_timeout")
    assert cur.fetchone()[0] == "0"  # the change took effect for new sessions
    conn.close()
    with engine.begin() as guard:
        assert enforce_bi_reader(guard, 60).defaults_restored
    with engine.connect() as check:
        stray = check.execute(text(
            "select count(*) from pg_db_role_setting s join pg_database d "
            "on d.oid = s.setdatabase where s.setrole = 'bi_reader'::regrole "
            "and d.datname = :db"), {"db": db}).scalar_one()
    assert stray == 0
    conn = psycopg2.connect(warehouse_db.replace("postgres@", "bi_reader@"))
    try:
        cur = conn.cursor()
        cur.execute("show statement_timeout")
        assert cur.fetchone()[0] == "1min"
        cur.execute("show default_transaction_read_only")
        assert cur.fetchone()[0] == "on"
    finally:
        conn.close()


def test_the_scheduler_runs_the_guard() -> None:
    from services.ingestion.schedule import beat_schedule
    from services.ingestion.settings import IngestionBeatSettings

    entry = beat_schedule()["guard-bi-reader"]
    assert entry["task"] == "ingestion.guard_bi_reader"
    assert entry["schedule"] == IngestionBeatSettings().bi_guard_interval_seconds <= 10
