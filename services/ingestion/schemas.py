"""Request and response bodies of the ingestion API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from shared.api_types import Day, RequestModel, RunRetailerId


class RunsRequest(RequestModel):
    """`{"date": "2024-01-15"}` or `{"start": "2024-01-01", "end": "2024-01-07"}`, with
    optional `"retailers": ["retailer1", ...]` (all when left out)."""

    date: Day | None = Field(None, description="one UTC day, YYYY-MM-DD")
    start: Day | None = Field(None, description="first day of a backfill")
    end: Day | None = Field(None, description="last day of a backfill (inclusive)")
    retailers: list[RunRetailerId] | None = Field(None, min_length=1,
                                               description="retailer ids; all when omitted")


class RunLink(BaseModel):
    run_id: str
    run_date: dt.date
    status: str = Field(description="running (queued now) or queued (waits for a backfill "
                                    "slot)")
    status_url: str


class RunsAccepted(BaseModel):
    """The runs a POST /runs created; `run_id`/`status_url` are the first run's."""

    run_id: str
    status_url: str
    backfill_id: str | None
    runs: list[RunLink]
