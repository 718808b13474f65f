"""The value types every HTTP API of the suite takes the same way: a day, a retailer id, and
the base of request bodies.

A day is written `YYYY-MM-DD` and nothing else, in bodies and in query strings alike:
pydantic on its own also takes `20240115`, `0` (1970-01-01) or a datetime with a zero time,
which made `{"date": 0}` start a replay of 1970. An unknown retailer id is a malformed
request (422) in every service; a known retailer with nothing stored is a 404 where a
route looks something up.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, WithJsonSchema

from shared.settings import KNOWN_RETAILER_IDS, RETAILER_IDS

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
DAY_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


def parse_day(value: object) -> dt.date:
    """A calendar day from exactly `YYYY-MM-DD` (a `date` object passes through).

    Raises:
        ValueError: any other spelling, a number, a datetime, or no such calendar day.
    """
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _ISO_DAY.fullmatch(value):
        shown = value if isinstance(value, str | int | float) else type(value).__name__
        raise ValueError(f"must be a date as YYYY-MM-DD, got {shown!r}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a calendar date (YYYY-MM-DD)") from None


# The JSON schema says what the validator enforces, so a client (or a fuzzer) generating
# from the OpenAPI produces days the service takes.
Day = Annotated[
    dt.date,
    BeforeValidator(parse_day),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DAY_PATTERN,
                    "example": "2024-01-15"}),
]


def _one_of(known: tuple[str, ...]):
    def check(value: str) -> str:
        if value not in known:
            raise ValueError(f"unknown retailer {value!r}; known: {list(known)}")
        return value

    return check


RetailerId = Annotated[
    str,
    AfterValidator(_one_of(RETAILER_IDS)),
    WithJsonSchema({"type": "string", "enum": list(RETAILER_IDS)}),
]
# A retailer a run may name: the REST retailers and the stream ones (retailer4), whose
# `ingest` step closes the day of its stream (POST /runs only).
RunRetailerId = Annotated[
    str,
    AfterValidator(_one_of(KNOWN_RETAILER_IDS)),
    WithJsonSchema({"type": "string", "enum": list(KNOWN_RETAILER_IDS)}),
]

# A check or other name given in a query string: letters, digits and `_`, so a NUL byte or
# anything else PostgreSQL cannot hold in a text value is a 422, not a 500.
NAME_PATTERN = r"^[A-Za-z0-9_]{1,100}$"


class RequestModel(BaseModel):
    """Base of every request body: a field the API does not know is refused (422), so a
    typo (`"retailer"` for `"retailers"`) is not silently ignored."""

    model_config = ConfigDict(extra="forbid")

