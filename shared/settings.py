"""Typed settings for the whole suite: one object, fed by the environment (and `.env`).

Each concern has its own prefix (`INGESTION_`, `TRANSFORMATION_`, `QUALITY_`, `RETAILER_`,
`RETAILER1_` ...); the core names that tools rely on (`DATABASE_URL`, `REDIS_URL`,
`S3_ENDPOINT_URL`, `S3_BUCKET`, `PIPELINE_API_TOKEN`) have no prefix.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = {"changethis", "change-me", "changeme", ""}


# Tests set RETAIL_ENV_FILE="" so a developer's .env never leaks into them.
ENV_FILE = os.environ.get("RETAIL_ENV_FILE", ".env") or None


def _env(prefix: str = "") -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix, env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore"
    )


def _reject_placeholder(value: SecretStr | None, name: str) -> SecretStr | None:
    if value is not None and value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
        raise ValueError(f"{name} is a placeholder; set a real secret (run `make env`)")
    return value


class Retailer1Settings(BaseSettings):
    """retailer1: API key auth, offset pagination (the app and the ingestion client)."""

    model_config = _env("RETAILER1_")
    url: str = "http://127.0.0.1:5001"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/retailer1"
    api_key: SecretStr

    _check = field_validator("api_key")(lambda v: _reject_placeholder(v, "RETAILER1_API_KEY"))


class Retailer2Settings(BaseSettings):
    """retailer2: HTTP Basic auth, cursor pagination."""

    model_config = _env("RETAILER2_")
    url: str = "http://127.0.0.1:5002"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/retailer2"
    username: str = "pipeline"
    password: SecretStr

    _check = field_validator("password")(lambda v: _reject_placeholder(v, "RETAILER2_PASSWORD"))


class Retailer3Settings(BaseSettings):
    """retailer3: OAuth2 client credentials, page-number pagination."""

    model_config = _env("RETAILER3_")
    url: str = "http://127.0.0.1:5003"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/retailer3"
    client_id: str = "pipeline"
    client_secret: SecretStr
    token_signing_key: SecretStr

    _check = field_validator("client_secret", "token_signing_key")(
        lambda v: _reject_placeholder(v, "RETAILER3 secret")
    )


class RetailerCommonSettings(BaseSettings):
    """What the three simulated retailers share: generator volume, faults and chaos."""

    model_config = _env("RETAILER_")
    admin_token: SecretStr
    seed: int = 42
    orders_per_day: int = 400
    products: int = 400
    customers: int = 3000
    stores: int = 12
    fault_rate: float = Field(0.01, ge=0, le=0.5)
    price_change_rate: float = Field(0.02, ge=0, le=1)
    # Share of signed-up customers whose attributes (city, email, name) change on a day.
    customer_change_rate: float = Field(0.002, ge=0, le=1)
    max_page_size: int = 5000
    token_ttl_seconds: int = 300
    error_rate: float = Field(0.0, ge=0, le=1)
    throttle_rate: float = Field(0.0, ge=0, le=1)
    retry_after_seconds: int = 1
    slow_rate: float = Field(0.0, ge=0, le=1)
    slow_seconds: float = 2.0
    workers: int = 2

    _check = field_validator("admin_token")(
        lambda v: _reject_placeholder(v, "RETAILER_ADMIN_TOKEN"))


class IngestionSettings(BaseSettings):
    """The ingestion service (API on 8001, workers on queue `ingestion`)."""

    model_config = _env("INGESTION_")
    host: str = "127.0.0.1"
    port: int = 8001
    max_backfill_days: int = Field(31, ge=1)
    backfill_parallelism: int = Field(2, ge=1)
    # Records per page asked of a retailer: their maximum, so a day is few round trips.
    page_size: int = Field(5000, ge=1, le=5000)
    http_timeout_seconds: float = 30.0
    retry_budget_seconds: float = 120.0
    retry_max_attempts: int = 8
    retry_base_delay_seconds: float = 0.2
    retry_max_delay_seconds: float = 10.0
    token_refresh_margin_seconds: float = 30.0
    gzip_level: int = Field(1, ge=0, le=9)
    part_max_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    # S3 multipart chunk: an object is uploaded in chunks of this size while it is written
    # (S3's minimum part size is 5 MiB), so a writer never holds more than one chunk.
    upload_chunk_bytes: int = Field(8 * 1024 * 1024, ge=5 * 1024 * 1024)
    # Pages fetched ahead while the previous one is normalized and written.
    prefetch_pages: int = Field(2, ge=0, le=16)
    # Progress (and the step's lease) is written at most this often.
    heartbeat_seconds: float = Field(2.0, gt=0)
    # First delay of the Celery retry of a failed attempt (doubled each attempt, jittered).
    task_retry_delay_seconds: float = Field(5.0, ge=0)
    worker_concurrency: int = 3


class TransformationSettings(BaseSettings):
    """The transformation service (replay API on 8002, workers on queue `transformation`)."""

    model_config = _env("TRANSFORMATION_")
    host: str = "127.0.0.1"
    port: int = 8002
    worker_concurrency: int = 2
    # Session settings of a load: sorts and hashes of a million staged lines stay in memory;
    # temp_buffers only takes effect before the session's first temporary table.
    work_mem: str = "256MB"
    temp_buffers: str = "256MB"
    # Bytes read from S3 per request, and the most inflated at once: bounds a load's memory.
    copy_chunk_bytes: int = Field(1024 * 1024, ge=64 * 1024)
    # Check each object's size and sha256 against the manifest before loading it.
    verify_checksums: bool = True
    # First delay of the Celery retry of a failed load (doubled each attempt, jittered).
    task_retry_delay_seconds: float = Field(5.0, ge=0)
    # How long `replay(..., wait=True)` waits for the replay run's loads.
    replay_wait_seconds: float = Field(3600.0, gt=0)


class QualitySettings(BaseSettings):
    """The quality service (API and page on 8003, workers on queue `quality`)."""

    model_config = _env("QUALITY_")
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


class Settings(BaseSettings):
    """The one settings object. Sub-settings read their own prefixed variables."""

    model_config = _env()

    database_url: str = "postgresql://postgres@127.0.0.1:5432/retail_analytics"
    redis_url: str = "redis://127.0.0.1:6379/0"
    s3_endpoint_url: str | None = "http://127.0.0.1:9000"
    s3_bucket: str = "retail-lake"
    s3_region: str = "us-east-1"
    s3_access_key_id: str = "local"
    s3_secret_access_key: SecretStr = SecretStr("local-secret")
    pipeline_api_token: SecretStr
    bi_reader_password: SecretStr | None = None
    log_format: Literal["json", "console"] = "console"
    log_level: str = "INFO"
    # One number for "how long may a task be invisible/unacknowledged": Redis' visibility
    # timeout and the ops lease both derive from it, so a lease never runs out before
    # Redis would re-deliver, nor the other way round.
    task_visibility_timeout_seconds: int = 3600
    step_lease_seconds: int = 900
    step_max_attempts: int = Field(3, ge=1)
    sweeper_interval_seconds: int = 60
    # bi_reader's statements (and open transactions) are cut off after this, whatever its
    # session sets; the guard enforcing it runs this often (shared/bi_guard.py).
    bi_statement_limit_seconds: int = Field(60, ge=1)
    bi_guard_interval_seconds: float = Field(5.0, gt=0)
    schedule_hour_utc: int = Field(2, ge=0, le=23)
    schedule_minute: int = Field(0, ge=0, le=59)
    flower_port: int = 5555

    retailer: RetailerCommonSettings = Field(default_factory=RetailerCommonSettings)
    retailer1: Retailer1Settings = Field(default_factory=Retailer1Settings)
    retailer2: Retailer2Settings = Field(default_factory=Retailer2Settings)
    retailer3: Retailer3Settings = Field(default_factory=Retailer3Settings)
    ingestion: IngestionSettings = Field(default_factory=IngestionSettings)
    transformation: TransformationSettings = Field(default_factory=TransformationSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)

    _check = field_validator("pipeline_api_token")(
        lambda v: _reject_placeholder(v, "PIPELINE_API_TOKEN")
    )

    @property
    def retailer_ids(self) -> tuple[str, ...]:
        return RETAILER_IDS


RETAILER_IDS: tuple[str, ...] = ("retailer1", "retailer2", "retailer3")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, built once. Tests call `get_settings.cache_clear()`."""
    return Settings()


