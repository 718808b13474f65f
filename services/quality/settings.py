"""Settings of the quality service's processes: the worker and the API with its page.

    QualityWorkerSettings  judges runs: warehouse, queue, steps, QUALITY_* (no S3, no retailers)
    QualityApiSettings     the API and page: the same, and the bearer token of POST /checks/run
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from shared.settings import ApiTokenSettings, PipelineSettings, current, env_config


class QualitySettings(BaseSettings):
    """How checks judge a run, and what the page shows (QUALITY_*)."""

    model_config = env_config("QUALITY_")
    host: str = "127.0.0.1"
    port: int = 8003
    # Day D counts as complete once it has succeeded by D+1 at this UTC time.
    freshness_deadline_hour_utc: int = Field(6, ge=0, le=23)
    freshness_grace_days: int = Field(1, ge=0)
    # Share of received records rejected: warn above the first, fail the run above the second.
    rejected_share_warn: float = Field(0.05, ge=0, le=1)
    rejected_share_fail: float = Field(0.2, ge=0, le=1)
    volume_weeks: int = Field(4, ge=1)
    volume_tolerance: float = Field(0.5, gt=0)
    sample_size: int = Field(10, ge=1, le=1000)
    # A share of silver order lines dropped as duplicates above this means the dedup key
    # collapses distinct lines (the retailers duplicate about 1%).
    duplicate_share_fail: float = Field(0.2, ge=0, le=1)
    # ...judged only from this many silver lines of a partition on: a day that carries a
    # few late updates (3 lines, one served twice) is no evidence about the dedup key.
    duplicate_min_lines: int = Field(50, ge=1)
    # One check may not hold the run's verdict hostage: its statement is cancelled after this.
    check_timeout_seconds: float = Field(120.0, gt=0)
    # Retailers whose checks run at once, each on a connection of its own.
    check_workers: int = Field(2, ge=1, le=16)
    # Session memory of a check (sorts and hashes of a day's facts), per connection.
    work_mem: str = "64MB"
    # The page: charts cover this many days, the grid this many dates.
    dashboard_days: int = Field(30, ge=1, le=366)
    grid_dates: int = Field(7, ge=1, le=60)
    worker_concurrency: int = 1


class QualityWorkerSettings(PipelineSettings):
    """The quality worker (`celery -A services.quality.tasks worker -Q quality`)."""

    model_config = env_config()
    quality: QualitySettings = Field(default_factory=QualitySettings)


class QualityApiSettings(QualityWorkerSettings, ApiTokenSettings):
    """The quality API and page (`uvicorn services.quality.api:create_app --factory`)."""

    model_config = env_config()


def get_settings() -> QualityWorkerSettings:
    """The quality settings of this process (the worker's, or the API's superset)."""
    return current(QualityWorkerSettings)
