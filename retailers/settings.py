"""The simulated retailers' own settings. A retailer is another company's system: it knows
nothing of the pipeline (no warehouse, no pipeline token), only its own variables.

    retailer server N   RETAILERn_DATABASE_URL and its credentials, RETAILER_* (server part)
    `retailers` CLI     RETAILERn_DATABASE_URL of the retailers it seeds, RETAILER_* (generator)

`server_settings_class("retailer1")` is the class a retailer1 process builds at its start; it
reads nothing of retailer2 or retailer3. `env_names(cls)` lists the variables a class reads.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from typing import Any, ClassVar, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

RETAILER_IDS: tuple[str, ...] = ("retailer1", "retailer2", "retailer3")
PLACEHOLDER_SECRETS = {"changethis", "change-me", "changeme", ""}
# Tests set RETAIL_ENV_FILE="" so a developer's .env never leaks into them.
ENV_FILE = os.environ.get("RETAIL_ENV_FILE", ".env") or None

S = TypeVar("S", bound=BaseSettings)


def _env(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, env_file=ENV_FILE, env_file_encoding="utf-8",
                              extra="ignore")


def _real_secret(value: SecretStr, name: str) -> SecretStr:
    if value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
        raise ValueError(f"{name} is a placeholder; set a real secret (run `make env`)")
    return value


class GeneratorSettings(BaseSettings):
    """What the data generator draws from (RETAILER_*): seeding is deterministic in these."""

    model_config = _env("RETAILER_")
    seed: int = 42
    orders_per_day: int = 400
    products: int = 400
    customers: int = 3000
    stores: int = 12
    fault_rate: float = Field(0.01, ge=0, le=0.5)
    price_change_rate: float = Field(0.02, ge=0, le=1)
    # Share of signed-up customers whose attributes (city, email, name) change on a day.
    customer_change_rate: float = Field(0.002, ge=0, le=1)


class ServerCommonSettings(BaseSettings):
    """What every retailer server shares (RETAILER_*): paging cap, chaos at start, admin."""

    model_config = _env("RETAILER_")
    admin_token: SecretStr
    max_page_size: int = 5000
    token_ttl_seconds: int = 300
    error_rate: float = Field(0.0, ge=0, le=1)
    throttle_rate: float = Field(0.0, ge=0, le=1)
    retry_after_seconds: int = 1
    slow_rate: float = Field(0.0, ge=0, le=1)
    slow_seconds: float = 2.0
    # Gunicorn worker processes per retailer (read by whoever starts gunicorn).
    workers: int = 2
    log_level: str = "INFO"

    _check = field_validator("admin_token")(
        lambda v: _real_secret(v, "RETAILER_ADMIN_TOKEN"))


class RetailerCommonSettings(ServerCommonSettings, GeneratorSettings):
    """Every RETAILER_* variable: the local stack and the tests, which run servers and seed."""

    model_config = _env("RETAILER_")


class Retailer1Database(BaseSettings):
    model_config = _env("RETAILER1_")
    database_url: str = "postgresql://postgres@127.0.0.1:5432/retailer1"


class Retailer2Database(BaseSettings):
    model_config = _env("RETAILER2_")
    database_url: str = "postgresql://postgres@127.0.0.1:5432/retailer2"


class Retailer3Database(BaseSettings):
    model_config = _env("RETAILER3_")
    database_url: str = "postgresql://postgres@127.0.0.1:5432/retailer3"


# Only a retailer's database URL: what creating and seeding its database needs.
DATABASES: dict[str, type[BaseSettings]] = {
    "retailer1": Retailer1Database, "retailer2": Retailer2Database,
    "retailer3": Retailer3Database,
}


class Retailer1Settings(Retailer1Database):
    """retailer1's own: its database and the API key it accepts."""

    api_key: SecretStr

    _check = field_validator("api_key")(lambda v: _real_secret(v, "RETAILER1_API_KEY"))


class Retailer2Settings(Retailer2Database):
    """retailer2's own: its database and the HTTP Basic user it accepts."""

    username: str = "pipeline"
    password: SecretStr

    _check = field_validator("password")(lambda v: _real_secret(v, "RETAILER2_PASSWORD"))


class Retailer3Settings(Retailer3Database):
    """retailer3's own: its database, its OAuth2 client and the key signing its tokens."""

    client_id: str = "pipeline"
    client_secret: SecretStr
    token_signing_key: SecretStr

    _check = field_validator("client_secret", "token_signing_key")(
        lambda v: _real_secret(v, "RETAILER3 secret"))


class Retailer5Settings(BaseSettings):
    """retailer5's own (RETAILER5_*): where it drops its files (an S3 bucket and its own
    credentials) and which faults its drops have (its chaos, docs/retailers.md)."""

    model_config = _env("RETAILER5_")
    s3_endpoint_url: str | None = "http://127.0.0.1:9000"
    s3_bucket: str = "retail-lake"
    s3_region: str = "us-east-1"
    s3_access_key_id: str = "local"
    s3_secret_access_key: SecretStr = SecretStr("local-secret")
    inbox_prefix: str = "inbox/retailer5/"
    send_products: bool = True
    # Faults of every drop (the CLI's flags add to them).
    malformed_lines: int = Field(0, ge=0)
    truncate: bool = False
    bad_name: bool = False

    def faults(self, **extra: Any):
        """The drop faults these settings ask for, with `extra` (Faults fields) on top."""
        from retailers.retailer5.files import Faults

        return Faults(**{"malformed_lines": self.malformed_lines, "truncate": self.truncate,
                         "bad_name": self.bad_name, **extra})


