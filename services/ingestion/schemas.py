"""Request and response bodies of the ingestion API."""

from __future__ import annotations

import datetime as dt
import re

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class RunsRequest(BaseModel):
    """`{"date": "2024-01-15"}` or `{"start": "2024-01-01", "end": "2024-01-07"}`, with
    optional `"retailers": ["retailer1", ...]` (all when left out)."""

    model_config = ConfigDict(extra="forbid")

    date: dt.date | None = Field(None, description="one UTC day, YYYY-MM-DD")
    start: dt.date | None = Field(None, description="first day of a backfill")
    end: dt.date | None = Field(None, description="last day of a backfill (inclusive)")
    retailers: list[str] | None = Field(None, description="retailer ids; all when omitted")

    @field_validator("date", "start", "end", mode="before")
    @classmethod
    def _iso_day(cls, value: object, info: ValidationInfo) -> object:
        # pydantic alone accepts "20240115" or a Unix timestamp and words its errors for
        # datetimes; a run date is exactly YYYY-MM-DD and the message should say so.
        if value is None or isinstance(value, dt.date):
            return value
        if not isinstance(value, str) or not _ISO_DAY.fullmatch(value):
            raise ValueError(f"{info.field_name} must be a date as YYYY-MM-DD, got {value!r}")
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{info.field_name} {value!r} is not a calendar date "
                             "(YYYY-MM-DD)") from None


class RunLink(BaseModel):
    run_id: str
    run_date: dt.date
    status: str
    status_url: str


class RunsAccepted(BaseModel):
    """The runs a POST /runs created; `run_id`/`status_url` are the first run's."""

    run_id: str
    status_url: str
    backfill_id: str | None
    runs: list[RunLink]
