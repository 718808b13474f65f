"""Dependencies of the routes: settings, a database connection, the clock. (The bearer token
of the write endpoint is the suite's one dependency, `shared.api_auth`.)"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from sqlalchemy.engine import Connection

from services.quality.settings import QualityWorkerSettings, get_settings
from shared.db import get_engine


def settings() -> QualityWorkerSettings:
    return get_settings()


def connection() -> Iterator[Connection]:
    """A read connection for one request; what it did is rolled back at the end."""
    with get_engine().connect() as conn:
        yield conn


def clock() -> dt.datetime:
    """Now, in UTC (a dependency so tests can move time)."""
    return dt.datetime.now(dt.UTC)
