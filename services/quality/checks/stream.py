"""The event stream (retailer4): did the stream deliver the whole day, and is the consumer
keeping up?

- `stream_complete` (critical): the day's close step compared the events the warehouse
  applied with the source's control totals (events per type); any event still missing
  after the replay it asked for fails the day. A retailer without a stream passes.
- `stream_consumer_lag` (warning): the durable consumer's messages not yet acknowledged
  (ops.stream_consumer.lag_messages, which `retail_stream_consumer_lag_messages` exports)
  and how long ago the consumer last looped.
"""

from __future__ import annotations

import datetime as dt

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
from shared.settings import STREAM_RETAILER_IDS

LAG_WARN_MESSAGES = 10_000
STALE_SECONDS = 300


@python_check(
    name="stream_complete", kind="stream", severity=Severity.CRITICAL,
    scope=Scope.RETAILER_DATE, threshold="missing events = 0",
    description="Every event the source reports for the day (control totals per event "
                "type) was delivered by the stream and applied to the warehouse.",
)
def stream_complete(ctx: CheckContext) -> Outcome:
    if ctx.retailer_id not in STREAM_RETAILER_IDS:
        return Outcome(Status.PASS, 0, 0, f"{ctx.retailer_id} delivers no event stream")
    manifest = partition_manifest(ctx)
    if manifest is None:
        return Outcome(Status.ERROR, None, 0, NO_MANIFEST)
    stream = (manifest.body.reconciliation or {}).get("stream")
    if not stream:
        return Outcome(Status.ERROR, None, 0, "the manifest carries no stream reconciliation")
    missing = stream.get("missing") or {}
    total = sum(int(n) for n in missing.values())
    delivered = stream.get("delivered", {}).get("events", 0)
    message = (f"{delivered} events delivered and applied, {total} missing after "
               f"{stream.get('replays', 0)} replays")
    sample = [{"event_type": t, "missing": n} for t, n in sorted(missing.items())]
    return Outcome(Status.PASS if total == 0 else Status.FAIL, total, 0, message, sample)


def consumer_lag(conn) -> list[dict]:
    """Each durable consumer's lag and last loop (also shown by GET /health)."""
    rows = conn.execute(text(
        "select consumer, retailer_id, stream, lag_messages, pending_acks, delivered, "
        "duplicates, rejected, last_batch_at, updated_at from ops.stream_consumer "
        "order by consumer")).mappings().all()
    return [{**dict(r), "last_batch_at": r["last_batch_at"].isoformat()
             if r["last_batch_at"] else None, "updated_at": r["updated_at"].isoformat()}
            for r in rows]


@python_check(
    name="stream_consumer_lag", kind="stream", severity=Severity.WARNING,
    scope=Scope.RETAILER_DATE,
    threshold=f"lag <= {LAG_WARN_MESSAGES} messages, consumer seen within {STALE_SECONDS}s",
    description="The stream consumer keeps up: messages not yet acknowledged, and how long "
                "ago it last reported.",
)
def stream_consumer_lag(ctx: CheckContext) -> Outcome:
    if ctx.retailer_id not in STREAM_RETAILER_IDS:
        return Outcome(Status.PASS, 0, LAG_WARN_MESSAGES,
                       f"{ctx.retailer_id} delivers no event stream")
    rows = [r for r in consumer_lag(ctx.conn) if r["retailer_id"] == ctx.retailer_id]
    if not rows:
        return Outcome(Status.WARN, None, LAG_WARN_MESSAGES, "no stream consumer has reported")
    lag = max(int(r["lag_messages"]) for r in rows)
    newest = max(dt.datetime.fromisoformat(r["updated_at"]) for r in rows)
    age = (ctx.now - newest).total_seconds()
    message = f"lag {lag} messages; consumer last reported {age:.0f}s ago"
    status = Status.WARN if lag > LAG_WARN_MESSAGES or age > STALE_SECONDS else Status.PASS
    return Outcome(status, lag, LAG_WARN_MESSAGES, message, rows if status is Status.WARN
                   else [])


CHECKS = [stream_complete, stream_consumer_lag]
