"""What closing a stream retailer's day does (the `ingest` step of retailer4, by its own
line of the stage table): the day's reconciliation and its reference data.

1. Ask the source for its control totals of the date (events per type, orders, lines,
   captured and refunded amounts).
2. Count what the stream delivered for the date (the inbox rows of applied batches, of
   orders created on the date).
3. If anything is missing, ask the source to publish the day again (a replay; what was
   already applied is dropped as duplicates) and wait, up to STREAM_CLOSE_WAIT_SECONDS,
   for the consumer to apply it.
4. Land the date's reference data (channels, customers, products as of the date) and a
   manifest carrying the control totals and the stream's reconciliation, then finish the
   step: the transform step loads the reference data and quality judges the day.
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from services.ingestion.landing import PartitionWriter
from services.ingestion.manifest import publish_manifest, record_manifest
from services.ingestion.normalize import Batch
from services.ingestion.settings import IngestionWorkerSettings, get_worker_settings
from services.ingestion.stream import reference
from shared.contracts import MANIFEST_VERSION, Manifest
from shared.s3 import get_s3
from shared.steps import StepContext

DELIVERED = """
with day_orders as (
  select i.order_id from ops.stream_inbox i join ops.stream_batch b using (batch_id)
  where b.status = 'applied' and i.retailer_id = :r and i.event_type = 'order_created'
    and (i.event_at at time zone 'UTC')::date = :d
)
select i.event_type, count(*) as events, coalesce(sum(i.amount), 0) as amount,
       coalesce(sum(i.lines), 0) as lines
from ops.stream_inbox i join ops.stream_batch b using (batch_id)
where b.status = 'applied' and i.retailer_id = :r
  and i.order_id in (select order_id from day_orders)
group by i.event_type
"""


def delivered(engine: Engine, retailer_id: str, day: dt.date) -> dict[str, Any]:
    """What the stream delivered (and the warehouse applied) for the orders of `day`, in
    the shape of the source's control totals."""
    with engine.connect() as conn:
        rows = conn.execute(text(DELIVERED), {"r": retailer_id, "d": day}).mappings().all()
    by_type = {r["event_type"]: int(r["events"]) for r in rows}
    amount = {r["event_type"]: Decimal(r["amount"]) for r in rows}
    created = next((r for r in rows if r["event_type"] == "order_created"), None)
    return {"events": sum(by_type.values()), "events_by_type": by_type,
            "orders": by_type.get("order_created", 0),
            "order_lines": int(created["lines"]) if created else 0,
            "line_amount": f"{amount.get('order_created', Decimal(0)):.2f}",
            "captured_amount": f"{amount.get('payment_captured', Decimal(0)):.2f}",
            "refunded_amount": f"{amount.get('payment_refunded', Decimal(0)):.2f}"}


def missing(control: dict[str, Any], got: dict[str, Any]) -> dict[str, int]:
    """Events per type the source sent that the stream has not delivered (yet)."""
    return {t: n - got["events_by_type"].get(t, 0)
            for t, n in control["events_by_type"].items()
            if n > got["events_by_type"].get(t, 0)}


def close_day(step: StepContext, *, settings: IngestionWorkerSettings | None = None,
              s3: Any = None) -> None:
    """Reconcile the stream's day with the source, re-request what is missing, land the
    reference data and the manifest, and finish the step."""
    ref, s = step.ref, settings or get_worker_settings()
    started = time.monotonic()
    control = reference.control_totals(s.retailer4, ref.run_date)
    got = delivered(step.engine, ref.retailer_id, ref.run_date)
    replays = 0
    if missing(control, got):
        step.progress({"phase": "replay", "missing": missing(control, got)}, force=True)
        reference.request_replay(s.retailer4, ref.run_date)
        replays = 1
        deadline = time.monotonic() + s.stream_close.wait_seconds
        while missing(control, got) and time.monotonic() < deadline:
            time.sleep(s.stream_close.poll_seconds)
            got = delivered(step.engine, ref.retailer_id, ref.run_date)
    step.progress({"phase": "reference"})
    s3 = s3 or get_s3()
    records = reference.reference_records(s.retailer4, ref.run_date)
    writer = PartitionWriter(s3, s.s3_bucket, ref.retailer_id, ref.run_date, ref.run_id,
                             s.ingestion)
    try:
        writer.normalized(Batch(silver=records))
        objects = writer.close()
    except BaseException:
        writer.abort()
        raise
    gap = missing(control, got)
    manifest = Manifest.model_validate({
        "version": MANIFEST_VERSION, "run_id": ref.run_id, "retailer_id": ref.retailer_id,
        "run_date": ref.run_date.isoformat(),
        "created_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "objects": [o.as_manifest() for o in objects],
        "counts": {k: {"received": len(v), "normalized": len(v), "rejected": 0}
                   for k, v in records.items()},
        "control_totals": {"line_count": control["order_lines"],
                           "amount": control["line_amount"],
                           "currency": control["currency"], "raw": control},
        "timings": {"seconds": round(time.monotonic() - started, 3)},
        "reconciliation": {
            "line_count": got["order_lines"], "amount": got["line_amount"],
            "line_count_matches": got["order_lines"] == control["order_lines"],
            "amount_matches": Decimal(got["line_amount"]) == Decimal(control["line_amount"]),
            "stream": {"delivered": got, "missing": gap, "replays": replays,
                       "complete": not gap},
        },
        "rejected_reasons": {},
    }).to_json()
    key = publish_manifest(s3, s.s3_bucket, manifest)
    with step.engine.begin() as conn:
        record_manifest(conn, manifest, key)
        step.finish(conn, {**manifest["counts"], "stream": {
            "events": got["events"], "missing": sum(gap.values()), "replays": replays},
            "seconds": manifest["timings"]["seconds"]})
