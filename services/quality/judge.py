"""Judging a run (what the quality step does): evaluate, store, finish the step, set the
verdict; and re-checking a date.

Results, the step's completion and the run's final status are written in one transaction,
so a worker killed half-way leaves the step running (the sweeper re-sends it) and never a
verdict without its results. Claim, lease, retries and the run's end when the step gives
up are the step runner's (`shared/steps.py`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from services.quality.checks import REGISTRY, CheckRegistry
from services.quality.errors import ActiveRunConflict, InvalidRequest, NotFound
from services.quality.runner import evaluate_every_check
from services.quality.settings import get_settings
from services.quality.store import store_results, sync_definitions
from services.quality.verdict import Verdict, stored_verdict, tally
from shared.db import get_engine, transaction
from shared.logging import bind
from shared.ops import ACTIVE_RUN_STATUSES, RUN_WIDE, StepRef, finish_run
from shared.stages import ADVANCE_BACKFILLS
from shared.steps import StepContext, run_step

log = logging.getLogger(__name__)


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.UTC)


def _set_verdict(conn: Connection, run_id: str, step: StepContext | None = None) -> Verdict:
    """Decide from what is stored, and record it unless someone canceled the run.

    The verdict of a backfill's run frees a slot: `step` then sends ingestion's
    ADVANCE_BACKFILLS after commit, so the next date starts at once, not at the next beat.
    """
    # The row lock orders us with the sweeper and anyone else finishing this run.
    run_status = conn.execute(
        text("select status from ops.run where run_id = :r for update"), {"r": run_id}
    ).scalar()
    verdict = stored_verdict(conn, run_id)
    if run_status not in (None, "canceled"):
        in_backfill = finish_run(conn, run_id, verdict.status, verdict.error)
        if in_backfill and step is not None:
            step.send_after.append(ADVANCE_BACKFILLS)
    return verdict


def judge(step: StepContext, *, registry: CheckRegistry = REGISTRY,
          now: dt.datetime | None = None) -> dict[str, Any]:
    """The quality step of a run: every check for each of its retailers, then the verdict.

    Returns:
        {"run_id", "status", "counts", "reasons"}.
    """
    run_id, engine = step.ref.run_id, step.engine
    with transaction(engine) as conn:
        sync_definitions(conn, registry)
    with transaction(engine) as conn:
        run = conn.execute(
            text("select run_date, retailers from ops.run where run_id = :r"),
            {"r": run_id},
        ).one()
        results = evaluate_every_check(engine, conn, registry,
                                       run_id=run_id, run_date=run.run_date,
                                       retailers=run.retailers, settings=get_settings().quality,
                                       now=_now(now))
        store_results(conn, run_id, run.run_date, results)
        counts = tally(results)
        step.finish(conn, counts)
        verdict = _set_verdict(conn, run_id, step)
    log.info("run %s judged %s (%s)", run_id, verdict.status, counts)
    return {"run_id": run_id, "status": verdict.status, "counts": counts,
            "reasons": verdict.reasons}


def judge_run(run_id: str, run_date: dt.date, *, task_id: str | None = None,
              engine: Engine | None = None, registry: CheckRegistry = REGISTRY,
              now: dt.datetime | None = None) -> dict[str, Any]:
    """Judge a run in this process, through the step runner as the task does.

    Returns:
        `judge`'s answer; {"run_id", "skipped": True} when the step already ended (a
        duplicate delivery); {"run_id", "step": status, "error"} when the attempt failed.
    """
    ref = StepRef(run_id, "quality", RUN_WIDE, run_date)
    result = run_step(ref, partial(judge, registry=registry, now=now), task_id=task_id,
                      engine=engine)
    if result.status == "skipped":
        return {"run_id": run_id, "skipped": True}
    if result.status != "succeeded":
        return {"run_id": run_id, "step": result.status, "error": result.error}
    return dict(result.value)


def latest_run_of_date(conn: Connection, run_date: dt.date) -> Any:
    """The newest run of a date, or NotFound."""
    run = conn.execute(
        text("select run_id, run_date, retailers, status from ops.run where run_date = :d "
             "order by created_at desc, run_id limit 1"),
        {"d": run_date},
    ).first()
    if run is None:
        raise NotFound(f"no run for {run_date}")
    return run


def validate_recheck(conn: Connection, run_date: dt.date,
                     retailers: Sequence[str] | None) -> tuple[str, list[str]]:
    """The run a re-check would judge and its retailers, or the reason it cannot."""
    run = latest_run_of_date(conn, run_date)
    if run.status in ACTIVE_RUN_STATUSES:
        raise ActiveRunConflict(f"run {run.run_id} of {run_date} is still {run.status}; "
                                "its quality step will judge it", run_id=str(run.run_id))
    targets = list(retailers) if retailers else list(run.retailers)
    unknown = sorted(set(targets) - set(run.retailers))
    if unknown:
        raise InvalidRequest(f"run {run.run_id} of {run_date} does not cover {unknown}")
    return str(run.run_id), targets


def recheck_date(run_date: dt.date, retailers: Sequence[str] | None = None, *,
                 engine: Engine | None = None, registry: CheckRegistry = REGISTRY,
                 now: dt.datetime | None = None) -> dict[str, Any]:
    """Re-evaluate the checks of a date against its latest run and re-judge that run.

    Results replace the run's earlier rows for the same (retailer, check); the verdict is
    recomputed from everything stored for the run, so re-checking one retailer keeps the
    others' results. Refused while the run is still active.
    """
    settings = get_settings()
    with transaction(engine) as conn:
        sync_definitions(conn, registry)
    with transaction(engine) as conn:
        run_id, targets = validate_recheck(conn, run_date, retailers)
        with bind(run_id=run_id):
            results = evaluate_every_check(engine or get_engine(), conn, registry,
                                           run_id=run_id, run_date=run_date,
                                           retailers=targets, settings=settings.quality,
                                           now=_now(now))
            store_results(conn, run_id, run_date, results)
            verdict = _set_verdict(conn, run_id)
    log.info("re-checked %s (run %s): %s", run_date, run_id, verdict.status)
    return {"run_id": run_id, "run_date": run_date.isoformat(), "retailers": targets,
            "status": verdict.status, "counts": tally(results), "reasons": verdict.reasons}