def settings_errors() -> list[str]:
    """Every missing or invalid variable, named as in the environment (`RETAILER1_API_KEY`)."""
    from pydantic import ValidationError

    problems: list[str] = []
    classes: list[type[BaseSettings]] = [
        f.default_factory  # type: ignore[misc]
        for f in Settings.model_fields.values() if f.default_factory is not None
    ]
    everything: list[type[BaseSettings]] = [*classes, Settings]
    for cls in everything:
        prefix = cls.model_config.get("env_prefix", "")
        try:
            if cls is Settings:
                # the sub-settings were checked above; check the core fields alone
                Settings(**{name: f.default_factory.model_construct()  # type: ignore[union-attr]
                            for name, f in Settings.model_fields.items()
                            if f.default_factory is not None})
            else:
                cls()
        except ValidationError as exc:
            for err in exc.errors():
                loc = err["loc"]
                if cls is Settings and loc and loc[0] in Settings.model_fields and \
                        Settings.model_fields[str(loc[0])].default_factory is not None:
                    continue
                name = (prefix + "_".join(str(p) for p in loc)).upper()
                problems.append(f"{name}: {err['msg']}")
    return problems


def load_settings_or_exit() -> Settings:
    """Build settings at a process start; on a missing or placeholder secret, exit clearly."""
    import sys

    try:
        return get_settings()
    except Exception:  # noqa: BLE001 - turned into a readable message below
        problems = settings_errors() or ["settings could not be built"]
        sys.stderr.write(
            "configuration error: the service cannot start.\n"
            + "".join(f"  {p}\n" for p in problems)
            + "Set them in the environment or in .env (`make env` writes one; "
            "see .env.example).\n"
        )
        raise SystemExit(2) from None
