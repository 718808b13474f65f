"""GET /health: the service's own dependencies, the latest verdict per retailer, freshness,
and the lag of the event stream's consumers.

Unhealthy (the route answers 503) when PostgreSQL or Redis does not answer (checked by
`shared.readiness`, as `GET /readyz` does), when a retailer's latest verdict is `failed`,
or when a due partition is overdue (see deadlines.py for which dates are expected).

A retailer's latest verdict comes from the most recently *finished* run covering it
(succeeded, succeeded_with_warnings or failed; canceled runs judge nothing), decided from
that retailer's stored results, the run-wide ones and its steps - so a failure confined
to retailer2 does not paint retailer1 red, and a re-check of the date is reflected at once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from services.quality.checks.stream import consumer_lag
from services.quality.deadlines import expectation
from services.quality.settings import QualityWorkerSettings
from services.quality.verdict import stored_verdict
from shared.settings import RETAILER_IDS

OVERDUE_SHOWN = 50  # a pipeline down for months would otherwise list thousands


def latest_verdicts(conn: Connection) -> list[dict[str, Any]]:
    """Per retailer, the verdict of the most recently finished run covering it."""
    rows = conn.execute(text("""
        select distinct on (r.retailer_id) r.retailer_id, run.run_id, run.run_date,
               run.status as run_status, run.finished_at,
               exists (select 1 from quality.check_result c where c.run_id = run.run_id)
                 as has_results
        from ops.run run
        cross join lateral unnest(run.retailers) as r(retailer_id)
        where run.status in ('succeeded', 'succeeded_with_warnings', 'failed')
        order by r.retailer_id, run.finished_at desc nulls last, run.created_at desc
    """)).mappings().all()
    verdicts = []
    for row in rows:
        if row["has_results"]:
            verdict = stored_verdict(conn, str(row["run_id"]), row["retailer_id"])
            status, reasons = verdict.status, verdict.reasons
        else:  # judged without results (e.g. its quality step died): the run's own status
            status, reasons = row["run_status"], []
        verdicts.append({"retailer_id": row["retailer_id"], "run_id": str(row["run_id"]),
                         "run_date": row["run_date"].isoformat(), "verdict": status,
                         "run_status": row["run_status"],
                         "finished_at": row["finished_at"].isoformat()
                         if row["finished_at"] else None,
                         "reasons": reasons[:10]})
    return verdicts


def inbox_errors(conn: Connection) -> list[dict[str, Any]]:
    """Files dropped in the inbox that could not be loaded and were not made good since
    (ops.inbox_file, docs/ingestion.md "Alerts"), newest first."""
    rows = conn.execute(text("""
        select file_id, retailer_id, object_key, reason, detail->>'message' as message,
               batch_date, seen_at, updated_at, alerted_at
        from ops.inbox_file where status = 'error' and resolved_at is null
        order by updated_at desc limit :n
    """), {"n": OVERDUE_SHOWN}).mappings().all()
    return [{"file_id": r["file_id"], "retailer_id": r["retailer_id"], "key": r["object_key"],
             "reason": r["reason"], "message": r["message"],
             "batch_date": r["batch_date"].isoformat() if r["batch_date"] else None,
             "since": r["updated_at"].isoformat(),
             "alerted": r["alerted_at"] is not None} for r in rows]


def report(conn: Connection | None, checks: dict[str, str], settings: QualityWorkerSettings,
           now: dt.datetime) -> dict[str, Any]:
    """The /health body; `status` "ok" answers 200, "failing" 503.

    Args:
        conn: None when PostgreSQL is down (then only the dependencies are reported).
        checks: `shared.readiness.readiness` of the service's dependencies.
    """
    problems = [f"{name}: {state}" for name, state in checks.items() if state != "ok"]
    body: dict[str, Any] = {"service": "quality", "checked_at": now.isoformat(),
                            "checks": checks}
    if conn is not None:
        verdicts = latest_verdicts(conn)
        expected = expectation(conn, now, settings.quality, RETAILER_IDS)
        problems += [f"{v['retailer_id']}: latest verdict failed (run {v['run_id']}, "
                     f"{v['run_date']})" for v in verdicts if v["verdict"] == "failed"]
        problems += [f"{o.retailer_id}: {o.run_date} not complete, due {o.deadline.isoformat()}"
                     for o in expected.overdue[:OVERDUE_SHOWN]]
        errors = inbox_errors(conn)
        problems += [f"{e['retailer_id']}: inbox file {e['key']} not loaded: {e['reason']}"
                     for e in errors]
        body["retailers"] = verdicts
        body["inbox"] = {"open_errors": len(errors), "errors": errors}
        # The event stream's consumers: messages not yet acknowledged (the lag).
        body["stream_consumers"] = consumer_lag(conn)
        body["freshness"] = {
            "expected_from": expected.first_date.isoformat() if expected.first_date else None,
            "expected_through": expected.last_due_date.isoformat(),
            "overdue_count": len(expected.overdue),
            "overdue": [o.as_dict() for o in expected.overdue[:OVERDUE_SHOWN]],
        }
    body["status"] = "failing" if problems else "ok"
    body["problems"] = problems
    return body