class Retailer5DropSettings(BaseSettings):
    """What `retailers drop-files` reads: the generator (RETAILER_*) and retailer5's own."""

    model_config = _env("")
    retailer: GeneratorSettings = Field(default_factory=GeneratorSettings)
    own: Retailer5Settings = Field(default_factory=Retailer5Settings)


class RetailerServerSettings(BaseSettings):
    """A retailer server process: the servers' shared part (`retailer`) and its own (`own`).
    One subclass per retailer, so retailer1 never reads retailer2's secrets."""

    model_config = _env("")  # only the nested sections read variables
    retailer_id: ClassVar[str]
    retailer: ServerCommonSettings = Field(default_factory=ServerCommonSettings)


class Retailer1ServerSettings(RetailerServerSettings):
    retailer_id: ClassVar[str] = "retailer1"
    own: Retailer1Settings = Field(default_factory=Retailer1Settings)


class Retailer2ServerSettings(RetailerServerSettings):
    retailer_id: ClassVar[str] = "retailer2"
    own: Retailer2Settings = Field(default_factory=Retailer2Settings)


class Retailer3ServerSettings(RetailerServerSettings):
    retailer_id: ClassVar[str] = "retailer3"
    own: Retailer3Settings = Field(default_factory=Retailer3Settings)


SERVER_SETTINGS: dict[str, type[RetailerServerSettings]] = {
    cls.retailer_id: cls
    for cls in (Retailer1ServerSettings, Retailer2ServerSettings, Retailer3ServerSettings)
}


def server_settings_class(retailer_id: str) -> type[RetailerServerSettings]:
    """The settings class of `retailer_id`'s server: RETAILER_* and its own RETAILERn_*."""
    try:
        return SERVER_SETTINGS[retailer_id]
    except KeyError:
        raise ValueError(f"unknown retailer {retailer_id!r}; "
                         f"known: {', '.join(RETAILER_IDS)}") from None


# --- which variables a class reads; starting a process with a clear message -----------------

def _nested(annotation: Any) -> type[BaseSettings] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation,
                                                                     BaseSettings) else None


def env_names(cls: type[BaseSettings]) -> list[str]:
    """The environment variables `cls` reads (nested sections included), sorted."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for name, field in cls.model_fields.items():
        sub = _nested(field.annotation)
        if sub is not None:
            names.update(env_names(sub))
        else:
            names.add((prefix + name).upper())
    return sorted(names)


def errors(cls: type[BaseSettings]) -> list[str]:
    """Each missing or invalid variable of `cls`, named as in the environment."""
    problems: list[str] = []
    nested = {name: sub for name, f in cls.model_fields.items()
              if (sub := _nested(f.annotation)) is not None}
    for sub in nested.values():
        problems += errors(sub)
    given: dict[str, Any] = {name: sub.model_construct() for name, sub in nested.items()}
    try:
        cls(**given)
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix", ""))
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            if not (loc and loc[0] in nested):
                problems.append(f"{(prefix + '_'.join(loc)).upper()}: {err['msg']}")
    return problems


def load_or_exit(cls: type[S]) -> S:
    """Build `cls` at a process start; on a missing or placeholder secret, name the variables
    and exit with status 2."""
    try:
        return cls()
    except ValidationError:
        problems = errors(cls) or ["settings could not be built"]
        sys.stderr.write("configuration error: the retailer cannot start.\n"
                         + "".join(f"  {p}\n" for p in problems)
                         + "Set them in the environment or in .env (see .env.example).\n")
        raise SystemExit(2) from None


class Retailer4Settings(BaseSettings):
    """retailer4 (events on NATS JetStream, reference data by REST): its bearer token, its
    stream, when its producers switch to schema version 2, and its stream chaos."""

    model_config = _env("RETAILER4_")
    api_token: SecretStr
    nats_url: str = "nats://127.0.0.1:4222"
    stream: str = "RETAILER4"
    subject_prefix: str = "retailer4"
    # Orders and payments are published in schema version 2 for dates from this one on.
    v2_from: dt.date = dt.date(2024, 3, 1)
    duplicate_rate: float = Field(0.0, ge=0, le=1)
    out_of_order_rate: float = Field(0.0, ge=0, le=1)
    late_rate: float = Field(0.0, ge=0, le=1)
    late_after_seconds: float = Field(0.0, ge=0)
    burst_size: int = Field(0, ge=0)
    unknown_version_rate: float = Field(0.0, ge=0, le=1)
    undecodable_rate: float = Field(0.0, ge=0, le=1)

    _check = field_validator("api_token")(lambda v: _real_secret(v, "RETAILER4_API_TOKEN"))


class Retailer4Process(BaseSettings):
    """How the retailer4 REST process runs (RETAILER_*: gunicorn workers, log level)."""

    model_config = _env("RETAILER_")
    workers: int = 2
    log_level: str = "INFO"


class Retailer4ServerSettings(Retailer4Settings):
    """The retailer4 REST process: its own variables plus the generator's (RETAILER_*)."""

    generator: GeneratorSettings = Field(default_factory=GeneratorSettings)
    process: Retailer4Process = Field(default_factory=Retailer4Process)
