"""Request and response bodies of the quality API (they stay inside this service)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.api_types import Day, RequestModel, RetailerId

StatusName = Literal["pass", "warn", "fail", "error"]
Severity = Literal["critical", "warning"]


class CheckRunRequest(RequestModel):
    date: Day = Field(description="the run date whose checks to re-run, YYYY-MM-DD")
    retailers: list[RetailerId] | None = Field(
        None, min_length=1, description="retailers to re-check; all of the run's when omitted")


class CheckRunAccepted(BaseModel):
    task_id: str = Field(description="the Celery task that re-runs the checks")
    run_id: str = Field(description="the run whose verdict the re-check replaces")
    run_date: dt.date
    retailers: list[str]
    results: str = Field(description="where the results will be: /results?run_id=...")


class CheckDefinition(BaseModel):
    check_name: str
    kind: str = Field(description="reconciliation, completeness, uniqueness, ...")
    description: str
    severity: Severity = Field(description="critical fails the run; warning warns")
    scope: Literal["retailer_date", "run"]
    threshold: str = Field(description="the rule, as a person reads it")
    body_kind: Literal["sql", "python"]
    body: str = Field(description="the SQL, or the Python function's source")
    is_active: bool
    updated_at: dt.datetime


class CheckList(BaseModel):
    checks: list[CheckDefinition]


class CheckResult(BaseModel):
    result_id: int
    run_id: str
    run_date: dt.date
    retailer_id: str = Field(description="a retailer id, or * for a run-wide check")
    check_name: str
    kind: str | None
    severity: Severity
    status: StatusName
    observed: float | None = Field(description="the measured value (a count, share, diff)")
    threshold: float | None = Field(description="the largest observed value that passes")
    message: str
    sample: list[Any] = Field(description="up to QUALITY_SAMPLE_SIZE failing keys")
    started_at: dt.datetime
    finished_at: dt.datetime
    duration_ms: int
    evaluations: int


class ResultList(BaseModel):
    count: int
    results: list[CheckResult]


class ResultDetail(CheckResult):
    """One result with its check's definition."""

    description: str | None
    rule: str | None = Field(description="the check's threshold, as a person reads it")
    body_kind: str | None
    body: str | None
    scope: str | None


class RetailerVerdict(BaseModel):
    retailer_id: str
    run_id: str
    run_date: dt.date
    verdict: str
    run_status: str
    finished_at: dt.datetime | None
    reasons: list[str]


class Overdue(BaseModel):
    retailer_id: str
    run_date: dt.date
    deadline: dt.datetime


class Freshness(BaseModel):
    expected_from: dt.date | None
    expected_through: dt.date
    overdue_count: int
    overdue: list[Overdue]


class StreamConsumerLag(BaseModel):
    """One durable consumer of an event stream (ops.stream_consumer)."""

    consumer: str
    retailer_id: str
    stream: str
    lag_messages: int = Field(description="published, not yet acknowledged "
                                          "(retail_stream_consumer_lag_messages)")
    pending_acks: int
    delivered: int
    duplicates: int
    rejected: int
    last_batch_at: dt.datetime | None
    updated_at: dt.datetime


class HealthReport(BaseModel):
    """`GET /health`, the same body with 200 (ok) and 503 (failing)."""

    service: Literal["quality"] = "quality"
    status: Literal["ok", "failing"]
    checked_at: dt.datetime
    checks: dict[str, str] = Field(description='each dependency: "ok" or why not')
    problems: list[str]
    retailers: list[RetailerVerdict] | None = Field(
        None, description="latest verdict per retailer (absent when PostgreSQL is down)")
    freshness: Freshness | None = None
    stream_consumers: list[StreamConsumerLag] | None = Field(
        None, description="each event stream consumer's lag (absent when PostgreSQL is down)")


class DashboardRun(BaseModel):
    """A latest run with its results counted by status."""

    run_id: str
    run_date: dt.date
    kind: str
    status: str
    retailers: list[str]
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    error: str | None
    passed: int = Field(alias="pass")
    warn: int
    fail: int
    errors: int = Field(description="results that could not be evaluated")


class GridCheck(BaseModel):
    check_name: str
    kind: str | None
    severity: str | None
    scope: str | None
    description: str | None


class GridColumn(BaseModel):
    run_date: dt.date
    run_id: str
    run_status: str
    retailer_id: str


class GridCell(BaseModel):
    result_id: int
    status: StatusName
    message: str


class Grid(BaseModel):
    """Checks x (date, retailer) of the latest judged run of each recent date."""

    checks: list[GridCheck]
    columns: list[GridColumn]
    cells: dict[str, dict[str, GridCell]] = Field(
        description="check name -> `<run_date>|<retailer_id>` -> its result")


class Series(BaseModel):
    """Per retailer and day; null where nothing was loaded (a gap, not a zero)."""

    dates: list[dt.date]
    retailers: list[str]
    lines: dict[str, list[int | None]]
    revenue_usd: dict[str, list[float | None]]
    rejected_share: dict[str, list[float | None]]


class Dashboard(BaseModel):
    """What the page draws: the latest runs, the check grid and the charts' series."""

    generated_at: dt.datetime
    runs: list[DashboardRun]
    grid: Grid
    series: Series
