"""The API's connections to its retailer's database: a small thread-safe pool per worker."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import psycopg2

from retailers.core.errors import ApiError
from retailers.core.pgcopy import copy_out_int64

Params = Mapping[str, Any] | None


class Database:
    """Pooled autocommit connections; each page request takes one for its queries.

    Connections are opened on first use, so inside the server worker (after gunicorn
    forks), and kept open for the next request: at most one per thread that needed one.
    (psycopg2's own pools close every connection returned above `minconn`.)
    """

    def __init__(self, url: str, application_name: str, timezone: str = "UTC",
                 max_connections: int = 8) -> None:
        self._url = url
        # JIT compiles a plan for 100+ ms: a loss on page queries that run in milliseconds.
        # A retailer's working set sits in memory, so an index probe costs about a
        # sequential read; with the default cost (4) a 5,000-key page hash-joins whole tables.
        # A day's key list sorts a few hundred thousand keys: keep that sort in memory.
        self._kwargs = {"application_name": application_name[:63],
                        "options": f"-c timezone={timezone} -c jit=off "
                                   "-c random_page_cost=1.1 -c work_mem=32MB"}
        self._max_idle = max_connections
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    def _take(self) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        try:
            conn = psycopg2.connect(self._url, **self._kwargs)
        except psycopg2.Error as exc:
            raise ApiError(503, "unavailable", f"database unavailable: {exc}".strip()) from exc
        conn.autocommit = True
        return conn

    def _give_back(self, conn: Any, broken: bool) -> None:
        if not broken and not conn.closed:
            with self._lock:
                if len(self._idle) < self._max_idle:
                    self._idle.append(conn)
                    return
        conn.close()

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        """A cursor on a pooled autocommit connection; a broken connection is discarded."""
        conn = self._take()
        broken = False
        try:
            with conn.cursor() as cur:
                yield cur
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            broken = True
            raise
        finally:
            self._give_back(conn, broken)

    def rows(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        """The result as dicts keyed by the column names (the wire field names)."""
        with self.cursor() as cur:
            cur.execute(sql, params)
            names = [d.name for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def one(self, sql: str, params: Params = None) -> tuple | None:
        with self.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()

    def column(self, sql: str, params: Params = None) -> list[Any]:
        with self.cursor() as cur:
            cur.execute(sql, params)
            return [row[0] for row in cur.fetchall()]

    def int64_keys(self, sql: str, params: Params = None) -> np.ndarray:
        """A one-column bigint query streamed with COPY into a numpy array."""
        with self.cursor() as cur:
            bound = cur.mogrify(sql, params).decode()
            return copy_out_int64(cur, bound)

    def execute(self, sql: str, params: Params = None) -> None:
        with self.cursor() as cur:
            cur.execute(sql, params)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
