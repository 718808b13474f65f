"""The three APIs as real uvicorn processes on the test databases, for the contract tests.

A module gets them with a judged run of a due date already stored (so the read routes have
rows to return) and leaves nothing behind: the runs they created are truncated and the
messages they queued are purged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from suite.processes import free_port
from tests.fixtures.core import api_process, purge_queues, truncate_pipeline_tables

SERVICES = ("ingestion", "transformation", "quality")


@pytest.fixture(scope="module")
def seeded(engine, s3, redis_db, settings):
    """A judged run of the latest due date: results, a verdict and steps to read."""
    from services.quality.checks import REGISTRY
    from services.quality.deadlines import latest_due_date
    from services.quality.judge import judge_run
    from services.quality.store import sync_definitions
    from tests.quality.seed import seed_run

    truncate_pipeline_tables(engine)
    purge_queues()
    with engine.begin() as conn:
        sync_definitions(conn, REGISTRY)
    with engine.begin() as conn:
        run = seed_run(conn, latest_due_date(dt.datetime.now(dt.UTC), settings.quality))
    judge_run(run.run_id, run.run_date)
    yield run
    purge_queues()
    truncate_pipeline_tables(engine)


@pytest.fixture(scope="module")
def apis(seeded) -> Iterator[dict[str, str]]:
    """{service: base URL} of the three APIs, each a uvicorn process built by its factory."""
    procs = {name: api_process(name, free_port(), name=f"contract-{name}-api")
             for name in SERVICES}
    try:
        for proc in procs.values():
            proc.start()
        for proc in procs.values():
            proc.wait_healthy(30)
        yield {name: f"http://127.0.0.1:{proc.port}" for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            proc.stop()


@pytest.fixture
def token(settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.pipeline_api_token.get_secret_value()}"}
