"""Evaluate the registry's checks for a run: every retailer-scoped check per retailer, then
the run-wide ones. One broken check never stops the others: each runs in a savepoint, and
whatever it raises becomes its `error` result.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from services.quality.checks.base import (
    Check,
    CheckContext,
    CheckRegistry,
    Number,
    Outcome,
    Scope,
    Severity,
    Status,
)
from services.quality.settings import QualitySettings
from shared.ops import RUN_WIDE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckResult:
    """One evaluated check, as stored in quality.check_result."""

    check_name: str
    retailer_id: str
    severity: Severity
    status: Status
    observed: Number | None
    threshold: Number | None
    message: str
    started_at: dt.datetime
    finished_at: dt.datetime
    sample: list[dict[str, Any]] = field(default_factory=list)

    @property
    def duration_ms(self) -> int:
        return int((self.finished_at - self.started_at).total_seconds() * 1000)


def effective_status(severity: Severity, status: Status) -> Status:
    """A warning-level check never shows red: its broken rule is a `warn`.

    So on the page and in the results, `fail` always means "this failed the run".
    """
    if severity is Severity.WARNING and status is Status.FAIL:
        return Status.WARN
    return status


def evaluate(check: Check, ctx: CheckContext) -> CheckResult:
    """Run one check in a savepoint; an exception becomes an `error` result."""
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    try:
        with ctx.conn.begin_nested():
            outcome = check.evaluate(ctx)
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise  # the database went away: the whole evaluation is retried, not this check
        outcome = _error(exc)
    except Exception as exc:  # noqa: BLE001 - any bug in a check is reported as its result
        outcome = _error(exc)
    if outcome.status is Status.ERROR:
        log.warning("check %s errored for %s: %s", check.name, ctx.retailer_id, outcome.message)
    finished = started + dt.timedelta(seconds=time.perf_counter() - t0)
    return CheckResult(
        check_name=check.name, retailer_id=ctx.retailer_id, severity=check.severity,
        status=effective_status(check.severity, outcome.status), observed=outcome.observed,
        threshold=outcome.threshold, message=outcome.message, started_at=started,
        finished_at=finished, sample=outcome.sample[: ctx.settings.sample_size],
    )


def _error(exc: BaseException) -> Outcome:
    first_line = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
    return Outcome(Status.ERROR, None, None, f"{type(exc).__name__}: {first_line}"[:500])


def retailer_keys(conn: Connection) -> dict[str, int]:
    return dict(conn.execute(
        text("select retailer_id, retailer_key from warehouse.dim_retailer")).all())


def evaluate_run(conn: Connection, registry: CheckRegistry, *, run_id: str,
                 run_date: dt.date, retailers: Sequence[str], settings: QualitySettings,
                 now: dt.datetime, include_run_wide: bool = True) -> list[CheckResult]:
    """Evaluate the registry for a run's retailers (and the run-wide checks).

    Args:
        conn: a connection inside a transaction; checks read through savepoints of it.
        retailers: the retailers to judge; each gets every retailer-scoped check.
        include_run_wide: also evaluate the run-wide checks (stored with retailer '*').
    Returns:
        One result per (retailer, check), retailer-scoped first.
    """
    # Bound for every statement of this transaction: a slow check errors instead of
    # holding the verdict (and the step's lease) hostage.
    timeout_ms = int(settings.check_timeout_seconds * 1000)
    # Sorts and hashes of a day's facts fit in memory (4 MB spilled a uniqueness check to
    # disk); JIT compiles for longer than these scans take.
    conn.execute(text("select set_config('statement_timeout', :t, true), "
                      "set_config('work_mem', :m, true), set_config('jit', 'off', true)"),
                 {"t": str(timeout_ms), "m": settings.work_mem})
    keys = retailer_keys(conn)
    results: list[CheckResult] = []
    for retailer_id in retailers:
        ctx = CheckContext(conn, run_id, run_date, retailer_id, keys.get(retailer_id),
                           settings, now)
        for check in registry.for_scope(Scope.RETAILER_DATE):
            if retailer_id not in keys:
                results.append(_unknown_retailer(check, retailer_id))
            else:
                results.append(evaluate(check, ctx))
    if include_run_wide:
        ctx = CheckContext(conn, run_id, run_date, RUN_WIDE, None, settings, now)
        results.extend(evaluate(check, ctx) for check in registry.for_scope(Scope.RUN))
    return results


def evaluate_retailers(engine: Engine, registry: CheckRegistry, *, run_id: str,
                       run_date: dt.date, retailers: Sequence[str], settings: QualitySettings,
                       now: dt.datetime) -> list[CheckResult]:
    """The retailer-scoped checks, each retailer on a connection of its own.

    Retailers share nothing in the checks, so `settings.check_workers` of them are judged at
    once: the database works on one retailer's scans while another's wait. Results come
    back in the order of `retailers`, as `evaluate_run` gives them.
    """
    def judge(retailer_id: str) -> list[CheckResult]:
        with engine.connect() as conn, conn.begin():
            return evaluate_run(conn, registry, run_id=run_id, run_date=run_date,
                                retailers=[retailer_id], settings=settings, now=now,
                                include_run_wide=False)

    workers = min(settings.check_workers, len(retailers))
    if workers <= 1:
        return [r for retailer_id in retailers for r in judge(retailer_id)]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="checks") as pool:
        # each thread logs with the caller's bound run_id (a context of its own per task)
        futures = [pool.submit(contextvars.copy_context().run, judge, r) for r in retailers]
        return [r for f in futures for r in f.result()]


def evaluate_every_check(engine: Engine, conn: Connection, registry: CheckRegistry, *,
                         run_id: str, run_date: dt.date, retailers: Sequence[str],
                         settings: QualitySettings, now: dt.datetime) -> list[CheckResult]:
    """The retailers' checks side by side (`evaluate_retailers`), then the run-wide ones in
    `conn`, the caller's transaction that stores the results."""
    results = evaluate_retailers(engine, registry, run_id=run_id, run_date=run_date,
                                 retailers=retailers, settings=settings, now=now)
    return results + evaluate_run(conn, registry, run_id=run_id, run_date=run_date,
                                  retailers=[], settings=settings, now=now)


def _unknown_retailer(check: Check, retailer_id: str) -> CheckResult:
    # Without a warehouse key every SQL check would find nothing and pass: say so instead.
    now = dt.datetime.now(dt.UTC)
    return CheckResult(check.name, retailer_id, check.severity, Status.ERROR, None, None,
                       f"{retailer_id} is not in warehouse.dim_retailer", now, now)
