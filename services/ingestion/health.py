"""Readiness: can this service reach PostgreSQL, Redis and S3 right now?"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import redis
from sqlalchemy import text

from services.ingestion.settings import get_api_settings
from shared.db import get_engine
from shared.s3 import make_s3_client

TIMEOUT_SECONDS = 2.0


def check_postgresql() -> None:
    with get_engine().connect() as conn:
        conn.execute(text("select 1"))


def check_redis() -> None:
    client = redis.Redis.from_url(get_api_settings().redis_url,
                                  socket_connect_timeout=TIMEOUT_SECONDS,
                                  socket_timeout=TIMEOUT_SECONDS)
    try:
        client.ping()
    finally:
        client.close()


def check_s3() -> None:
    s = get_api_settings()
    make_s3_client(s, timeout_seconds=TIMEOUT_SECONDS, max_attempts=1).head_bucket(
        Bucket=s.s3_bucket)


CHECKS: dict[str, Callable[[], None]] = {
    "postgresql": check_postgresql, "redis": check_redis, "s3": check_s3,
}


def readiness() -> dict[str, str]:
    """Each dependency's state: "ok" or the error that says why not (checked concurrently,
    so a dead one costs one timeout, not three)."""

    def run(check: Callable[[], None]) -> str:
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return f"{type(exc).__name__}: {str(exc)[:300]}"
        return "ok"

    with ThreadPoolExecutor(max_workers=len(CHECKS)) as pool:
        futures = {name: pool.submit(run, check) for name, check in CHECKS.items()}
        return {name: future.result() for name, future in futures.items()}
