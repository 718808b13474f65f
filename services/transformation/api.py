"""The transformation API: replay a date from stored silver objects. Routes only; the logic
is in `replay.py`, the skeleton (probes, errors, limits) in `shared.api_app`.

Serve: `uvicorn services.transformation.api:create_app --factory --port 8002`.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field
from sqlalchemy import text

from services.transformation.errors import NothingStored
from services.transformation.replay import NoStoredPartition, replay_date
from services.transformation.settings import TransformationApiSettings
from shared import api_app
from shared.api_app import ServiceApi, service_router
from shared.api_auth import RequireToken
from shared.api_errors import error_responses
from shared.api_types import Day, RequestModel, RetailerId
from shared.db import get_engine

DESCRIPTION = ("Loads the lake's silver objects into the star schema and marts; replays a date "
               "from stored objects.")
router = service_router()


class ReplayRequest(RequestModel):
    date: Day = Field(description="the UTC day to re-transform, YYYY-MM-DD")
    retailers: list[RetailerId] | None = Field(
        None, min_length=1, description="retailer ids (default: every stored one)")


class ReplayAccepted(BaseModel):
    run_id: str
    date: dt.date
    retailers: list[str] | None


@router.post("/replays", status_code=202, response_model=ReplayAccepted,
             dependencies=[RequireToken],
             responses=error_responses(
                 401, 404, 409, 413, 422,
                 s404="no stored partition for the date or a retailer (`missing` lists them)"))
def post_replay(body: ReplayRequest) -> ReplayAccepted:
    """Re-transform a date from its stored silver objects (a replay run); 202 with its id."""
    try:
        run_id = replay_date(body.date, body.retailers, requested_by="api")
    except NoStoredPartition as exc:
        raise NothingStored(str(exc), missing=exc.missing) from None
    return ReplayAccepted(run_id=run_id, date=body.date, retailers=body.retailers)


def check_marts_installed(_settings: TransformationApiSettings) -> None:
    """The marts' SQL is installed (a load refreshes them: without it every load fails)."""
    with get_engine().connect() as conn:
        conn.execute(text("select 'marts.round_hours(double precision)'::regprocedure"))


# `uvicorn services.transformation.api:create_app --factory`
create_app = api_app.app_factory(ServiceApi("transformation", DESCRIPTION, [router],
                                            depends_on=("postgresql", "redis", "s3"),
                                            extra_checks={"marts": check_marts_installed}),
                                 TransformationApiSettings)
