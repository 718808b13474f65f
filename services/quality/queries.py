"""Reads behind the API and the page: definitions, results, runs and the dashboard."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from services.quality.checks import REGISTRY
from services.quality.settings import QualitySettings
from shared.ops import RUN_WIDE
from shared.settings import RETAILER_IDS

RESULT_COLUMNS = """
    c.result_id, c.run_id, c.run_date, c.retailer_id, c.check_name, d.kind, c.severity,
    c.status, c.observed, c.threshold, c.message, c.sample, c.started_at, c.finished_at,
    c.duration_ms, c.evaluations
"""


def plain(value: Any) -> Any:
    """A value JSON can carry: numbers as numbers, dates and ids as strings."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # uuid.UUID and the like


def definitions(conn: Connection, *, include_inactive: bool = False) -> list[dict[str, Any]]:
    rows = conn.execute(
        text("select check_name, kind, description, severity, scope, threshold, body_kind, "
             "body, is_active, updated_at from quality.check_definition "
             "where is_active or :all"),
        {"all": include_inactive},
    ).mappings().all()
    order = {name: i for i, name in enumerate(REGISTRY.names())}
    rows = sorted(rows, key=lambda r: (order.get(r["check_name"], len(order)), r["check_name"]))
    return [plain(dict(r)) for r in rows]


def results(conn: Connection, *, run_date: dt.date | None = None, retailer: str | None = None,
            run_id: str | None = None, status: str | None = None, check: str | None = None,
            limit: int = 1000) -> list[dict[str, Any]]:
    """Stored results, newest date first; every filter optional."""
    rows = conn.execute(
        text(f"""
            select {RESULT_COLUMNS}
            from quality.check_result c
            left join quality.check_definition d using (check_name)
            where (cast(:d as date) is null or c.run_date = :d)
              and (cast(:ret as text) is null or c.retailer_id = :ret)
              and (cast(:run as uuid) is null or c.run_id = cast(:run as uuid))
              and (cast(:st as text) is null or c.status = :st)
              and (cast(:chk as text) is null or c.check_name = :chk)
            order by c.run_date desc, c.run_id, c.retailer_id, c.result_id
            limit :limit
        """),
        {"d": run_date, "ret": retailer, "run": run_id, "st": status, "chk": check,
         "limit": limit},
    ).mappings().all()
    return [plain(dict(r)) for r in rows]


def result(conn: Connection, result_id: int) -> dict[str, Any] | None:
    """One result with its check's definition (description, threshold, body)."""
    row = conn.execute(
        text(f"""
            select {RESULT_COLUMNS}, d.description, d.threshold as rule, d.body_kind, d.body,
                   d.scope
            from quality.check_result c
            left join quality.check_definition d using (check_name)
            where c.result_id = :id
        """),
        {"id": result_id},
    ).mappings().first()
    return plain(dict(row)) if row else None


def latest_runs(conn: Connection, limit: int = 15) -> list[dict[str, Any]]:
    """The newest runs with their status and their results per status."""
    rows = conn.execute(
        text("""
            select r.run_id, r.run_date, r.kind, r.status, r.retailers, r.created_at,
                   r.started_at, r.finished_at, r.error,
                   coalesce(c.pass, 0) as pass, coalesce(c.warn, 0) as warn,
                   coalesce(c.fail, 0) as fail, coalesce(c.error, 0) as errors
            from ops.run r
            left join lateral (
              select count(*) filter (where status = 'pass') as pass,
                     count(*) filter (where status = 'warn') as warn,
                     count(*) filter (where status = 'fail') as fail,
                     count(*) filter (where status = 'error') as error
              from quality.check_result x where x.run_id = r.run_id) c on true
            order by r.created_at desc
            limit :n
        """),
        {"n": limit},
    ).mappings().all()
    return [plain(dict(r)) for r in rows]


