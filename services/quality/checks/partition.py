"""What the ops tables say about one partition (retailer, date): its manifest and its steps.

Shared by the checks that compare the warehouse with what ingestion landed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from services.quality.checks.base import CheckContext
from shared.contracts import ControlTotals, EntityCounts, Manifest, read_manifest


@dataclass(frozen=True)
class PartitionManifest:
    run_id: str          # the run that landed it (not always the run being judged)
    body: Manifest

    @property
    def counts(self) -> dict[str, EntityCounts]:
        return self.body.counts

    @property
    def control_totals(self) -> ControlTotals | None:
        return self.body.control_totals


def partition_manifest(ctx: CheckContext) -> PartitionManifest | None:
    """The manifest describing the partition's data in the warehouse.

    The judged run's own manifest when it wrote one; otherwise (a replay run, or an ingest
    that did not finish) the newest manifest of the partition, because that is the data
    the warehouse was last loaded from. Read through its contract: a manifest of a major
    version this code does not understand makes the check error, saying so.
    """
    row = ctx.conn.execute(
        text("select run_id, manifest from ops.manifest "
             "where retailer_id = :retailer_id and run_date = :run_date "
             "order by (run_id = cast(:run_id as uuid)) desc, created_at desc limit 1"),
        ctx.params(),
    ).first()
    return PartitionManifest(str(row.run_id), read_manifest(row.manifest)) if row else None


def step_states(ctx: CheckContext) -> dict[str, dict[str, Any]]:
    """The judged run's ingest/transform steps for this retailer: {step: {status, counts}}."""
    rows = ctx.conn.execute(
        text("select step, status, counts, error from ops.run_step "
             "where run_id = :run_id and retailer_id = :retailer_id and step <> 'quality'"),
        ctx.params(),
    ).mappings()
    return {r["step"]: {"status": r["status"], "counts": r["counts"] or {},
                        "error": r["error"]} for r in rows}


def rejected_order_lines(ctx: CheckContext, manifest_run_id: str) -> dict[str, Any]:
    """Order lines the partition rejected that belong to orders created on the run date.

    Counted once per record key (a line served twice and rejected twice is one line, like
    the control totals count it). Lines of older orders re-served because their order
    changed on this date are left out when the warehouse knows their order under another
    date: the control totals only cover orders created on the date.
    """
    row = ctx.conn.execute(
        text("""
            select count(*) as lines,
                   coalesce(sum(amount), 0) as amount,
                   count(*) filter (where amount is null) as without_amount
            from (
              select distinct on (coalesce(r.record_key, r.rejected_id::text)) r.amount
              from ops.rejected_record r
              where r.run_id = cast(:manifest_run as uuid) and r.retailer_id = :retailer_id
                and r.run_date = :run_date and r.entity = 'order_lines'
                and not exists (
                  select 1 from warehouse.fact_orders o
                  where o.retailer_key = :retailer_key
                    and o.order_id = regexp_replace(r.record_key, ':[^:]*$', '')
                    and o.order_date <> :run_date)
              order by coalesce(r.record_key, r.rejected_id::text), r.rejected_id
            ) as per_line
        """),
        {**ctx.params(), "manifest_run": manifest_run_id},
    ).mappings().one()
    return dict(row)
