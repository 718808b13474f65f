"""Typed, versioned contracts between the services: the manifest and the task payloads.

The services meet only through S3 objects, PostgreSQL rows and Celery messages; this module
is the one definition of the shapes that cross those lines (docs/contracts.md). Writers build
the model (so they cannot write a shape the readers do not know) and readers parse with it.

Versions are "MAJOR.MINOR". A minor version only adds optional fields, so a reader takes any
minor of its major: unknown fields are kept, missing optional ones get their defaults (an
older manifest already in a lake still reads). A reader refuses another major with
`UnsupportedVersion`, naming what it got and what it understands, instead of misreading it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MANIFEST_VERSION = "1.0"
PAYLOAD_VERSION = "1.0"


class ContractError(ValueError):
    """A message or object does not follow its contract."""


class UnsupportedVersion(ContractError):
    """A contract's major version this reader does not understand."""

    def __init__(self, contract: str, got: str, understood: str) -> None:
        super().__init__(
            f"{contract} version {got} is not supported: this reader understands major "
            f"version {major(understood)} ({contract} {understood}); upgrade the reader, "
            f"or write {contract}s of major {major(understood)}")
        self.contract, self.got, self.understood = contract, got, understood


def major(version: str) -> str:
    return version.split(".", 1)[0]


def _version(value: Any) -> str:
    # Manifests written before versions had a minor carry a bare integer major (1).
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ContractError(f"version must be 'MAJOR.MINOR', got {value!r}")
    text = str(value).strip()
    parts = text.split(".")
    if not 1 <= len(parts) <= 2 or not all(p.isdigit() for p in parts):
        raise ContractError(f"version must be 'MAJOR.MINOR', got {value!r}")
    return text if len(parts) == 2 else f"{text}.0"


def check_version(contract: str, value: Any, understood: str) -> str:
    """The version as "MAJOR.MINOR", or UnsupportedVersion for another major."""
    version = _version(value)
    if major(version) != major(understood):
        raise UnsupportedVersion(contract, version, understood)
    return version


class _Contract(BaseModel):
    # Another minor version may add fields: keep them rather than refuse or drop them.
    model_config = ConfigDict(extra="allow", frozen=True)


_C = TypeVar("_C", bound=_Contract)


# --- the manifest ---------------------------------------------------------------------


class ManifestObject(_Contract):
    """One object of a partition, as written."""

    kind: Literal["bronze", "silver", "rejected"]
    entity: str | None = None
    key: str
    records: int | None = None
    bytes: int | None = None
    sha256: str | None = None


class EntityCounts(_Contract):
    """Per entity: received = normalized + rejected."""

    received: int = 0
    normalized: int = 0
    rejected: int = 0


class ControlTotals(_Contract):
    """The retailer's own totals for the day, as it reported them."""

    line_count: int | None = None
    amount: str | None = None
    currency: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict)

    @field_validator("amount", mode="before")
    @classmethod
    def _amount_text(cls, value: Any) -> Any:
        # Money stays text (never a float); an older writer may have written a number.
        return None if value is None else str(value)


class Manifest(_Contract):
    """A partition's commit marker (`manifests/retailer=<id>/date=<D>/run=<run>.json` and
    `ops.manifest.manifest`); docs/contracts.md describes each field."""

    version: str = MANIFEST_VERSION
    run_id: str
    retailer_id: str
    run_date: dt.date
    created_at: str | None = None
    objects: list[ManifestObject] = Field(default_factory=list)
    counts: dict[str, EntityCounts] = Field(default_factory=dict)
    pages: dict[str, int] = Field(default_factory=dict)
    control_totals: ControlTotals | None = None
    rejected_amount: dict[str, str] = Field(default_factory=dict)
    unknown_fields: dict[str, int] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)
    # Written by ingestion (docs/ingestion.md); optional for other writers.
    reconciliation: dict[str, Any] | None = None
    rejected_reasons: dict[str, int] | None = None
    http: dict[str, Any] | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _known_major(cls, value: Any) -> str:
        return check_version("manifest", value, MANIFEST_VERSION)

    def objects_of(self, kind: str, entity: str | None = None) -> list[ManifestObject]:
        """The objects of one kind (and entity), in key (part) order."""
        found = [o for o in self.objects
                 if o.kind == kind and (entity is None or o.entity == entity)]
        return sorted(found, key=lambda o: o.key)

    def to_json(self) -> dict[str, Any]:
        """The manifest as JSON-ready data: the fields its writer set (an empty one as null)."""
        return self.model_dump(mode="json", exclude_unset=True)


def read_manifest(data: dict[str, Any] | str | bytes) -> Manifest:
    """Parse a stored manifest (the S3 object's bytes or the `ops.manifest` JSON).

    Raises:
        UnsupportedVersion: a major version this reader does not understand.
        ContractError: anything else that does not follow the contract.
    """
    if isinstance(data, str | bytes):
        return _parse(Manifest.model_validate_json, data, "manifest")
    return _parse(Manifest.model_validate, data, "manifest")


def _parse(validate: Callable[[Any], _C], data: Any, what: str) -> _C:
    """`validate(data)`, with pydantic's errors turned into the contract's: the
    ContractError a validator raised (an unknown version), or one naming what is wrong."""
    try:
        return validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            cause = (err.get("ctx") or {}).get("error")
            if isinstance(cause, ContractError):
                raise cause from None
        raise ContractError(f"not a valid {what}: {exc}") from None


# --- Celery task payloads (the kwargs of send_task; JSON) ----------------------------


class _Payload(_Contract):
    # A message we cannot place is refused, not guessed at: a payload has no extras.
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: str = PAYLOAD_VERSION

    @field_validator("v", mode="before")
    @classmethod
    def _known_major(cls, value: Any) -> str:
        return check_version("task payload", value, PAYLOAD_VERSION)

    def to_kwargs(self) -> dict[str, Any]:
        """The kwargs to send: JSON values, without empty optional ones."""
        return self.model_dump(mode="json", exclude_none=True)

    @classmethod
    def read(cls, kwargs: dict[str, Any]) -> Any:
        """Parse a received message's kwargs (a message without `v` is of version 1.0).

        Raises:
            UnsupportedVersion / ContractError: the message cannot be read by this worker.
        """
        return _parse(cls.model_validate, kwargs, cls.__name__)


class StepPayload(_Payload):
    """A run step's task (`ingestion.ingest_partition`, `transformation.load_partition`,
    `quality.run_checks`, and any stage of `shared/stages.py`): which step to do. The task
    re-reads everything else from `ops` (ids, not payloads)."""

    run_id: str
    run_date: dt.date
    retailer_id: str | None = None  # absent for a run-wide step


class DatePayload(_Payload):
    """A date-wide request (`transformation.replay_date`, `quality.check_date`)."""

    run_date: dt.date
    retailers: list[str] | None = None


class StreamBatchPayload(_Payload):
    """`transformation.apply_stream_batch`: which landed micro-batch of an event stream to
    apply (ops.stream_batch holds the rest)."""

    batch_id: str