def grid(conn: Connection, dates: int) -> dict[str, Any]:
    """Checks x (date, retailer) for the latest judged run of each of the last `dates` dates."""
    runs = conn.execute(
        text("""
            select run_id, run_date, status from (
              select distinct on (r.run_date) r.run_id, r.run_date, r.status
              from ops.run r
              where exists (select 1 from quality.check_result c where c.run_id = r.run_id)
              order by r.run_date desc, r.created_at desc) latest
            order by run_date desc
            limit :n
        """),
        {"n": dates},
    ).mappings().all()
    run_ids = [str(r["run_id"]) for r in runs]
    cells = conn.execute(
        text("select result_id, run_id, run_date, retailer_id, check_name, severity, status, "
             "message from quality.check_result where run_id = any(cast(:ids as uuid[]))"),
        {"ids": run_ids},
    ).mappings().all()
    present: dict[str, set[str]] = {}
    by_check: dict[str, dict[str, Any]] = {}
    for cell in cells:
        run_date = cell["run_date"].isoformat()
        present.setdefault(run_date, set()).add(cell["retailer_id"])
        by_check.setdefault(cell["check_name"], {})[f"{run_date}|{cell['retailer_id']}"] = {
            "result_id": cell["result_id"], "status": cell["status"],
            "message": cell["message"]}
    columns = [{"run_date": r["run_date"].isoformat(), "run_id": str(r["run_id"]),
                "run_status": r["status"], "retailer_id": retailer}
               for r in runs
               for retailer in [*sorted(present.get(r["run_date"].isoformat(), set())
                                        - {RUN_WIDE}), RUN_WIDE]]
    defs = {d["check_name"]: d for d in definitions(conn, include_inactive=True)}
    names = [n for n in REGISTRY.names() if n in by_check] + sorted(set(by_check) -
                                                                   set(REGISTRY.names()))
    checks = [{"check_name": n, "kind": defs.get(n, {}).get("kind"),
               "severity": defs.get(n, {}).get("severity"),
               "scope": defs.get(n, {}).get("scope"),
               "description": defs.get(n, {}).get("description")} for n in names]
    return {"checks": checks, "columns": columns, "cells": by_check}


def series(conn: Connection, days: int) -> dict[str, Any]:
    """Per retailer and day: lines, revenue in USD and the rejected share of the manifest.

    The window ends at the latest run date (a demo of an old date still draws), or today
    when nothing ran yet.
    """
    end = conn.execute(text("select max(run_date) from ops.run")).scalar() or dt.date.today()
    start = end - dt.timedelta(days=days - 1)
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    index = {d: i for i, d in enumerate(dates)}
    # None where nothing was loaded or landed: the chart leaves a gap instead of a fake zero.
    lines: dict[str, list[int | None]] = {r: [None] * days for r in RETAILER_IDS}
    revenue: dict[str, list[float | None]] = {r: [None] * days for r in RETAILER_IDS}
    rejected: dict[str, list[float | None]] = {r: [None] * days for r in RETAILER_IDS}
    for row in conn.execute(
        text("select s.order_date, r.retailer_id, count(*) as lines, "
             "sum(s.line_total_usd) as revenue "
             "from warehouse.fact_sales s join warehouse.dim_retailer r using (retailer_key) "
             "where s.order_date between :a and :b group by 1, 2"),
        {"a": start, "b": end},
    ):
        if row.retailer_id in lines:
            lines[row.retailer_id][index[row.order_date]] = int(row.lines)
            revenue[row.retailer_id][index[row.order_date]] = float(row.revenue or 0)
    for row in conn.execute(
        text("select distinct on (retailer_id, run_date) retailer_id, run_date, "
             "manifest -> 'counts' as counts from ops.manifest "
             "where run_date between :a and :b "
             "order by retailer_id, run_date, created_at desc"),
        {"a": start, "b": end},
    ):
        if row.retailer_id not in rejected:
            continue
        i = index[row.run_date]
        counts = (row.counts or {}).values()
        received = sum(int(c.get("received", 0)) for c in counts)
        if received:
            rejected[row.retailer_id][i] = round(
                sum(int(c.get("rejected", 0)) for c in counts) / received, 6)
        # a landed partition with no lines is a real zero
        if lines[row.retailer_id][i] is None:
            lines[row.retailer_id][i], revenue[row.retailer_id][i] = 0, 0.0
    return {"dates": [d.isoformat() for d in dates], "retailers": list(RETAILER_IDS),
            "lines": lines, "revenue_usd": revenue, "rejected_share": rejected}


def dashboard(conn: Connection, settings: QualitySettings) -> dict[str, Any]:
    """Everything the page draws, in one document."""
    return {"generated_at": dt.datetime.now(dt.UTC).isoformat(),
            "runs": latest_runs(conn),
            "grid": grid(conn, settings.grid_dates),
            "series": series(conn, settings.dashboard_days)}
