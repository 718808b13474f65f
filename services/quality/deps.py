"""Dependencies of the routes: settings, a database connection, the bearer token, the clock."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Connection

from services.quality.errors import Unauthorized
from shared.db import get_engine
from shared.settings import Settings, get_settings

_bearer = HTTPBearer(auto_error=False)


def settings() -> Settings:
    return get_settings()


def connection() -> Iterator[Connection]:
    """A read connection for one request; what it did is rolled back at the end."""
    with get_engine().connect() as conn:
        yield conn


def clock() -> dt.datetime:
    """Now, in UTC (a dependency so tests can move time)."""
    return dt.datetime.now(dt.UTC)


def require_token(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
                  s: Settings = Depends(settings)) -> None:
    """The write endpoints take `Authorization: Bearer <PIPELINE_API_TOKEN>`."""
    expected = s.pipeline_api_token.get_secret_value().encode()
    given = credentials.credentials.encode() if credentials else b""
    # compare_digest takes as long whatever prefix matches: the token cannot be guessed
    # byte by byte from response times.
    if not credentials or not secrets.compare_digest(given, expected):
        raise Unauthorized("a valid bearer token is required")
