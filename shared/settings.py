"""Settings of the pipeline's processes: base classes per concern, and the tools around them.

Each process kind has its own typed class, built at its start, that reads only the variables
it uses (`services/ingestion/settings.py`, `services/transformation/settings.py`,
`services/quality/settings.py`, `suite/settings.py`). They are put together from the
concerns below, each reading its own variables:

    LoggingSettings   LOG_FORMAT, LOG_LEVEL
    DatabaseSettings  DATABASE_URL
    BrokerSettings    REDIS_URL, TASK_VISIBILITY_TIMEOUT_SECONDS
    StepSettings      STEP_LEASE_SECONDS, STEP_HEARTBEAT_SECONDS, STEP_MAX_ATTEMPTS,
                      STEP_RETRY_DELAY_SECONDS, STEP_QUEUED_TIMEOUT_SECONDS
    S3Settings        S3_ENDPOINT_URL, S3_BUCKET, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY
    ApiTokenSettings  PIPELINE_API_TOKEN, API_MAX_BODY_BYTES (the HTTP APIs)
    LineageSettings   LINEAGE_TRANSPORT, LINEAGE_FILE, LINEAGE_URL, LINEAGE_ENDPOINT,
                      LINEAGE_API_KEY, LINEAGE_NAMESPACE (OpenLineage events of the steps)

A process calls `load_settings_or_exit(TheClass)` at start: it builds the class (exiting with
the missing variables named when it cannot) and makes it *the process's settings*. The shared
modules (`db`, `s3`, `logging`, `api_auth`, `celery_app`) take their concern from it through
`current(Concern)`; in a process that bound none (a test, a script) `current` builds the
concern alone, reading only its own variables.

The retailers are another company's systems and have their own settings (`retailers/
settings.py`); nothing here knows them.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from typing import Any, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = {"changethis", "change-me", "changeme", ""}

# The retailers the pipeline pulls from (its own list; the retailers do not share it).
RETAILER_IDS: tuple[str, ...] = ("retailer1", "retailer2", "retailer3", "retailer5")
# Retailers that deliver by events (NATS JetStream); a run names them explicitly.
STREAM_RETAILER_IDS: tuple[str, ...] = ("retailer4",)
KNOWN_RETAILER_IDS: tuple[str, ...] = RETAILER_IDS + STREAM_RETAILER_IDS

# Tests set RETAIL_ENV_FILE="" so a developer's .env never leaks into them.
ENV_FILE = os.environ.get("RETAIL_ENV_FILE", ".env") or None

S = TypeVar("S", bound=BaseSettings)


def env_config(prefix: str = "") -> SettingsConfigDict:
    """The model config of a settings class: its prefix, `.env` as a fallback, and other
    variables ignored (a process's environment may hold more than it reads)."""
    return SettingsConfigDict(
        env_prefix=prefix, env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore"
    )


def reject_placeholder(value: SecretStr | None, name: str) -> SecretStr | None:
    """Refuse `changethis` and friends, so a copied .env.example never runs as is."""
    if value is not None and value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
        raise ValueError(f"{name} is a placeholder; set a real secret (run `make env`)")
    return value


# --- the concerns ---------------------------------------------------------------------------

class LoggingSettings(BaseSettings):
    """How a process logs."""

    model_config = env_config()
    log_format: Literal["json", "console"] = "console"
    log_level: str = "INFO"


class DatabaseSettings(BaseSettings):
    """The warehouse database (schemas warehouse, marts, ops, quality)."""

    model_config = env_config()
    database_url: str = "postgresql://postgres@127.0.0.1:5432/retail_analytics"


class BrokerSettings(BaseSettings):
    """Celery's broker and result backend."""

    model_config = env_config()
    redis_url: str = "redis://127.0.0.1:6379/0"
    # How long Redis keeps a taken, unacknowledged message before it re-delivers it (with
    # the same task id, which may take over its step). Longer than any step runs and than
    # the longest retry countdown (600 s), so a live worker's message is never re-delivered;
    # a dead worker's step is re-sent by the sweeper long before, when its lease runs out.
    task_visibility_timeout_seconds: int = Field(3600, ge=900)


class StepSettings(BaseSettings):
    """The leases, heartbeats, retries and attempts of a run's steps (shared/steps.py)."""

    model_config = env_config()
    # A running step's lease: the sweeper re-sends the step once it has run out. The worker
    # extends it every STEP_HEARTBEAT_SECONDS from a background thread, so it runs out only
    # when the worker is gone: a killed worker's step is back to work within about
    # lease + SWEEPER_INTERVAL_SECONDS.
    step_lease_seconds: int = Field(45, ge=1)
    step_heartbeat_seconds: float = Field(3.0, gt=0)
    step_max_attempts: int = Field(3, ge=1)
    # First delay of the retry of a failed attempt (doubled each attempt, jittered).
    step_retry_delay_seconds: float = Field(5.0, ge=0)
    # A step queued (or waiting for its retry) longer than this counts as a lost message and
    # is sent again (a duplicate message finds its step taken and does nothing).
    step_queued_timeout_seconds: int = Field(120, ge=1)

    @model_validator(mode="after")
    def _lease_outlives_heartbeats(self) -> StepSettings:
        # A live worker's lease must survive a missed beat or two (a slow database, a
        # garbage collection pause): never let it run out between two beats.
        if self.step_lease_seconds <= 2 * self.step_heartbeat_seconds:
            raise ValueError("STEP_LEASE_SECONDS must be more than twice "
                             "STEP_HEARTBEAT_SECONDS, or a live worker could lose its step")
        return self


class S3Settings(BaseSettings):
    """The lake: an S3 endpoint (a local S3-compatible server, or AWS when empty)."""

    model_config = env_config()
    s3_endpoint_url: str | None = "http://127.0.0.1:9000"
    s3_bucket: str = "retail-lake"
    s3_region: str = "us-east-1"
    s3_access_key_id: str = "local"
    s3_secret_access_key: SecretStr = SecretStr("local-secret")


class ApiTokenSettings(BaseSettings):
    """What the HTTP APIs share: the bearer token of their write endpoints (POST /runs,
    /replays, /checks/run) and the largest request body they read."""

    model_config = env_config()
    pipeline_api_token: SecretStr
    # A longer body is a 413 before it is read whole. The bodies are a date and a few
    # retailer ids: 64 KiB leaves room to spare.
    api_max_body_bytes: int = Field(64 * 1024, ge=1024)

    _check_token = field_validator("pipeline_api_token")(
        lambda v: reject_placeholder(v, "PIPELINE_API_TOKEN"))


class LineageSettings(BaseSettings):
    """Where the steps' OpenLineage events go (shared/lineage.py): nowhere (`off`, the
    default), a file of JSON lines (`file`, the tests), or HTTP to Marquez or any
    OpenLineage endpoint (`http`)."""

    model_config = env_config()
    lineage_transport: Literal["off", "file", "http"] = "off"
    # `file`: every event appended as one JSON line.
    lineage_file: str = ".data/lineage/events.jsonl"
    # `http`: the server (Marquez: its API port) and the path events are POSTed to.
    lineage_url: str = "http://127.0.0.1:5000"
    lineage_endpoint: str = "api/v1/lineage"
    # `http`: sent as `Authorization: Bearer <key>` when set.
    lineage_api_key: SecretStr | None = None
    # The OpenLineage namespace of the suite's jobs (one per deployment).
    lineage_namespace: str = "retail-pipeline"


class PipelineSettings(LoggingSettings, DatabaseSettings, BrokerSettings, StepSettings,
                       LineageSettings):
    """What every process working on runs shares: logs, the warehouse, the queue, steps
    and where their lineage goes."""

    model_config = env_config()

    @property
    def retailer_ids(self) -> tuple[str, ...]:
        return RETAILER_IDS


# --- the process's settings -----------------------------------------------------------------

_bound: BaseSettings | None = None


def bind(settings: S) -> S:
    """Make `settings` the process's settings (what `current` answers). Returns it."""
    global _bound
    _bound = settings
    return settings


@lru_cache
def _standalone(cls: type[S]) -> S:
    return cls()


def current(cls: type[S]) -> S:
    """The process's settings seen as `cls`: the object bound at the process's start when it
    is a `cls`, else `cls` alone, read once from the environment (a test, a script)."""
    if isinstance(_bound, cls):
        return _bound
    return _standalone(cls)


def reset_settings() -> None:
    """Forget the bound settings and every cached one (tests that change the environment)."""
    global _bound
    _bound = None
    _standalone.cache_clear()


# --- introspection: which variables a class reads, and which of them are wrong ---------------

def _nested(annotation: Any) -> type[BaseSettings] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation,
                                                                     BaseSettings) else None


