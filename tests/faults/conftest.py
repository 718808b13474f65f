"""Fixtures of the fault suite: an emptied warehouse per module, a fresh retailer day per
scenario, and retailer chaos reset after each test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from tests.fixtures.core import purge_queues, truncate_pipeline_tables


@pytest.fixture(scope="module")
def empty_pipeline(engine, s3, redis_db, retailer_apps):
    """The warehouse, ops and the queues emptied before the module's scenarios."""
    truncate_pipeline_tables(engine)
    purge_queues()
    return engine


@pytest.fixture
def fresh_day(retailer_apps) -> Callable[[dt.date], dt.date]:
    """Seed a date at the three retailers (the session's volumes and fault rate)."""

    def seed(day: dt.date) -> dt.date:
        retailer_apps.seed(day)
        return day

    return seed
