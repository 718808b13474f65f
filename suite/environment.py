"""The environment of an isolated stack: the tests' and each benchmark's.

Such a stack reads no `.env`, uses its own databases, ports and secrets, and never touches
a developer's running stack. The variables every one of them needs are set here, once, so
a new required setting is added in one place.
"""

from __future__ import annotations

from collections.abc import Mapping

RETAILERS = ("retailer1", "retailer2", "retailer3")
POSTGRES = "postgresql://postgres@127.0.0.1:5432"


def isolated_environment(name: str, *, database: str | None = None,
                         redis_db: int | None = None, s3_port: int | None = None,
                         s3_bucket: str | None = None,
                         retailer_ports: Mapping[str, int] | None = None,
                         retailer_database_suffix: str | None = None,
                         log_level: str = "WARNING") -> dict[str, str]:
    """The variables of an isolated stack named `name`.

    Args:
        name: the stack's name; its secrets are derived from it (`test` gives
            `PIPELINE_API_TOKEN=test-pipeline-token`).
        database: the warehouse database on the local PostgreSQL.
        redis_db: the Redis database number (broker and results).
        s3_port: the port of its own S3 server.
        s3_bucket: the lake's bucket.
        retailer_ports: each retailer's port (`RETAILERn_URL`).
        retailer_database_suffix: each retailer's own database is `<retailer><suffix>`.
        log_level: the services' log level.
    Returns:
        The variables, to merge into `os.environ` or a child process's environment.
    """
    env = {
        "RETAIL_ENV_FILE": "",     # no .env: only what is set here and by the caller
        "LOG_LEVEL": log_level,
        "PIPELINE_API_TOKEN": f"{name}-pipeline-token",
        "RETAILER_ADMIN_TOKEN": f"{name}-admin-token",
        "RETAILER1_API_KEY": f"{name}-r1-api-key",
        "RETAILER2_PASSWORD": f"{name}-r2-password",
        "RETAILER3_CLIENT_SECRET": f"{name}-r3-secret",
        "RETAILER3_TOKEN_SIGNING_KEY": f"{name}-r3-signing-key",
        "RETAILER4_API_TOKEN": f"{name}-r4-api-token",
        "S3_SECRET_ACCESS_KEY": f"{name}-s3-secret",
    }
    if database:
        env["DATABASE_URL"] = f"{POSTGRES}/{database}"
    if redis_db is not None:
        env["REDIS_URL"] = f"redis://127.0.0.1:6379/{redis_db}"
    if s3_port:
        env["S3_ENDPOINT_URL"] = f"http://127.0.0.1:{s3_port}"
    if s3_bucket:
        env["S3_BUCKET"] = s3_bucket
    for rid, port in (retailer_ports or {}).items():
        env[f"{rid.upper()}_URL"] = f"http://127.0.0.1:{port}"
    if retailer_database_suffix:
        for rid in RETAILERS:
            env[f"{rid.upper()}_DATABASE_URL"] = f"{POSTGRES}/{rid}{retailer_database_suffix}"
    return env
