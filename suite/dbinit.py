"""Apply `database/init/NN_*.sql` in order to a database, creating the database if needed.

The files are package data of the `database` package, found with importlib.resources, so an
installed wheel applies the same files as a checkout.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib.resources import files
from importlib.resources.abc import Traversable
from urllib.parse import urlparse, urlunparse

import psycopg2
from psycopg2 import sql

INIT_DIR: Traversable = files("database") / "init"
_INIT_NAME = re.compile(r"^[0-9][0-9]_.+\.sql$")


class NoInitSql(RuntimeError):
    """No `NN_*.sql` file was found: an install without its SQL must not look like success."""


def _admin_url(url: str) -> tuple[str, str]:
    parts = urlparse(url)
    dbname = parts.path.lstrip("/")
    return urlunparse(parts._replace(path="/postgres")), dbname


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg2://", "postgresql://")


def create_database(url: str, *, drop: bool = False) -> None:
    """Create the database named in `url` (dropping it first when `drop`)."""
    admin, dbname = _admin_url(_dsn(url))
    conn = psycopg2.connect(admin)
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


def init_files(directory: Traversable = INIT_DIR) -> list[Traversable]:
    """The `NN_name.sql` files of `directory`, in name order.

    Raises:
        NoInitSql: there are none (a package installed without its data).
    """
    found = sorted((f for f in directory.iterdir() if _INIT_NAME.match(f.name)) if
                   directory.is_dir() else [], key=lambda f: f.name)
    if not found:
        raise NoInitSql(f"no NN_*.sql file in {directory}; the package was installed without "
                        "its SQL (see pyproject's package-data)")
    return found


def apply_sql(url: str, sql_files: Sequence[Traversable] | None = None) -> list[str]:
    """Run each init file in its own transaction, in order. Returns the names applied."""
    todo = list(sql_files) if sql_files is not None else init_files()
    conn = psycopg2.connect(_dsn(url), application_name="db-init")
    applied = []
    try:
        for path in todo:
            with conn, conn.cursor() as cur:
                # A lock so two processes initialising at once do not race on "if not exists".
                cur.execute("select pg_advisory_xact_lock(424242)")
                cur.execute(path.read_text(encoding="utf-8"))
            applied.append(path.name)
    finally:
        conn.close()
    return applied


def init_warehouse(url: str, *, drop: bool = False) -> list[str]:
    """Create (or recreate) the warehouse database and apply every init file."""
    sql_files = init_files()  # before creating anything: no SQL is an error, not a no-op
    create_database(url, drop=drop)
    return apply_sql(url, sql_files)


def set_role_password(url: str, role: str, password: str) -> None:
    """Give a login role its password (containers; local servers use trust auth)."""
    conn = psycopg2.connect(_dsn(url), application_name="db-init")
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql.SQL("alter role {} password %s").format(sql.Identifier(role)),
                        (password,))
    finally:
        conn.close()
