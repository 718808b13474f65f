"""The run and step JSON of `GET /runs` and `GET /runs/{id}` (ingestion), as versioned models.

Any service or tool that reads a run over HTTP (the CLI, the benchmark, a scheduler) reads
it with `parse_run_status`, which refuses a document of another major version with a clear
error instead of reading fields that changed meaning. Add fields within a major version;
rename or remove one only with a new major version.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

RUN_JSON_VERSION = "1.0"
RunStatusName = Literal["queued", "running", "succeeded", "succeeded_with_warnings", "failed",
                        "canceled"]


class UnsupportedVersion(ValueError):
    """A run document of a major version this reader does not know."""


class StepView(BaseModel):
    """One step of a run (an ingest or transform of one retailer, or the quality step)."""

    status: str = Field(description="pending, queued, running, succeeded, failed, dead "
                                    "or skipped")
    attempts: int
    max_attempts: int
    queued_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    seconds: float | None = Field(description="started to finished (or to now)")
    lease_expires_at: dt.datetime | None
    progress: dict[str, Any] = Field(description="while running: pages, records, phase")
    counts: dict[str, Any] = Field(description="after success: what the step counted")
    error: str | None
    error_detail: Any = Field(None, description="structured context of the last error")


class RunFields(BaseModel):
    """What a run says about itself, in the list and in the detail."""

    version: str = Field(RUN_JSON_VERSION, description="major.minor of this document")
    run_id: str
    run_date: dt.date
    kind: str = Field(description="ingest or replay")
    status: RunStatusName
    backfill_id: str | None
    requested_by: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    seconds: float | None
    error: str | None
    steps_done: int
    steps_total: int


class RunSummary(RunFields):
    """A run in `GET /runs`."""

    retailers: list[str]


class RunList(BaseModel):
    version: str = RUN_JSON_VERSION
    runs: list[RunSummary]


class RunStatus(RunFields):
    """`GET /runs/{id}`: the run with each retailer's steps and the quality step."""

    retailers: dict[str, dict[str, StepView]] = Field(
        description="retailer id -> step name (ingest, transform) -> step")
    quality: StepView | None
    counts: dict[str, dict[str, int]] = Field(
        description="entity -> received / normalized / rejected, over succeeded ingests")


def parse_run_status(document: dict[str, Any]) -> RunStatus:
    """Read a `GET /runs/{id}` body.

    Raises:
        UnsupportedVersion: the document's major version is not this reader's.
        pydantic.ValidationError: the document does not have the model's shape.
    """
    version = str(document.get("version", ""))
    if version.split(".")[0] != RUN_JSON_VERSION.split(".")[0]:
        raise UnsupportedVersion(f"run document version {version or '(none)'!r}; this reader "
                                 f"understands {RUN_JSON_VERSION.split('.')[0]}.x")
    return RunStatus.model_validate(document)
