"""Reconciliation: the warehouse against the retailer's control totals and the manifest.

The retailer reports, for date D, the order lines of orders created on D and the sum of
their line totals, faulty lines included and duplicated lines counted once. Every such line
is either in the warehouse (fact_sales, order_date = D) or was rejected by ingestion, so:

    warehouse lines + rejected lines  = control line_count        (exactly)
    warehouse money + rejected money  = control amount            (to the cent)

A mismatch means lines were lost or invented between the retailer and the warehouse;
both checks are critical.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import text

from services.quality.checks.base import (
    CheckContext,
    Outcome,
    Scope,
    Severity,
    Status,
    python_check,
)
from services.quality.checks.partition import (
    PartitionManifest,
    partition_manifest,
    rejected_order_lines,
    step_states,
)
from shared.contracts import ControlTotals, EntityCounts

CENT = Decimal("0.01")
NO_MANIFEST = "no manifest for this partition: ingestion never landed it"


def _warehouse_lines(ctx: CheckContext) -> dict[str, Any]:
    row = ctx.conn.execute(
        text("select count(*) as lines, coalesce(sum(line_total), 0) as amount "
             "from warehouse.fact_sales "
             "where retailer_key = :retailer_key and order_date = :run_date"),
        ctx.params(),
    ).mappings().one()
    return dict(row)


def _sides(ctx: CheckContext
           ) -> tuple[PartitionManifest, ControlTotals, dict, dict] | Outcome:
    """The three sides of the equation, or an `error` outcome saying which is missing."""
    manifest = partition_manifest(ctx)
    if manifest is None:
        return Outcome(Status.ERROR, None, 0, NO_MANIFEST)
    control = manifest.control_totals
    if not control or control.line_count is None or control.amount is None:
        return Outcome(Status.ERROR, None, 0,
                       f"the manifest of run {manifest.run_id} carries no control totals")
    return manifest, control, _warehouse_lines(ctx), rejected_order_lines(ctx, manifest.run_id)


@python_check(
    name="reconcile_line_count", kind="reconciliation", severity=Severity.CRITICAL,
    scope=Scope.RETAILER_DATE, threshold="difference = 0 lines",
    description="Warehouse order lines of the date plus rejected order lines equal the "
                "retailer's control line count.",
)
def reconcile_line_count(ctx: CheckContext) -> Outcome:
    sides = _sides(ctx)
    if isinstance(sides, Outcome):
        return sides
    manifest, control, warehouse, rejected = sides
    expected = int(control.line_count or 0)
    got = int(warehouse["lines"]) + int(rejected["lines"])
    diff = got - expected
    breakdown = [{"warehouse_lines": warehouse["lines"], "rejected_lines": rejected["lines"],
                  "control_line_count": expected, "difference": diff,
                  "manifest_run_id": manifest.run_id}]
    message = (f"{warehouse['lines']} in the warehouse + {rejected['lines']} rejected = {got}; "
               f"the retailer reports {expected}")
    status = Status.PASS if diff == 0 else Status.FAIL
    return Outcome(status, abs(diff), 0, message, [] if diff == 0 else breakdown)


@python_check(
    name="reconcile_amount", kind="reconciliation", severity=Severity.CRITICAL,
    scope=Scope.RETAILER_DATE, threshold="difference = 0.00 (to the cent)",
    description="Sum of warehouse line totals of the date plus rejected line amounts equals "
                "the retailer's control amount, to the cent, in the retailer's currency.",
)
def reconcile_amount(ctx: CheckContext) -> Outcome:
    sides = _sides(ctx)
    if isinstance(sides, Outcome):
        return sides
    manifest, control, warehouse, rejected = sides
    expected = Decimal(str(control.amount)).quantize(CENT)
    got = (Decimal(warehouse["amount"]) + Decimal(rejected["amount"])).quantize(CENT)
    diff = got - expected
    currency = control.currency or ""
    message = (f"{warehouse['amount']} in the warehouse + {rejected['amount']} rejected = "
               f"{got} {currency}; the retailer reports {expected} {currency}")
    if diff == 0:
        return Outcome(Status.PASS, Decimal("0.00"), Decimal("0.00"), message)
    breakdown = [{"warehouse_amount": str(warehouse["amount"]),
                  "rejected_amount": str(rejected["amount"]),
                  "rejected_lines_without_amount": rejected["without_amount"],
                  "control_amount": str(expected), "difference": str(diff),
                  "currency": currency, "manifest_run_id": manifest.run_id}]
    if rejected["without_amount"]:
        # Lines rejected for an unreadable amount cannot be added back, so the totals cannot
        # agree to the cent; that is a data problem to look at, not lost money.
        message += (f"; {rejected['without_amount']} rejected lines carry no readable amount, "
                    "so the difference may be theirs")
        return Outcome(Status.WARN, abs(diff), Decimal("0.00"), message, breakdown)
    return Outcome(Status.FAIL, abs(diff), Decimal("0.00"), message, breakdown)


def _manifest_mismatches(ctx: CheckContext, manifest: PartitionManifest) -> list[dict]:
    problems: list[dict] = []
    counts = manifest.counts
    for entity, c in sorted(counts.items()):
        received, normalized, rejected = c.received, c.normalized, c.rejected
        if received != normalized + rejected:
            problems.append({"entity": entity, "rule": "received = normalized + rejected",
                             "received": received, "normalized": normalized,
                             "rejected": rejected})
    silver: dict[str, int] = {}
    rejected_objects = 0
    for obj in manifest.body.objects:
        if obj.kind == "silver" and obj.entity is not None:
            silver[obj.entity] = silver.get(obj.entity, 0) + (obj.records or 0)
        elif obj.kind == "rejected":
            rejected_objects += obj.records or 0
    none = EntityCounts()
    for entity in sorted(set(silver) | set(counts)):
        normalized = counts.get(entity, none).normalized
        if silver.get(entity, 0) != normalized:
            problems.append({"entity": entity, "rule": "silver object records = normalized",
                             "silver_records": silver.get(entity, 0), "normalized": normalized})
    total_rejected = sum(c.rejected for c in counts.values())
    if rejected_objects != total_rejected:
        problems.append({"entity": "*", "rule": "rejected object records = rejected",
                         "rejected_records": rejected_objects, "rejected": total_rejected})
    stored: dict[str, int] = dict(ctx.conn.execute(
        text("select entity, count(*) from ops.rejected_record "
             "where run_id = cast(:manifest_run as uuid) and retailer_id = :retailer_id "
             "and run_date = :run_date group by entity"),
        {**ctx.params(), "manifest_run": manifest.run_id},
    ).all())
    for entity in sorted(set(stored) | {e for e, c in counts.items() if c.rejected}):
        expected = counts.get(entity, none).rejected
        if stored.get(entity, 0) != expected:
            problems.append({"entity": entity, "rule": "ops.rejected_record rows = rejected",
                             "stored_rows": stored.get(entity, 0), "rejected": expected})
    return problems


@python_check(
    name="manifest_counts_consistent", kind="reconciliation", severity=Severity.CRITICAL,
    scope=Scope.RETAILER_DATE, threshold="0 mismatches",
    description="The manifest adds up: per entity received = normalized + rejected; silver "
                "object records = normalized; rejected objects and ops.rejected_record rows = "
                "rejected.",
)
def manifest_counts_consistent(ctx: CheckContext) -> Outcome:
    manifest = partition_manifest(ctx)
    if manifest is None:
        return Outcome(Status.ERROR, None, 0, NO_MANIFEST)
    problems = _manifest_mismatches(ctx, manifest)
    if not problems:
        return Outcome(Status.PASS, 0, 0, f"{len(manifest.counts)} entities add up "
                                          f"(manifest of run {manifest.run_id})")
    rules = ", ".join(sorted({f"{p['entity']}: {p['rule']}" for p in problems}))
    return Outcome(Status.FAIL, len(problems), 0, f"{len(problems)} mismatches ({rules})",
                   problems[: ctx.settings.sample_size])


@python_check(
    name="order_lines_load_accounted", kind="reconciliation", severity=Severity.CRITICAL,
    scope=Scope.RETAILER_DATE,
    threshold="silver lines = distinct loaded + duplicates removed, exactly; duplicates "
              "that differ from the line kept <= QUALITY_DUPLICATE_SHARE_FAIL of silver "
              "lines, judged from QUALITY_DUPLICATE_MIN_LINES silver lines on",
    description="Every silver order line is accounted for by the load: manifest normalized "
                "= lines the load read = distinct lines upserted (fact_sales inserted + "
                "updated + unchanged) + duplicates removed (the load's staged duplicates).",
)
def order_lines_load_accounted(ctx: CheckContext) -> Outcome:
    manifest = partition_manifest(ctx)
    if manifest is None:
        return Outcome(Status.ERROR, None, 0, NO_MANIFEST)
    transform = step_states(ctx).get("transform")
    if transform is None or transform["status"] != "succeeded":
        state = transform["status"] if transform else "missing"
        return Outcome(Status.ERROR, None, 0, f"the transform step is {state}: nothing to count")
    loaded = transform["counts"].get("fact_sales") or {}
    if not {"inserted", "updated", "unchanged"} <= set(loaded):
        return Outcome(Status.ERROR, None, 0,
                       "the transform step's counts carry no fact_sales inserted/updated/unchanged")
    silver = manifest.counts.get("order_lines", EntityCounts()).normalized
    distinct = sum(int(loaded[k]) for k in ("inserted", "updated", "unchanged"))
    # What the load says it read and dropped (transform counts "staged"); without it, the
    # duplicates are whatever the equation leaves, and only their size can be judged.
    staged = (transform["counts"].get("staged") or {}).get("order_lines") or {}
    read = int(staged["records"]) if "records" in staged else silver
    duplicates = int(staged["duplicates"]) if "duplicates" in staged else silver - distinct
    # A line served twice, identical in every field, is the retailer's fault and loses
    # nothing; only duplicates that differ from the line kept can be distinct lines that
    # the dedup key collapsed. Loads that do not report exact copies count none.
    exact = int(staged.get("exact_duplicates", 0))
    differing = duplicates - exact
    share = Decimal(differing) / silver if silver else Decimal(0)
    limit = Decimal(str(ctx.settings.duplicate_share_fail))
    minimum = ctx.settings.duplicate_min_lines
    message = (f"{silver} silver lines; the load read {read}, upserted {distinct} distinct and "
               f"removed {duplicates} duplicates ({exact} exact copies, {differing} differing: "
               f"{float(share):.2%})")
    problems = []
    if read != silver:
        problems.append("the load did not read every silver line")
    if read != distinct + duplicates:
        problems.append("lines read != distinct upserted + duplicates removed")
    if duplicates < 0:
        problems.append("the load holds more lines than silver had")
    elif exact < 0 or exact > duplicates:
        problems.append("the load reports more exact copies than duplicates")
    elif share > limit and silver >= minimum:
        problems.append("the dedup key collapses distinct lines")
    elif share > limit:
        # A share of a handful of lines says nothing (1 of 3 is 33%): not judged.
        message += f"; fewer than {minimum} silver lines, so the share is not judged"
    if not problems:
        return Outcome(Status.PASS, round(share, 6), limit, message)
    detail = [{"silver_lines": silver, "lines_read": read, "distinct_upserted": distinct,
               "duplicates_removed": duplicates, "exact_duplicates": exact,
               "fact_sales": loaded}]
    return Outcome(Status.FAIL, round(share, 6), limit, f"{message}: {'; '.join(problems)}",
                   detail)


CHECKS = [reconcile_line_count, reconcile_amount, manifest_counts_consistent,
          order_lines_load_accounted]
