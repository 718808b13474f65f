"""The ingestion API: start runs, see where they are, health. Routes only; the logic is in
`runs.py` and `health.py`.

Serve: `uvicorn services.ingestion.api:app --port 8001`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from services.ingestion import health, runs
from services.ingestion.errors import (
    NotReady,
    json_response,
    register_error_handlers,
)
from services.ingestion.schemas import RunLink, RunsAccepted, RunsRequest
from services.ingestion.settings import IngestionApiSettings, get_api_settings
from shared.api_auth import require_pipeline_token
from shared.db import get_engine
from shared.logging import configure_logging
from shared.settings import load_settings_or_exit

RunStatus = Literal["queued", "running", "succeeded", "succeeded_with_warnings", "failed",
                    "canceled"]

load_settings_or_exit(IngestionApiSettings)
configure_logging()
app = FastAPI(title="Retail pipeline: ingestion", version="1",
              description="Pulls each retailer's day into the S3 lake (bronze, silver, "
                          "rejected objects and a manifest per partition).")
register_error_handlers(app)


def db_connection() -> Iterator[Connection]:
    """A read-only use of one pooled connection for the request."""
    with get_engine().connect() as conn:
        yield conn


@app.post("/runs", status_code=202, response_model=RunsAccepted,
          dependencies=[Depends(require_pipeline_token)],
          responses={401: {"description": "missing or wrong bearer token"},
                     409: {"description": "a date already has an active run"},
                     422: {"description": "malformed date, range or retailers"}})
def post_runs(body: RunsRequest, request: Request) -> Response:
    """Start ingestion runs for one date or a date range (a backfill)."""
    settings = get_api_settings()
    dates = runs.dates_to_run(body.date, body.start, body.end,
                              max_days=settings.ingestion.max_backfill_days)
    submission = runs.submit_runs(dates, body.retailers, requested_by="api")
    links = [RunLink(run_id=r.run_id, run_date=r.run_date, status=r.status,
                     status_url=str(request.url_for("get_run", run_id=r.run_id)))
             for r in submission.runs]
    accepted = RunsAccepted(run_id=links[0].run_id, status_url=links[0].status_url,
                            backfill_id=submission.backfill_id, runs=links)
    return json_response(accepted.model_dump(mode="json"), 202,
                         headers={"Location": links[0].status_url})


@app.get("/runs/{run_id}", name="get_run")
def get_run(run_id: uuid.UUID, conn: Connection = Depends(db_connection)) -> Response:
    """A run's status with each retailer's steps: state, attempts, counts, timings, errors."""
    return json_response(runs.run_status(conn, str(run_id)))


@app.get("/runs")
def get_runs(date: dt.date | None = Query(None, description="only runs of this date"),
             status: RunStatus | None = Query(None, description="only runs in this status"),
             limit: int = Query(100, ge=1, le=1000),
             conn: Connection = Depends(db_connection)) -> Response:
    """Runs, newest first, optionally filtered by date and status."""
    return json_response({"runs": runs.list_runs(conn, run_date=date, status=status,
                                                 limit=limit)})


@app.get("/livez")
def livez() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@app.get("/readyz", responses={503: {"description": "a dependency is down"}})
def readyz() -> Response:
    """PostgreSQL, Redis and S3 are reachable (503 naming the ones that are not)."""
    checks = health.readiness()
    down = [name for name, state in checks.items() if state != "ok"]
    if down:
        raise NotReady("not reachable: " + ", ".join(f"{n} ({checks[n]})" for n in down),
                       checks=checks)
    return json_response({"status": "ready", "checks": checks})
