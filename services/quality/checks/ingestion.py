"""What ingestion saw: the share of records it rejected and fields nobody expected.

Both read the partition's manifest. The retailers reject about 1% of records by design
(negative quantities), far below QUALITY_REJECTED_SHARE_WARN; a share above
QUALITY_REJECTED_SHARE_FAIL means a normalizer no longer understands the feed, and the
warehouse would be missing a large slice of the day, so that fails the run.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import text

from services.quality.checks.base import (
    CheckContext,
    Outcome,
    Scope,
    Severity,
    Status,
    python_check,
)
from services.quality.checks.partition import partition_manifest
from services.quality.checks.reconciliation import NO_MANIFEST


@python_check(
    name="rejected_share", kind="rejects", severity=Severity.CRITICAL,
    scope=Scope.RETAILER_DATE,
    threshold="warn above QUALITY_REJECTED_SHARE_WARN, fail above QUALITY_REJECTED_SHARE_FAIL",
    description="Records rejected by ingestion as a share of the records received, over all "
                "entities of the partition.",
)
def rejected_share(ctx: CheckContext) -> Outcome:
    manifest = partition_manifest(ctx)
    if manifest is None:
        return Outcome(Status.ERROR, None, None, NO_MANIFEST)
    received = sum(c.received for c in manifest.counts.values())
    rejected = sum(c.rejected for c in manifest.counts.values())
    share = Decimal(rejected) / received if received else Decimal(0)
    warn = Decimal(str(ctx.settings.rejected_share_warn))
    fail = Decimal(str(ctx.settings.rejected_share_fail))
    message = f"{rejected} of {received} records rejected ({float(share):.2%})"
    status = Status.FAIL if share > fail else Status.WARN if share > warn else Status.PASS
    if status is Status.PASS:
        return Outcome(status, round(share, 6), warn, message)
    # The reasons say where to look: which entity, which rule.
    reasons = ctx.conn.execute(
        text("select entity, reason, count(*) as records from ops.rejected_record "
             "where run_id = cast(:manifest_run as uuid) and retailer_id = :retailer_id "
             "and run_date = :run_date group by entity, reason order by records desc "
             "limit :n"),
        {**ctx.params(), "manifest_run": manifest.run_id, "n": ctx.settings.sample_size},
    ).mappings().all()
    limit = f"{float(fail):.0%}" if status is Status.FAIL else f"{float(warn):.0%}"
    return Outcome(status, round(share, 6), warn, f"{message}, above {limit}",
                   [dict(r) for r in reasons])


@python_check(
    name="schema_drift", kind="schema", severity=Severity.WARNING,
    scope=Scope.RETAILER_DATE, threshold="0 unknown fields",
    description="The retailer's records carry no field the pipeline does not know (the "
                "manifest's unknown_fields): a new field may carry meaning we drop.",
)
def schema_drift(ctx: CheckContext) -> Outcome:
    manifest = partition_manifest(ctx)
    if manifest is None:
        return Outcome(Status.ERROR, None, 0, NO_MANIFEST)
    unknown = manifest.body.unknown_fields
    if not unknown:
        return Outcome(Status.PASS, 0, 0, "no unknown fields")
    ranked = sorted(unknown.items(), key=lambda kv: (-int(kv[1]), kv[0]))
    return Outcome(Status.FAIL, len(unknown), 0,
                   f"{len(unknown)} unknown fields: {', '.join(k for k, _ in ranked[:5])}",
                   [{"field": k, "records": int(v)} for k, v in
                    ranked[: ctx.settings.sample_size]])


CHECKS = [rejected_share, schema_drift]
