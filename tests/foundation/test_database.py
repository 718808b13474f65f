"""The warehouse DDL, roles and the one-active-run rule, on the real PostgreSQL."""

from __future__ import annotations

import datetime as dt

import psycopg2
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from shared import ops
from suite.dbinit import apply_sql, init_files


def test_ddl_applies_twice_without_error_or_change(warehouse_db, engine):
    with engine.connect() as conn:
        before = conn.execute(text(
            "select count(*) from information_schema.columns "
            "where table_schema in ('warehouse','marts','ops','quality')")).scalar_one()
        dates = conn.execute(text("select count(*) from warehouse.dim_date")).scalar_one()
    applied = apply_sql(warehouse_db)
    assert applied == [p.name for p in init_files()]
    with engine.connect() as conn:
        after = conn.execute(text(
            "select count(*) from information_schema.columns "
            "where table_schema in ('warehouse','marts','ops','quality')")).scalar_one()
        assert conn.execute(text("select count(*) from warehouse.dim_date")).scalar_one() == dates
    assert after == before
    # 2015-01-01 .. 2035-12-31
    assert dates == (dt.date(2035, 12, 31) - dt.date(2015, 1, 1)).days + 1


def test_init_files_are_ordered_and_named(warehouse_db):
    names = [p.name for p in init_files()]
    assert names == sorted(names)
    assert all(n[:2].isdigit() and n[2] == "_" for n in names)


def _bi_reader(warehouse_db):
    conn = psycopg2.connect(warehouse_db.replace("postgres@", "bi_reader@"))
    conn.autocommit = True
    cur = conn.cursor()
    # The role is read-only by default; lift that inside the session so the test proves
    # that the *privileges* refuse writes, not only the session setting.
    cur.execute("set session characteristics as transaction read write")
    return conn, cur


@pytest.fixture
def marts_table(engine):
    with engine.begin() as conn:
        conn.execute(text("create table if not exists marts.t_bi_probe (x int)"))
        conn.execute(text("insert into marts.t_bi_probe values (1)"))
        conn.execute(text("create table if not exists quality.t_bi_probe (x int)"))
    yield
    with engine.begin() as conn:
        conn.execute(text("drop table if exists marts.t_bi_probe, quality.t_bi_probe"))


def test_bi_reader_reads_warehouse_and_marts(warehouse_db, marts_table):
    conn, cur = _bi_reader(warehouse_db)
    try:
        cur.execute("select count(*) from warehouse.dim_date")
        assert cur.fetchone()[0] > 7000
        cur.execute("select x from marts.t_bi_probe")
        assert cur.fetchone() == (1,)
        cur.execute("show statement_timeout")
        assert cur.fetchone()[0] == "1min"
    finally:
        conn.close()


@pytest.mark.parametrize("statement", [
    "insert into warehouse.dim_retailer values (9, 'x', 'x', 'USD', 'UTC')",
    "update warehouse.dim_date set year = 1 where date_key = 20240115",
    "delete from warehouse.dim_date where date_key = 20240115",
    "insert into marts.t_bi_probe values (2)",
    "create table warehouse.t_bi_new (x int)",
    "create table marts.t_bi_new (x int)",
    "create table public.t_bi_new (x int)",
    "select count(*) from ops.run",
    "select count(*) from quality.t_bi_probe",
])
def test_bi_reader_is_refused_everything_else(warehouse_db, marts_table, statement):
    conn, cur = _bi_reader(warehouse_db)
    try:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute(statement)
    finally:
        conn.close()


def test_a_second_active_run_for_a_date_is_refused(clean_warehouse):
    day = dt.date(2024, 3, 1)
    with clean_warehouse.begin() as conn:
        first = ops.create_run(conn, day, ["retailer1"])
    with clean_warehouse.begin() as conn:
        with pytest.raises(ops.ActiveRunExists) as info:
            ops.create_run(conn, day, ["retailer1"])
        assert info.value.run_id == first
    # The database itself refuses it, whatever code tries.
    with pytest.raises(IntegrityError), clean_warehouse.begin() as conn:
        conn.execute(text("insert into ops.run (run_id, run_date, retailers) "
                          "values (gen_random_uuid(), :d, '{retailer1}')"), {"d": day})
    # Once the first run ends, the date is free again.
    with clean_warehouse.begin() as conn:
        ops.finish_run(conn, first, "succeeded")
        second = ops.create_run(conn, day, ["retailer1"])
    assert second != first
