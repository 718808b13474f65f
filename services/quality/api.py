"""The quality service's HTTP API and page (routes only; the logic lives beside it).

Run: `uvicorn services.quality.api:app --port 8003`.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import StrEnum
from importlib.resources import files
from typing import Any, Literal

from fastapi import Depends, FastAPI, Query
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from services.quality import health, queries
from services.quality.checks import REGISTRY
from services.quality.deps import clock, connection, settings
from services.quality.errors import NotFound, register_error_handlers
from services.quality.judge import validate_recheck
from services.quality.settings import QualityApiSettings, QualityWorkerSettings
from services.quality.store import sync_definitions
from shared.api_auth import require_pipeline_token
from shared.celery_app import celery_app
from shared.db import get_engine, transaction
from shared.logging import configure_logging
from shared.ops import RUN_WIDE
from shared.settings import RETAILER_IDS, load_settings_or_exit

log = logging.getLogger(__name__)
# Package data, so the page ships in the wheel and is found wherever it is installed.
STATIC = files("services.quality") / "static"

# Retailer ids as an enum so a typo is a 422 naming the allowed values, not an empty list.
RetailerId = StrEnum("RetailerId", {r: r for r in RETAILER_IDS})  # type: ignore[misc]
ResultRetailer = StrEnum("ResultRetailer", {**{r: r for r in RETAILER_IDS},  # type: ignore[misc]
                                            "run_wide": RUN_WIDE})
StatusName = Literal["pass", "warn", "fail", "error"]


# An API without its own variables (the bearer token, ...) stops here, naming them.
load_settings_or_exit(QualityApiSettings)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    configure_logging()
    try:  # definitions are also synced by every verdict; a database still starting is fine
        with transaction() as conn:
            sync_definitions(conn, REGISTRY)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not sync check definitions at startup: %s", exc)
    yield


app = FastAPI(title="Retail pipeline - quality", version="1.0", lifespan=lifespan)
register_error_handlers(app)
app.mount("/static", StaticFiles(packages=[("services.quality", "static")]), name="static")


class CheckRunRequest(BaseModel):
    date: dt.date = Field(description="the run date whose checks to re-run")
    retailers: list[RetailerId] | None = Field(  # type: ignore[valid-type]
        None, description="retailers to re-check; all of the run's when omitted")


@app.get("/", include_in_schema=False)
def page() -> HTMLResponse:
    """The quality page."""
    return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"),
                        headers={"Cache-Control": "no-cache"})


@app.get("/livez")
def livez() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@app.get("/readyz")
def readyz(s: QualityWorkerSettings = Depends(settings)) -> JSONResponse:
    """Readiness: PostgreSQL and Redis answer (503 otherwise)."""
    deps = health.dependencies(get_engine(), s)
    ready = all(state == "ok" for state in deps.values())
    return JSONResponse({"status": "ready" if ready else "not_ready", "dependencies": deps},
                        200 if ready else 503)


@app.get("/health")
def get_health(s: QualityWorkerSettings = Depends(settings),
               now: dt.datetime = Depends(clock)) -> JSONResponse:
    """Health and latest verdict per retailer; 503 when failed, overdue or a dependency is down."""
    deps = health.dependencies(get_engine(), s)
    if deps["database"] != "ok":
        body = health.report(None, deps, s, now)
    else:
        with get_engine().connect() as conn:
            body = health.report(conn, deps, s, now)
    return JSONResponse(body, 200 if body["status"] == "ok" else 503)


@app.get("/checks")
def list_checks(conn: Connection = Depends(connection)) -> dict[str, Any]:
    """The check definitions: name, kind, severity, scope, threshold and body."""
    return {"checks": queries.definitions(conn)}


@app.get("/results")
def list_results(
    date: dt.date | None = Query(None, description="run date"),
    retailer: ResultRetailer | None = Query(None, description="retailer id, or * for run-wide"),  # type: ignore[valid-type]
    run_id: uuid.UUID | None = Query(None),
    status: StatusName | None = Query(None),
    check: str | None = Query(None, description="check name"),
    limit: int = Query(1000, ge=1, le=10000),
    conn: Connection = Depends(connection),
) -> dict[str, Any]:
    """Stored check results, filtered by date, retailer, run, status and check."""
    rows = queries.results(conn, run_date=date, retailer=retailer.value if retailer else None,
                           run_id=str(run_id) if run_id else None, status=status,
                           check=check, limit=limit)
    return {"count": len(rows), "results": rows}


@app.get("/results/{result_id}")
def get_result(result_id: int, conn: Connection = Depends(connection)) -> dict[str, Any]:
    """One result with its failing sample and its check's definition."""
    row = queries.result(conn, result_id)
    if row is None:
        raise NotFound(f"no result {result_id}")
    return row


@app.post("/checks/run", status_code=202, dependencies=[Depends(require_pipeline_token)])
def run_checks(body: CheckRunRequest, conn: Connection = Depends(connection)) -> dict[str, Any]:
    """Re-run the checks of a date on its latest run (async; 202 with the Celery task id)."""
    retailers = [r.value for r in body.retailers] if body.retailers else None
    # Refuse now what the task would refuse later: the caller learns it in this answer.
    run_id, targets = validate_recheck(conn, body.date, retailers)
    task = celery_app.send_task("quality.check_date",
                                kwargs={"run_date": body.date.isoformat(),
                                        "retailers": retailers})
    return {"task_id": task.id, "run_id": run_id, "run_date": body.date.isoformat(),
            "retailers": targets, "results": f"/results?run_id={run_id}"}


@app.get("/api/dashboard")
def dashboard(conn: Connection = Depends(connection),
              s: QualityWorkerSettings = Depends(settings)) -> dict[str, Any]:
    """What the page draws: latest runs, the check grid and 30-day series per retailer."""
    return queries.dashboard(conn, s.quality)
