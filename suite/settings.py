"""Settings of the operator's command line (`retail`) and of the local stack it starts.

    DbInitSettings    `retail db-init`: DATABASE_URL, BI_READER_PASSWORD (and logging)
    OperatorSettings  `retail run`, `replay`, `sweep`: the warehouse, the queue, steps, and
                      the run and replay options (INGESTION_MAX_BACKFILL_DAYS, ...)
    FlowerSettings    Flower: the broker and its port
    StackSettings     `retail up`, `status`, `demo`: every process's own settings, each built
                      and checked before anything starts

`PROCESS_SETTINGS` maps each process of the stack to its class: the stack hands a process
only the variables its class reads (`process_env`), and the container test can check a
container's environment against the same list (`shared.settings.settings_env_names`).
"""

from __future__ import annotations

import copy
import os
import sys
from dataclasses import dataclass
from typing import Any

from dotenv import dotenv_values
from pydantic import SecretStr
from pydantic_settings import BaseSettings

from retailers.settings import (
    DATABASES,
    RETAILER_IDS,
    GeneratorSettings,
    Retailer4ServerSettings,
    RetailerServerSettings,
    server_settings_class,
)
from retailers.settings import errors as retailer_errors
from services.ingestion.settings import (
    IngestionApiSettings,
    IngestionBeatSettings,
    IngestionRunsSettings,
    IngestionWorkerSettings,
    StreamConsumerSettings,
)
from services.quality.settings import QualityApiSettings, QualityWorkerSettings
from services.transformation.settings import (
    ReplaySettings,
    TransformationApiSettings,
    TransformationWorkerSettings,
)
from shared.settings import (
    ENV_FILE,
    BrokerSettings,
    DatabaseSettings,
    LoggingSettings,
    env_config,
    settings_env_names,
    settings_errors,
)


class DbInitSettings(LoggingSettings, DatabaseSettings):
    """`retail db-init` (the compose one-shot `warehouse-setup` runs it)."""

    model_config = env_config()
    # Password of the read-only bi_reader role (containers; local PostgreSQL uses trust auth).
    bi_reader_password: SecretStr | None = None


class OperatorSettings(IngestionRunsSettings, ReplaySettings):
    """`retail run`, `retail replay`, `retail sweep`: they start runs as the ingestion API does
    and replays as the transformation API does, in the operator's own process (no S3, no
    retailers, no token)."""

    model_config = env_config()


class FlowerSettings(LoggingSettings, BrokerSettings):
    """Flower, the Celery monitor (`celery -A shared.celery_app flower`)."""

    model_config = env_config()
    flower_port: int = 5555


# Each process of the local stack (and of compose) and the class it builds at its start.
PROCESS_SETTINGS: dict[str, type[BaseSettings]] = {
    **{rid: server_settings_class(rid) for rid in RETAILER_IDS},
    "ingestion-api": IngestionApiSettings,
    "transformation-api": TransformationApiSettings,
    "quality-api": QualityApiSettings,
    "ingestion-worker": IngestionWorkerSettings,
    "transformation-worker": TransformationWorkerSettings,
    "quality-worker": QualityWorkerSettings,
    "beat": IngestionBeatSettings,
    "flower": FlowerSettings,
    "retailer4": Retailer4ServerSettings,
    "stream-consumer": StreamConsumerSettings,
}


def _retailer_class(cls: type[BaseSettings]) -> bool:
    return issubclass(cls, RetailerServerSettings)


def all_setting_names() -> set[str]:
    """Every variable any process of the suite reads."""
    classes: list[type[BaseSettings]] = [*PROCESS_SETTINGS.values(), DbInitSettings,
                                         OperatorSettings, GeneratorSettings,
                                         *DATABASES.values()]
    return {name for cls in classes for name in settings_env_names(cls)}


def process_env(cls: type[BaseSettings]) -> dict[str, str]:
    """The environment of a process whose settings are `cls`: the operator's environment
    without any of the suite's variables, plus the ones `cls` reads (from the environment,
    else `.env`). `RETAIL_ENV_FILE` is emptied so the child reads no `.env` of its own."""
    known = all_setting_names()
    file_values = {k: v for k, v in (dotenv_values(ENV_FILE) if ENV_FILE else {}).items()
                   if v is not None}
    env = {k: v for k, v in os.environ.items() if k not in known}
    for name in settings_env_names(cls):
        value = os.environ.get(name, file_values.get(name))
        if value is not None:
            env[name] = value
    env["RETAIL_ENV_FILE"] = ""
    return env


