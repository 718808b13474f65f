"""Each retailer's own database: create it, apply its SQL, open connections to it."""

from __future__ import annotations

from pathlib import Path

import psycopg2

from retailers.registry import get_spec
from suite.dbinit import apply_sql, create_database

CONTROL_SQL = Path(__file__).resolve().parent / "core" / "control.sql"


def database_url(retailer_id: str, settings=None) -> str:
    """The retailer's database URL from settings (`RETAILER1_DATABASE_URL`, ...)."""
    if settings is None:
        from shared.settings import get_settings

        settings = get_settings()
    return getattr(settings, retailer_id).database_url


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
    return apply_sql(url, [CONTROL_SQL, spec.schema_sql])


def connect(url: str, application_name: str, timezone: str = "UTC"):
    """A psycopg2 connection with a name in pg_stat_activity and a fixed session time zone."""
    return psycopg2.connect(url, application_name=application_name,
                            options=f"-c timezone={timezone}")
