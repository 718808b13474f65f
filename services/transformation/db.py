"""The load path's engine: psycopg 3 under SQLAlchemy, for `cursor.copy()` + `write_row`.

Parsing the silver lines with orjson and streaming typed rows through psycopg 3's COPY
measured about twice as fast as COPYing the JSON verbatim into a jsonb column and taking it
apart in SQL (docs/warehouse.md, "Load path"), so the load transaction runs on psycopg 3.
The engine still comes from the one factory in `shared/db.py`; only the driver differs.
"""

from __future__ import annotations

from functools import lru_cache

import psycopg
from sqlalchemy import Engine, make_url
from sqlalchemy.engine import Connection

from services.transformation.settings import get_settings
from shared.db import make_engine, process_name


def psycopg3_url(url: str) -> str:
    """The same database URL, for SQLAlchemy's psycopg 3 dialect."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def load_engine_url(url: str, *, temp_buffers: str) -> str:
    """The psycopg 3 URL with `temp_buffers` set at connection start: the server accepts
    it only before the session's first temporary table, and a load's staging is that."""
    parsed = make_url(psycopg3_url(url))
    options = f"{parsed.query.get('options', '')} -c temp_buffers={temp_buffers}".strip()
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


@lru_cache
def get_load_engine() -> Engine:
    """The process-wide engine of the load path (psycopg 3)."""
    s = get_settings()
    return make_engine(load_engine_url(s.database_url, temp_buffers=s.transformation.temp_buffers),
                       application_name=process_name(), pool_size=2)


def raw(conn: Connection) -> psycopg.Connection:
    """The psycopg 3 connection under a SQLAlchemy connection (same transaction)."""
    dbapi = conn.connection.dbapi_connection
    if not isinstance(dbapi, psycopg.Connection):
        raise TypeError("the load path needs a psycopg 3 engine (see get_load_engine)")
    return dbapi