@dataclass(frozen=True)
class StackSettings:
    """The local stack: each process's settings, as that process will build them."""

    ingestion_api: IngestionApiSettings
    ingestion_worker: IngestionWorkerSettings
    transformation: TransformationApiSettings
    quality: QualityApiSettings
    beat: IngestionBeatSettings
    flower: FlowerSettings
    retailers: dict[str, RetailerServerSettings]
    generator: GeneratorSettings
    db_init: DbInitSettings
    stream: StreamConsumerSettings

    @property
    def retailer_ids(self) -> tuple[str, ...]:
        return tuple(self.retailers)

    @property
    def database_url(self) -> str:
        return self.db_init.database_url

    @property
    def redis_url(self) -> str:
        return self.ingestion_worker.redis_url

    def retailer_url(self, retailer_id: str) -> str:
        """Where the pipeline reaches `retailer_id` (the worker's RETAILERn_URL)."""
        return str(getattr(self.ingestion_worker, retailer_id).url)

    def retailer_database_url(self, retailer_id: str) -> str:
        return str(self.retailers[retailer_id].own.database_url)  # type: ignore[attr-defined]


def stack_errors() -> list[str]:
    """The missing or invalid variables of every process of the stack, each named once."""
    problems: list[str] = []
    for cls in [*PROCESS_SETTINGS.values(), DbInitSettings, GeneratorSettings]:
        found = retailer_errors(cls) if _retailer_class(cls) else settings_errors(cls)
        problems += [p for p in found if p not in problems]
    return problems


def load_stack_or_exit() -> StackSettings:
    """Build every process's settings before starting any; exit 2 naming what is missing."""
    problems = stack_errors()
    if problems:
        sys.stderr.write("configuration error: the stack cannot start.\n"
                         + "".join(f"  {p}\n" for p in problems)
                         + "Set them in the environment or in .env (`make env` writes one; "
                         "see .env.example).\n")
        raise SystemExit(2)
    return StackSettings(
        ingestion_api=IngestionApiSettings(), ingestion_worker=IngestionWorkerSettings(),
        transformation=TransformationApiSettings(), quality=QualityApiSettings(),
        beat=IngestionBeatSettings(), flower=FlowerSettings(),
        retailers={rid: server_settings_class(rid)() for rid in RETAILER_IDS},
        generator=GeneratorSettings(), db_init=DbInitSettings(),
        stream=StreamConsumerSettings())


class SuiteView:
    """Every process's settings side by side, under the attribute names the one settings
    object used to have (`.database_url`, `.ingestion`, `.retailer1.api_key`, ...).

    Only for what plays every process in one interpreter: the tests and the benchmarks. A
    process of the suite builds its own class and nothing else.
    """

    def __init__(self) -> None:
        from types import SimpleNamespace

        from retailers.settings import RetailerCommonSettings

        self._parts: list[BaseSettings] = [
            IngestionWorkerSettings(), IngestionApiSettings(), TransformationApiSettings(),
            QualityApiSettings(), IngestionBeatSettings(), FlowerSettings(), DbInitSettings()]
        worker = self._parts[0]
        self.ingestion = worker.ingestion  # type: ignore[attr-defined]
        self.retailer = RetailerCommonSettings()
        for rid in RETAILER_IDS:
            server = server_settings_class(rid)().own  # type: ignore[attr-defined]
            client = getattr(worker, rid)
            setattr(self, rid, SimpleNamespace(**{**server.model_dump(),
                                                  **client.model_dump()}))

    @property
    def retailer_ids(self) -> tuple[str, ...]:
        return RETAILER_IDS

    def model_copy(self, *, update: dict[str, Any] | None = None,
                   deep: bool = False) -> SuiteView:
        """A copy whose sections can be changed without touching this one (tests)."""
        new = copy.deepcopy(self) if deep else copy.copy(self)
        for name, value in (update or {}).items():
            setattr(new, name, value)
        return new

    def __getattr__(self, name: str):
        for part in self.__dict__.get("_parts", []):
            if name in type(part).model_fields:
                return getattr(part, name)
        raise AttributeError(name)


def command_settings() -> dict[str, type[BaseSettings]]:
    """Every process of the stack and every command of the CLIs, with its settings class."""
    return {**PROCESS_SETTINGS, "db-init": DbInitSettings, "operator": OperatorSettings,
            "retailers-seed": GeneratorSettings}
