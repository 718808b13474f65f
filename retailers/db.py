"""Each retailer's own database: create it, apply its SQL, open connections to it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib.resources import files
from importlib.resources.abc import Traversable
from urllib.parse import urlparse, urlunparse

import psycopg2
from psycopg2 import sql

from retailers.registry import get_spec
from retailers.settings import DATABASES

log = logging.getLogger(__name__)

CONTROL_SQL = files("retailers.core") / "control.sql"
# Bump when a retailer's schema.sql changes in a way `create ... if not exists` cannot apply
# to an existing database (2: order tables partitioned per day).
SCHEMA_VERSION = 2
# Taken around each SQL file and by the rebuild, so two processes initialising one database
# at once do not race on "if not exists".
INIT_LOCK = 424242


def database_url(retailer_id: str, settings=None) -> str:
    """The retailer's database URL: from `settings` (an object with a `<retailer_id>`
    section) or else `RETAILERn_DATABASE_URL`."""
    if settings is not None:
        return getattr(settings, retailer_id).database_url
    return DATABASES[retailer_id]().database_url  # type: ignore[attr-defined]


def create_database(url: str, *, drop: bool = False) -> None:
    """Create the database named in `url` (dropping it first when `drop`)."""
    parts = urlparse(url)
    dbname = parts.path.lstrip("/")
    conn = psycopg2.connect(urlunparse(parts._replace(path="/postgres")))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            if drop:
                cur.execute(sql.SQL("drop database if exists {} with (force)")
                            .format(sql.Identifier(dbname)))
            cur.execute("select 1 from pg_database where datname = %s", (dbname,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
    finally:
        conn.close()


def apply_sql(url: str, files_: Sequence[Traversable]) -> list[str]:
    """Run each SQL file in its own transaction, in order. Returns the names applied."""
    conn = psycopg2.connect(url, application_name="retailers-init-db")
    applied = []
    try:
        for path in files_:
            with conn, conn.cursor() as cur:
                cur.execute("select pg_advisory_xact_lock(%s)", (INIT_LOCK,))
                cur.execute(path.read_text(encoding="utf-8"))
            applied.append(path.name)
    finally:
        conn.close()
    return applied


def init_db(retailer_id: str, url: str | None = None, drop: bool = False) -> list[str]:
    """Create the retailer's database if it is missing and apply its SQL.

    Safe to run twice: every statement is `if not exists` / `on conflict do nothing`.

    Args:
        retailer_id: `retailer1`, `retailer2` or `retailer3`.
        url: the database URL; defaults to the retailer's setting.
        drop: drop the database first (a clean slate; connected sessions are ended).
    Returns:
        The SQL files applied, in order (the simulator's control schema, then the
        retailer's own schema).
    """
    spec = get_spec(retailer_id)
    url = url or database_url(retailer_id)
    create_database(url, drop=drop)
    applied = apply_sql(url, [CONTROL_SQL])
    _rebuild_if_outdated(url, retailer_id)
    return applied + apply_sql(url, [spec.schema_sql])


def _rebuild_if_outdated(url: str, retailer_id: str) -> None:
    """Empty a database whose retailer tables were built with another SCHEMA_VERSION, so
    its schema.sql builds the current layout; record the version. Everything in it is
    generated data, so `retailers seed` restores it."""
    conn = psycopg2.connect(url, application_name="retailers-init-db")
    try:
        with conn, conn.cursor() as cur:
            cur.execute("select pg_advisory_xact_lock(%s)", (INIT_LOCK,))
            cur.execute("select schema_version from sim.generator where id = 1")
            stored = cur.fetchone()[0]
            cur.execute("select count(*) from pg_tables where schemaname = 'public'")
            has_tables = cur.fetchone()[0] > 0
            if stored == SCHEMA_VERSION:
                return
            if has_tables:
                log.warning("%s: tables of schema version %s; rebuilding as version %s "
                            "(re-seed the dates you need)", retailer_id, stored,
                            SCHEMA_VERSION)
                cur.execute("drop schema public cascade; create schema public; "
                            "truncate sim.seeded_day; "
                            "update sim.generator set fingerprint = null where id = 1")
            cur.execute("update sim.generator set schema_version = %s where id = 1",
                        (SCHEMA_VERSION,))
    finally:
        conn.close()


def connect(url: str, application_name: str, timezone: str = "UTC"):
    """A psycopg2 connection with a name in pg_stat_activity and a fixed session time zone."""
    return psycopg2.connect(url, application_name=application_name,
                            options=f"-c timezone={timezone}")
