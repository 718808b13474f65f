"""Freshness as a business-date deadline, not "something was loaded recently".

Day D is due by D + QUALITY_FRESHNESS_GRACE_DAYS at QUALITY_FRESHNESS_DEADLINE_HOUR_UTC.
A (retailer, date) partition is *complete* once a run covering that retailer ended
`succeeded` or `succeeded_with_warnings`.

Expected dates: every date whose deadline falls after the pipeline's first run was
created and at or before now. A date whose deadline passed before the pipeline existed was
never owed on time (it is history, loaded by backfills when someone asks), so a demo or a
backfill of 2024 does not make today's health red; from the first run on, every day is
owed by its deadline. An expected partition that is not complete is *overdue*. A backfill
of an old date is judged by whether it completes, never by how long ago the date was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

from services.quality.settings import QualitySettings

COMPLETE_STATUSES = ("succeeded", "succeeded_with_warnings")


def deadline(run_date: dt.date, settings: QualitySettings) -> dt.datetime:
    """The UTC instant by which `run_date` must be complete."""
    due_day = run_date + dt.timedelta(days=settings.freshness_grace_days)
    return dt.datetime.combine(due_day, dt.time(settings.freshness_deadline_hour_utc),
                               tzinfo=dt.UTC)


def latest_due_date(now: dt.datetime, settings: QualitySettings) -> dt.date:
    """The latest date whose deadline is at or before `now`."""
    shifted = now.astimezone(dt.UTC) - dt.timedelta(hours=settings.freshness_deadline_hour_utc)
    return shifted.date() - dt.timedelta(days=settings.freshness_grace_days)


@dataclass(frozen=True)
class Overdue:
    retailer_id: str
    run_date: dt.date
    deadline: dt.datetime

    def as_dict(self) -> dict[str, str]:
        return {"retailer_id": self.retailer_id, "run_date": self.run_date.isoformat(),
                "deadline": self.deadline.isoformat()}


@dataclass(frozen=True)
class Expectation:
    first_date: dt.date | None       # None: no run was ever created, nothing is expected
    # (a first_date after last_due_date: nothing is due yet)
    last_due_date: dt.date
    overdue: list[Overdue]


def expectation(conn: Connection, now: dt.datetime, settings: QualitySettings,
                retailers: Sequence[str], *, exclude_date: dt.date | None = None,
                skip_in_flight: bool = False) -> Expectation:
    """Which partitions are due by `now` and which of them are not complete.

    Args:
        retailers: the retailers expected every day.
        exclude_date: a date being judged right now (its own run is not final yet).
        skip_in_flight: leave out dates whose run is still queued or running (their own
            verdict will speak for them; a backfill's dates should not warn about each other).
    """
    last_due = latest_due_date(now, settings)
    started = conn.execute(text("select min(created_at) from ops.run")).scalar()
    if started is None:
        return Expectation(None, last_due, [])
    # the first date whose deadline came after the pipeline started
    first = latest_due_date(started, settings) + dt.timedelta(days=1)
    if first > last_due:
        return Expectation(first, last_due, [])
    rows = conn.execute(
        text("""
            select e.run_date::date as run_date, r.retailer_id
            from generate_series(cast(:first as date), cast(:last as date), interval '1 day')
                 as e(run_date)
            cross join unnest(cast(:retailers as text[])) as r(retailer_id)
            where e.run_date::date is distinct from cast(:exclude as date)
              and not (:skip_in_flight and exists (
                select 1 from ops.run active
                where active.run_date = e.run_date::date
                  and active.status in ('queued', 'running')))
              and not exists (
                select 1 from ops.run run
                where run.run_date = e.run_date::date and run.status = any(:complete)
                  and r.retailer_id = any(run.retailers))
            order by 1, 2
        """),
        {"first": first, "last": last_due, "retailers": list(retailers),
         "exclude": exclude_date, "complete": list(COMPLETE_STATUSES),
         "skip_in_flight": skip_in_flight},
    ).all()
    return Expectation(first, last_due,
                       [Overdue(r.retailer_id, r.run_date, deadline(r.run_date, settings))
                        for r in rows])
