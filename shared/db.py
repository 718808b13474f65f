"""PostgreSQL access: one engine factory, a transaction helper, raw connections for COPY."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import Connection

from shared.settings import DatabaseSettings, current


def process_name() -> str:
    """A short name for this process, shown as `application_name` in pg_stat_activity."""
    name = os.environ.get("RETAIL_PROCESS_NAME")
    if name:
        return name[:63]
    return os.path.basename(sys.argv[0] or "python")[:63]


def make_engine(url: str | None = None, *, application_name: str | None = None,
                pool_size: int = 5) -> Engine:
    """Create a SQLAlchemy 2 engine on psycopg2.

    Args:
        url: a `postgresql://` URL; defaults to the process's `DATABASE_URL`.
        application_name: shown in pg_stat_activity; defaults to the process name.
        pool_size: connections kept open.
    Returns:
        An Engine with pre-ping on, so a restarted server does not break the next call.
    """
    url = url or current(DatabaseSettings).database_url
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://"):]
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=5,
        pool_pre_ping=True,
        connect_args={"application_name": application_name or process_name()},
    )


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine for `DATABASE_URL`."""
    return make_engine()


@contextmanager
def transaction(engine: Engine | None = None) -> Iterator[Connection]:
    """A connection inside one transaction: committed on success, rolled back on error."""
    with (engine or get_engine()).begin() as conn:
        yield conn


@contextmanager
def raw_connection(engine: Engine | None = None) -> Iterator:
    """A DB-API (psycopg2) connection for COPY; commits on success, rolls back on error."""
    conn = (engine or get_engine()).raw_connection()
    try:
        yield conn
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()
