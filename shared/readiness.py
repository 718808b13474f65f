"""Readiness: can this service reach PostgreSQL, Redis and S3 right now?

One probe for the three APIs (`GET /readyz`), and the dependency part of quality's
`GET /health`: the same names, the same timeout and the same wording of a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
from sqlalchemy import text

from shared.db import get_engine
from shared.settings import BrokerSettings, S3Settings

TIMEOUT_SECONDS = 2.0


def check_postgresql(_settings: object) -> None:
    with get_engine().connect() as conn:
        conn.execute(text("select 1"))


def check_redis(settings: BrokerSettings) -> None:
    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=TIMEOUT_SECONDS,
                                  socket_timeout=TIMEOUT_SECONDS)
    try:
        client.ping()
    finally:
        client.close()


def check_s3(settings: S3Settings) -> None:
    # Imported here: boto3 is only in the images of the services that use the lake (quality's
    # has none), and only their readiness checks S3.
    from shared.s3 import make_s3_client

    make_s3_client(settings, timeout_seconds=TIMEOUT_SECONDS, max_attempts=1).head_bucket(
        Bucket=settings.s3_bucket)


# A check takes the process's settings (each reads the concern it needs) and raises when
# its dependency does not answer.
ReadinessCheck = Callable[[Any], None]
CHECKS: dict[str, ReadinessCheck] = {
    "postgresql": check_postgresql, "redis": check_redis, "s3": check_s3,
}


def readiness(settings: Any, names: Sequence[str] = tuple(CHECKS),
              extra: Mapping[str, ReadinessCheck] | None = None) -> dict[str, str]:
    """Each named dependency's state: "ok" or the error that says why not (checked
    concurrently, so a dead one costs one timeout, not three).

    Args:
        settings: where the dependencies are.
        names: which of CHECKS a service depends on.
        extra: a service's own checks, by name.
    Returns:
        {name: "ok" | "<ExceptionType>: <message>"}, `names` first, then `extra`.
    """

    chosen = {**{name: CHECKS[name] for name in names}, **(extra or {})}

    def run(check: ReadinessCheck) -> str:
        try:
            check(settings)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return f"{type(exc).__name__}: {str(exc)[:300]}"
        return "ok"

    with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
        futures = {name: pool.submit(run, check) for name, check in chosen.items()}
        return {name: future.result() for name, future in futures.items()}
