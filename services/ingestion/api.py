"""The ingestion API: start runs and see where they are. Routes only; the logic is in
`runs.py`, the skeleton (probes, errors, limits) in `shared.api_app`.

Serve: `uvicorn services.ingestion.api:create_app --factory --port 8001`.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Request, Response

from services.ingestion import runs
from services.ingestion.schemas import RunLink, RunsAccepted, RunsRequest
from services.ingestion.settings import IngestionApiSettings
from shared import api_app
from shared.api_app import ConnectionDep, ServiceApi, app_settings, service_router
from shared.api_auth import RequireToken
from shared.api_errors import error_responses
from shared.api_types import Day
from shared.run_models import RunList, RunStatus, RunStatusName

DESCRIPTION = ("Pulls each retailer's day into the S3 lake (bronze, silver, rejected objects "
               "and a manifest per partition).")
router = service_router()
SettingsDep = Annotated[IngestionApiSettings, Depends(app_settings)]


@router.post("/runs", status_code=202, response_model=RunsAccepted, dependencies=[RequireToken],
             responses=error_responses(401, 409, 413, 422))
def post_runs(body: RunsRequest, request: Request, response: Response,
              settings: SettingsDep) -> RunsAccepted:
    """Start ingestion runs for one date or a date range (a backfill)."""
    dates = runs.dates_to_run(body.date, body.start, body.end,
                              max_days=settings.ingestion.max_backfill_days)
    submission = runs.submit_runs(dates, body.retailers, requested_by="api",
                                  settings=settings)
    links = [RunLink(run_id=r.run_id, run_date=r.run_date, status=r.status,
                     status_url=str(request.url_for("get_run", run_id=r.run_id)))
             for r in submission.runs]
    response.headers["Location"] = links[0].status_url
    return RunsAccepted(run_id=links[0].run_id, status_url=links[0].status_url,
                        backfill_id=submission.backfill_id, runs=links)


@router.get("/runs/{run_id}", name="get_run", response_model=RunStatus,
            responses=error_responses(404, 422, s404="no run has that id"))
def get_run(run_id: uuid.UUID, conn: ConnectionDep) -> RunStatus:
    """A run's status with each retailer's steps: state, attempts, counts, timings, errors."""
    return RunStatus.model_validate(runs.run_status(conn, str(run_id)))


@router.get("/runs", response_model=RunList, responses=error_responses(422))
def get_runs(conn: ConnectionDep,
             date: Annotated[Day | None, Query(description="only runs of this date")] = None,
             status: Annotated[RunStatusName | None,
                               Query(description="only runs in this status")] = None,
             limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> RunList:
    """Runs, newest first, optionally filtered by date and status."""
    return RunList.model_validate(
        {"runs": runs.list_runs(conn, run_date=date, status=status, limit=limit)})


# `uvicorn services.ingestion.api:create_app --factory`
create_app = api_app.app_factory(ServiceApi("ingestion", DESCRIPTION, [router],
                                            depends_on=("postgresql", "redis", "s3")),
                                 IngestionApiSettings)
