"""The transformation API: replay a date from stored silver objects; liveness, readiness.
Routes only; the logic is in `replay.py`.

Serve: `uvicorn services.transformation.api:app --port 8002`.
"""

from __future__ import annotations

import datetime as dt

from fastapi import Depends, FastAPI
from pydantic import BaseModel, Field
from sqlalchemy import text

from services.transformation.errors import NotReady, register_error_handlers
from services.transformation.replay import replay_date
from services.transformation.settings import TransformationApiSettings
from shared.api_auth import require_pipeline_token
from shared.db import get_engine
from shared.logging import configure_logging
from shared.settings import load_settings_or_exit

load_settings_or_exit(TransformationApiSettings)
configure_logging()
app = FastAPI(title="Retail pipeline: transformation", version="1",
              description="Loads the lake's silver objects into the star schema and marts; "
                          "replays a date from stored objects.")
register_error_handlers(app)


class ReplayRequest(BaseModel):
    date: dt.date = Field(description="the UTC day to re-transform")
    retailers: list[str] | None = Field(
        None, min_length=1, description="retailer ids (default: every stored one)")


class ReplayAccepted(BaseModel):
    run_id: str
    date: dt.date
    retailers: list[str] | None


@app.post("/replays", status_code=202, response_model=ReplayAccepted,
          dependencies=[Depends(require_pipeline_token)],
          responses={401: {"description": "missing or wrong bearer token"},
                     404: {"description": "no stored partition for the date or a retailer"},
                     409: {"description": "the date already has an active run"},
                     422: {"description": "malformed date or retailers"}})
def post_replay(body: ReplayRequest) -> ReplayAccepted:
    """Re-transform a date from its stored silver objects (a replay run); 202 with its id."""
    run_id = replay_date(body.date, body.retailers, requested_by="api")
    return ReplayAccepted(run_id=run_id, date=body.date, retailers=body.retailers)


@app.get("/livez")
def livez() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@app.get("/readyz", responses={503: {"description": "PostgreSQL or Redis is unreachable"}})
def readyz() -> dict[str, str]:
    """PostgreSQL (with the marts installed) and the Celery broker answer."""
    try:
        with get_engine().connect() as conn:
            conn.execute(text("select 'marts.round_hours(double precision)'::regprocedure"))
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        raise NotReady(f"database: {type(exc).__name__}") from None
    try:
        from shared.celery_app import celery_app

        with celery_app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001
        raise NotReady(f"broker: {type(exc).__name__}") from None
    return {"status": "ready"}
