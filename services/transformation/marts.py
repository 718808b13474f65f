"""Refresh the marts (database/init/50_marts.sql) for a set of order dates."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Sequence

import psycopg
from sqlalchemy import Engine

from services.transformation.db import get_load_engine, raw


def refresh(cur: psycopg.Cursor, dates: Iterable[dt.date],
            retailers: Sequence[str] | None = None) -> float:
    """Rebuild the marts for `dates` in the caller's transaction: the rows of `retailers`
    (default: all) and the 'ALL' rows. Returns the seconds taken."""
    started = time.perf_counter()
    days = sorted(set(dates))
    if days:
        cur.execute("select marts.refresh(%s::date[], %s::text[])",
                    (days, list(retailers) if retailers else None))
    return time.perf_counter() - started


def refresh_dates(dates: Iterable[dt.date], retailers: Sequence[str] | None = None,
                  engine: Engine | None = None) -> float:
    """Rebuild the marts for `dates` in a transaction of its own (operators, tests)."""
    with (engine or get_load_engine()).begin() as conn:
        return refresh(raw(conn).cursor(), dates, retailers)
