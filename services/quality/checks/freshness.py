"""Freshness against the business-date deadline (see services/quality/deadlines.py).

Per partition: the judged date is complete when this run's steps for the retailer
succeeded, whenever that happens, so a backfill of an old date passes. It fails only when
it is incomplete *and* past its deadline. Across dates: other dates that are due but were
never completed are reported on every run as a warning (dates still in flight are left to
their own verdict); GET /health is the alarm for all of them.
"""

from __future__ import annotations

from services.quality.checks.base import (
    CheckContext,
    Outcome,
    Scope,
    Severity,
    Status,
    python_check,
)
from services.quality.checks.partition import step_states
from services.quality.deadlines import deadline, expectation
from shared.settings import RETAILER_IDS


@python_check(
    name="partition_complete_by_deadline", kind="freshness", severity=Severity.CRITICAL,
    scope=Scope.RETAILER_DATE,
    threshold="complete, or not yet past D + QUALITY_FRESHNESS_GRACE_DAYS at "
              "QUALITY_FRESHNESS_DEADLINE_HOUR_UTC",
    description="The retailer's partition of the date is complete (its ingest and transform "
                "steps succeeded in this run) or its business-date deadline has not passed.",
)
def partition_complete_by_deadline(ctx: CheckContext) -> Outcome:
    due = deadline(ctx.run_date, ctx.settings)
    steps = step_states(ctx)
    unfinished = {name: s["status"] for name, s in steps.items() if s["status"] != "succeeded"}
    if steps and not unfinished:
        return Outcome(Status.PASS, 0, 0, f"complete (due by {due:%Y-%m-%d %H:%M} UTC)")
    detail = [{"step": name, "status": status, "error": steps[name]["error"]}
              for name, status in sorted(unfinished.items())] or [{"step": "-",
                                                                   "status": "missing"}]
    what = ", ".join(f"{d['step']} {d['status']}" for d in detail)
    late = ctx.now >= due
    hours = round((ctx.now - due).total_seconds() / 3600, 1)
    if late:
        return Outcome(Status.FAIL, hours, 0,
                       f"incomplete ({what}) and {hours} h past its deadline {due:%Y-%m-%d %H:%M}"
                       " UTC", detail)
    return Outcome(Status.WARN, hours, 0,
                   f"incomplete ({what}); due by {due:%Y-%m-%d %H:%M} UTC", detail)


@python_check(
    name="dates_complete_by_deadline", kind="freshness", severity=Severity.WARNING,
    scope=Scope.RUN, threshold="0 overdue partitions",
    description="Every (retailer, date) whose deadline passed since the pipeline's first run "
                "has a run that succeeded (the judged date and dates whose run is still in "
                "flight excluded).",
)
def dates_complete_by_deadline(ctx: CheckContext) -> Outcome:
    expected = expectation(ctx.conn, ctx.now, ctx.settings, RETAILER_IDS,
                           exclude_date=ctx.run_date, skip_in_flight=True)
    overdue = expected.overdue
    if not overdue:
        span = (f"{expected.first_date} .. {expected.last_due_date}"
                if expected.first_date and expected.first_date <= expected.last_due_date
                else "nothing due yet")
        return Outcome(Status.PASS, 0, 0, f"every due partition is complete ({span})")
    dates = sorted({o.run_date for o in overdue})
    return Outcome(Status.FAIL, len(overdue), 0,
                   f"{len(overdue)} partitions past their deadline are not complete "
                   f"({dates[0]} .. {dates[-1]})",
                   [o.as_dict() for o in overdue[: ctx.settings.sample_size]])


CHECKS = [partition_complete_by_deadline, dates_complete_by_deadline]
