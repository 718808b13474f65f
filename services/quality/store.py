"""Writes to the quality schema: check definitions (from the registry) and results."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import orjson
from sqlalchemy import text
from sqlalchemy.engine import Connection

from services.quality.checks.base import CheckRegistry
from services.quality.runner import CheckResult


def sync_definitions(conn: Connection, registry: CheckRegistry) -> int:
    """Make quality.check_definition match the registry. Returns the rows changed.

    A check that left the registry is kept (old results point at it) but marked inactive.
    """
    stored: dict[str, str] = dict(conn.execute(
        text("select check_name, definition_hash from quality.check_definition where is_active")
    ).all())
    # Only changed rows are written: an upsert locks the row it conflicts with, and
    # concurrent verdicts must not queue behind each other on unchanged definitions.
    rows = [d for d in (check.definition() for check in registry)
            if stored.get(d["check_name"]) != d["definition_hash"]]
    changed = 0
    for row in rows:
        changed += conn.execute(
            text("""
                insert into quality.check_definition
                  (check_name, kind, description, severity, scope, threshold, body_kind, body,
                   definition_hash)
                values (:check_name, :kind, :description, :severity, :scope, :threshold,
                        :body_kind, :body, :definition_hash)
                on conflict (check_name) do update set
                  kind = excluded.kind, description = excluded.description,
                  severity = excluded.severity, scope = excluded.scope,
                  threshold = excluded.threshold, body_kind = excluded.body_kind,
                  body = excluded.body, definition_hash = excluded.definition_hash,
                  is_active = true, updated_at = now()
                where quality.check_definition.definition_hash <> excluded.definition_hash
                   or not quality.check_definition.is_active
            """),
            row,
        ).rowcount
    if set(stored) - set(registry.names()):
        changed += conn.execute(
            text("update quality.check_definition set is_active = false, updated_at = now() "
                 "where is_active and check_name <> all(:names)"),
            {"names": registry.names()},
        ).rowcount
    return changed


def _json(value: object) -> str:
    # default=str turns Decimal (money) into its exact digits rather than a float.
    return orjson.dumps(value, default=str).decode()


def store_results(conn: Connection, run_id: str, run_date: dt.date,
                  results: Sequence[CheckResult]) -> None:
    """Upsert results per (run, retailer, check); a re-evaluation replaces the row."""
    if not results:
        return
    conn.execute(
        text("""
            insert into quality.check_result
              (run_id, run_date, retailer_id, check_name, severity, status, observed, threshold,
               message, sample, started_at, finished_at, duration_ms)
            values (:run_id, :run_date, :retailer_id, :check_name, :severity, :status,
                    :observed, :threshold, :message, cast(:sample as jsonb), :started_at,
                    :finished_at, :duration_ms)
            on conflict (run_id, retailer_id, check_name) do update set
              run_date = excluded.run_date, severity = excluded.severity,
              status = excluded.status, observed = excluded.observed,
              threshold = excluded.threshold, message = excluded.message,
              sample = excluded.sample, started_at = excluded.started_at,
              finished_at = excluded.finished_at, duration_ms = excluded.duration_ms,
              evaluations = quality.check_result.evaluations + 1
        """),
        [{"run_id": run_id, "run_date": run_date, "retailer_id": r.retailer_id,
          "check_name": r.check_name, "severity": str(r.severity), "status": str(r.status),
          "observed": r.observed, "threshold": r.threshold, "message": r.message,
          "sample": _json(r.sample), "started_at": r.started_at, "finished_at": r.finished_at,
          "duration_ms": r.duration_ms} for r in results],
    )
