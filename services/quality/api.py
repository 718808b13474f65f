"""The quality service's HTTP API and page. Routes only; the logic lives beside it, the
skeleton (probes, errors, limits) in `shared.api_app`.

Serve: `uvicorn services.quality.api:create_app --factory --port 8003`.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Query
from fastapi.responses import FileResponse, JSONResponse

from services.quality import health, metrics, queries
from services.quality.checks import REGISTRY
from services.quality.errors import NotFound
from services.quality.judge import validate_recheck
from services.quality.schemas import (
    CheckList,
    CheckRunAccepted,
    CheckRunRequest,
    Dashboard,
    HealthReport,
    ResultDetail,
    ResultList,
    StatusName,
)
from services.quality.settings import QualityApiSettings
from services.quality.store import sync_definitions
from shared import api_app
from shared.api_app import ConnectionDep, ServiceApi, app_settings, service_router
from shared.api_auth import RequireToken
from shared.api_errors import error_responses
from shared.api_types import NAME_PATTERN, Day
from shared.contracts import DatePayload
from shared.db import get_engine, transaction
from shared.ops import RUN_WIDE
from shared.readiness import readiness
from shared.settings import RETAILER_IDS

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"
DEPENDS_ON = ("postgresql", "redis")

# The page loads only its own script, styles and JSON: no inline code, nothing from
# elsewhere, never framed.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

# Retailer ids and "*" (run-wide) as an enum, so a typo is a 422 naming the allowed values.
ResultRetailer = StrEnum("ResultRetailer", {**{r: r for r in RETAILER_IDS},  # type: ignore[misc]
                                            "run_wide": RUN_WIDE})


def clock() -> dt.datetime:
    """Now, in UTC (a dependency so tests can move time)."""
    return dt.datetime.now(dt.UTC)


Now = Annotated[dt.datetime, Depends(clock)]
router = service_router()
SettingsDep = Annotated[QualityApiSettings, Depends(app_settings)]


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    """The quality page."""
    return FileResponse(STATIC_DIR / "index.html",
                        headers={"Cache-Control": "no-cache", "Content-Security-Policy": PAGE_CSP})


@router.get("/health", response_model=HealthReport,
            responses={503: {"model": HealthReport,
                             "description": "failing: a dependency is down, a latest verdict "
                                            "failed or a date is overdue"}})
def get_health(settings: SettingsDep, now: Now) -> JSONResponse:
    """Health and latest verdict per retailer; 503 when failed, overdue or a dependency is down."""
    checks = readiness(settings, DEPENDS_ON)
    if checks["postgresql"] != "ok":
        body = health.report(None, checks, settings, now)
    else:
        with get_engine().connect() as conn:
            body = health.report(conn, checks, settings, now)
    report = HealthReport.model_validate(body)
    return JSONResponse(report.model_dump(mode="json"), 200 if report.status == "ok" else 503)


@router.get("/checks", response_model=CheckList)
def list_checks(conn: ConnectionDep) -> CheckList:
    """The check definitions: name, kind, severity, scope, threshold and body."""
    return CheckList.model_validate({"checks": queries.definitions(conn)})


@router.get("/results", response_model=ResultList, responses=error_responses(422))
def list_results(
    conn: ConnectionDep,
    date: Annotated[Day | None, Query(description="run date, YYYY-MM-DD")] = None,
    retailer: Annotated[ResultRetailer | None,  # type: ignore[valid-type]
                        Query(description="retailer id, or * for run-wide")] = None,
    run_id: uuid.UUID | None = None,
    status: StatusName | None = None,
    check: Annotated[str | None, Query(description="check name", pattern=NAME_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> ResultList:
    """Stored check results, filtered by date, retailer, run, status and check."""
    rows = queries.results(conn, run_date=date, retailer=retailer.value if retailer else None,
                           run_id=str(run_id) if run_id else None, status=status,
                           check=check, limit=limit)
    return ResultList.model_validate({"count": len(rows), "results": rows})


@router.get("/results/{result_id}", response_model=ResultDetail,
            responses=error_responses(404, 422, s404="no result has that id"))
def get_result(result_id: int, conn: ConnectionDep) -> ResultDetail:
    """One result with its failing sample and its check's definition."""
    row = queries.result(conn, result_id)
    if row is None:
        raise NotFound(f"no result {result_id}")
    return ResultDetail.model_validate(row)


@router.post("/checks/run", status_code=202, response_model=CheckRunAccepted,
             dependencies=[RequireToken],
             responses=error_responses(
                 401, 404, 409, 413, 422, s404="no run of that date",
                 s409="the date's run is still active (`active_run_exists`): its own quality "
                      "step will judge it"))
def run_checks(body: CheckRunRequest, conn: ConnectionDep) -> CheckRunAccepted:
    """Re-run the checks of a date on its latest run (async; 202 with the Celery task id)."""
    retailers = list(body.retailers) if body.retailers else None
    # Refuse now what the task would refuse later: the caller learns it in this answer.
    run_id, targets = validate_recheck(conn, body.date, retailers)
    # Imported here: the Celery app reads settings when it is built, and importing this
    # module must not (uvicorn --factory builds the app, with its settings, at start).
    from shared.celery_app import celery_app

    task = celery_app.send_task("quality.check_date", kwargs=DatePayload(
        run_date=body.date, retailers=retailers).to_kwargs())
    return CheckRunAccepted(task_id=str(task.id), run_id=run_id, run_date=body.date,
                            retailers=targets, results=f"/results?run_id={run_id}")


@router.get("/api/dashboard", response_model=Dashboard)
def dashboard(conn: ConnectionDep, settings: SettingsDep) -> Dashboard:
    """What the page draws: latest runs, the check grid and 30-day series per retailer."""
    return Dashboard.model_validate(queries.dashboard(conn, settings.quality))


def sync_check_definitions(_settings: QualityApiSettings) -> None:
    """At start: the registry's definitions into quality.check_definition (also done by
    every verdict, so a database still starting is only logged)."""
    try:
        with transaction() as conn:
            sync_definitions(conn, REGISTRY)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not sync check definitions at startup: %s", exc)


# `uvicorn services.quality.api:create_app --factory`
create_app = api_app.app_factory(ServiceApi(
    "quality", "Runs the quality checks of each run, stores their results, judges the run; "
               "the page at / shows them.",
    [router], depends_on=DEPENDS_ON, on_startup=sync_check_definitions, static_dir=STATIC_DIR,
    metrics=metrics.collectors),
    QualityApiSettings)