def settings_env_names(cls: type[BaseSettings]) -> list[str]:
    """The environment variables `cls` reads, nested settings included, sorted.

    Args:
        cls: a pydantic-settings class (the pipeline's, or a retailer's).
    Returns:
        Names as they appear in the environment (`DATABASE_URL`, `INGESTION_PAGE_SIZE`).
    """
    prefix = str(cls.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for name, field in cls.model_fields.items():
        sub = _nested(field.annotation)
        if sub is not None:
            names.update(settings_env_names(sub))
        else:
            alias = field.validation_alias if isinstance(field.validation_alias, str) else None
            names.add((alias or prefix + name).upper())
    return sorted(names)


def settings_errors(cls: type[BaseSettings]) -> list[str]:
    """Every missing or invalid variable of `cls`, named as in the environment
    (`RETAILER1_API_KEY: Field required`). Empty when the class builds."""
    problems: list[str] = []
    nested: dict[str, type[BaseSettings]] = {}
    for name, field in cls.model_fields.items():
        sub = _nested(field.annotation)
        if sub is not None:
            nested[name] = sub
            problems += settings_errors(sub)
    prefix = str(cls.model_config.get("env_prefix", ""))
    try:
        # The nested settings were checked above; check this class's own fields alone.
        given: dict[str, Any] = {name: sub.model_construct() for name, sub in nested.items()}
        cls(**given)
    except ValidationError as exc:
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            if loc and loc[0] in nested:
                continue
            name = (prefix + "_".join(loc)).upper()
            # A rule across fields (the lease and its heartbeat) names them itself.
            problems.append(f"{name}: {err['msg']}" if name else err["msg"])
    return problems


def load_settings_or_exit(cls: type[S]) -> S:
    """Build a process's settings at its start and bind them; on a missing or placeholder
    secret, print the variables to set and exit with status 2.

    Args:
        cls: the process's settings class (e.g. `IngestionWorkerSettings`).
    Returns:
        The settings, also answered by `current(...)` from now on.
    """
    if isinstance(_bound, cls):
        return _bound
    try:
        return bind(cls())
    except Exception:  # noqa: BLE001 - turned into a readable message below
        problems = settings_errors(cls) or ["settings could not be built"]
        sys.stderr.write(
            f"configuration error: the process cannot start ({cls.__name__}).\n"
            + "".join(f"  {p}\n" for p in problems)
            + "Set them in the environment or in .env (`make env` writes one; "
            "see .env.example).\n"
        )
        raise SystemExit(2) from None
