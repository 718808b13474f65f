"""Settings of the ingestion service's processes: the API, the worker and beat.

    IngestionApiSettings     POST /runs, GET /runs: warehouse, queue, S3 (readiness), token
    IngestionWorkerSettings  fetch and land partitions: also each retailer's URL and credentials
    IngestionBeatSettings    the schedule: only the broker and the times

Only the worker knows the retailers' credentials; the API and beat never see them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode

from shared.settings import (
    KNOWN_RETAILER_IDS,
    RETAILER_IDS,
    ApiTokenSettings,
    BrokerSettings,
    LoggingSettings,
    PipelineSettings,
    S3Settings,
    current,
    env_config,
    reject_placeholder,
)


class IngestionRunOptions(BaseSettings):
    """How runs are asked for and started (the API, the worker's backfill slots, the CLI)."""

    model_config = env_config("INGESTION_")
    max_backfill_days: int = Field(31, ge=1)
    backfill_parallelism: int = Field(2, ge=1)
    # The retailers a run covers when it names none (POST /runs, the daily schedule, the
    # CLI): comma-separated. A deployment that runs retailer4's stream consumer adds
    # retailer4 (the local stack and compose do); without a consumer its day cannot close.
    default_retailers: Annotated[tuple[str, ...], NoDecode] = RETAILER_IDS

    @field_validator("default_retailers", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("default_retailers")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(KNOWN_RETAILER_IDS))
        if unknown or not value:
            raise ValueError(f"unknown retailers {unknown}; known: {list(KNOWN_RETAILER_IDS)}")
        return value


class IngestionApiOptions(IngestionRunOptions):
    """The API's address."""

    host: str = "127.0.0.1"
    port: int = 8001


class IngestionSettings(IngestionRunOptions):
    """How the worker fetches a retailer's day and lands it (INGESTION_*)."""

    # Records per page asked of a retailer: their maximum, so a day is few round trips.
    page_size: int = Field(5000, ge=1, le=5000)
    http_timeout_seconds: float = 30.0
    retry_budget_seconds: float = 120.0
    retry_max_attempts: int = 8
    retry_base_delay_seconds: float = 0.2
    retry_max_delay_seconds: float = 10.0
    token_refresh_margin_seconds: float = 30.0
    # ISA-L's levels, 0-3 (bronze and rejected objects are plain gzip, which any reader
    # inflates).
    gzip_level: int = Field(1, ge=0, le=3)
    # Records per row group of a silver Parquet object: the batches of one row group wait
    # in memory (Arrow columns, ~100 bytes a record) and staging reads one at a time.
    silver_row_group_rows: int = Field(65_536, ge=1, le=1_048_576)
    part_max_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    # S3 multipart chunk: an object is uploaded in chunks of this size while it is written
    # (S3's minimum part size is 5 MiB), so a writer never holds more than one chunk.
    upload_chunk_bytes: int = Field(8 * 1024 * 1024, ge=5 * 1024 * 1024)
    # Pages fetched ahead while the previous one is normalized and written.
    prefetch_pages: int = Field(2, ge=0, le=16)
    worker_concurrency: int = 3


class InboxSettings(BaseSettings):
    """Files dropped in the lake's inbox (INBOX_*): retailer5 (docs/ingestion.md, "Inbox")."""

    model_config = env_config("INBOX_")
    prefix: str = "inbox/"
    history_prefix: str = "history/"
    # How many days before its batch date a file's line may be dated; a corrected file
    # restates order dates this far back (older lines are rejected).
    lookback_days: int = Field(7, ge=0, le=366)
    # A sales file waits this long for its .ctl sidecar before it is an error.
    control_wait_seconds: float = Field(300.0, ge=0)
    # A claimed sales file starts a run of its own only this long after it was first seen:
    # a run asked for its date meanwhile (POST /runs, the daily schedule) takes the file
    # instead of finding the date already running for retailer5 alone.
    run_delay_seconds: float = Field(10.0, ge=0)
    # Bytes per streamed read of a file (never the whole file in memory).
    read_chunk_bytes: int = Field(1024 * 1024, ge=4096)
    # Called with a JSON body when a file cannot be loaded (empty: no webhook). May hold a
    # token in its query string, hence a secret.
    alert_webhook_url: SecretStr | None = None
    alert_timeout_seconds: float = Field(5.0, gt=0)


# --- how the worker reaches each retailer (their URL and the credentials they gave us) -----

class Retailer1Settings(BaseSettings):
    """retailer1: API key auth, offset pagination."""

    model_config = env_config("RETAILER1_")
    url: str = "http://127.0.0.1:5001"
    api_key: SecretStr

    _check = field_validator("api_key")(lambda v: reject_placeholder(v, "RETAILER1_API_KEY"))


class Retailer2Settings(BaseSettings):
    """retailer2: HTTP Basic auth, cursor pagination."""

    model_config = env_config("RETAILER2_")
    url: str = "http://127.0.0.1:5002"
    username: str = "pipeline"
    password: SecretStr

    _check = field_validator("password")(lambda v: reject_placeholder(v, "RETAILER2_PASSWORD"))


class Retailer3Settings(BaseSettings):
    """retailer3: OAuth2 client credentials, page-number pagination."""

    model_config = env_config("RETAILER3_")
    url: str = "http://127.0.0.1:5003"
    client_id: str = "pipeline"
    client_secret: SecretStr

    _check = field_validator("client_secret")(
        lambda v: reject_placeholder(v, "RETAILER3_CLIENT_SECRET"))


# --- the processes ----------------------------------------------------------------------------

class StreamOptions(BaseSettings):
    """The stream consumer's stream and batching (STREAM_*)."""

    model_config = env_config("STREAM_")
    nats_url: str = "nats://127.0.0.1:4222"
    stream: str = "RETAILER4"
    subjects: str = "retailer4.>"
    durable: str = "pipeline-retailer4"
    batch_max_messages: int = Field(2000, ge=1)
    batch_max_wait_seconds: float = Field(0.5, gt=0)
    # Longer than a batch's land + apply: a message is redelivered only when its consumer
    # is gone (killed before the acknowledgement).
    ack_wait_seconds: float = Field(60.0, gt=0)
    apply_timeout_seconds: float = Field(60.0, gt=0)
    apply_poll_seconds: float = Field(0.05, gt=0)
    # Touched after every loop; the container's healthcheck reads its age.
    heartbeat_file: str = "/tmp/stream-consumer.alive"


class Retailer4Settings(BaseSettings):
    """retailer4: reference data and control totals by REST with a bearer token."""

    model_config = env_config("RETAILER4_")
    url: str = "http://127.0.0.1:5004"
    api_token: SecretStr

    _check = field_validator("api_token")(
        lambda v: reject_placeholder(v, "RETAILER4_API_TOKEN"))


class StreamCloseOptions(BaseSettings):
    """Closing a stream retailer's day (STREAM_CLOSE_*): how long to wait for what a replay
    re-requested to arrive through the consumer."""

    model_config = env_config("STREAM_CLOSE_")
    wait_seconds: float = Field(60.0, ge=0)
    poll_seconds: float = Field(0.5, gt=0)

class IngestionRunsSettings(PipelineSettings):
    """What starting and advancing runs needs (`runs.py`), whichever process does it."""

    model_config = env_config()
    ingestion: IngestionRunOptions = Field(default_factory=IngestionRunOptions)


class IngestionApiSettings(IngestionRunsSettings, S3Settings, ApiTokenSettings):
    """The ingestion API process (`uvicorn services.ingestion.api:create_app --factory`)."""

    model_config = env_config()
    ingestion: IngestionApiOptions = Field(default_factory=IngestionApiOptions)


class IngestionWorkerSettings(IngestionRunsSettings, S3Settings):
    """The ingestion worker (`celery -A services.ingestion.tasks worker -Q ingestion`)."""

    model_config = env_config()
    ingestion: IngestionSettings = Field(default_factory=IngestionSettings)
    retailer1: Retailer1Settings = Field(default_factory=Retailer1Settings)
    retailer2: Retailer2Settings = Field(default_factory=Retailer2Settings)
    retailer3: Retailer3Settings = Field(default_factory=Retailer3Settings)
    inbox: InboxSettings = Field(default_factory=InboxSettings)
    retailer4: Retailer4Settings = Field(default_factory=Retailer4Settings)
    stream_close: StreamCloseOptions = Field(default_factory=StreamCloseOptions)
    # bi_reader's statements (and open transactions) are cut off after this, whatever its
    # session sets; the guard enforcing it is a task of this worker (shared/bi_guard.py).
    bi_statement_limit_seconds: int = Field(60, ge=1)


class IngestionBeatSettings(LoggingSettings, BrokerSettings):
    """Celery beat (`celery -A services.ingestion.schedule beat`): it only sends task names."""

    model_config = env_config()
    schedule_hour_utc: int = Field(2, ge=0, le=23)
    schedule_minute: int = Field(0, ge=0, le=59)
    # How often the sweeper re-sends steps whose lease ran out or whose message was lost.
    sweeper_interval_seconds: float = Field(10.0, gt=0)
    # How often beat sends the bi_reader guard (the limit holds to within this interval).
    bi_guard_interval_seconds: float = Field(5.0, gt=0)
    # How often beat asks for a scan of the inbox (new files are picked up within this).
    inbox_scan_seconds: float = Field(5.0, gt=0)


def get_api_settings() -> IngestionApiSettings:
    """The API process's settings (built once)."""
    return current(IngestionApiSettings)


def get_worker_settings() -> IngestionWorkerSettings:
    """The worker process's settings (built once)."""
    return current(IngestionWorkerSettings)


def get_runs_settings() -> IngestionRunsSettings:
    """What `runs.py` needs, from whichever process runs it (API, worker or `retail run`)."""
    return current(IngestionRunsSettings)


def get_beat_settings() -> IngestionBeatSettings:
    """Beat's settings (built once)."""
    return current(IngestionBeatSettings)


class StreamConsumerSettings(PipelineSettings, S3Settings):
    """The stream consumer (`python -m services.ingestion.stream.consumer`): the stream, the
    lake, the warehouse's ops tables, the queue (it sends the apply task) and retailer4's
    REST part (reference data)."""

    model_config = env_config()
    stream: StreamOptions = Field(default_factory=StreamOptions)
    ingestion: IngestionSettings = Field(default_factory=IngestionSettings)
    retailer4: Retailer4Settings = Field(default_factory=Retailer4Settings)

