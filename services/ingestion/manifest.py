"""The manifest: a partition's commit marker, written to S3 last and kept in ops.manifest.

Its contract is `shared.contracts.Manifest` (docs/contracts.md, "Manifest"); the extra
fields ingestion adds (reconciliation, rejected_reasons, http) are described in
docs/ingestion.md. It is built through the model, so ingestion cannot write a manifest the
readers do not understand, and kept as JSON data from then on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.engine import Connection

from services.ingestion.connectors.base import ControlTotals, RetailerClient
from services.ingestion.landing import LandedObject
from services.ingestion.normalize import Normalizer
from shared.canonical import cents_text, money_to_cents
from shared.contracts import MANIFEST_VERSION, Manifest
from shared.s3 import manifest_key


def build_manifest(*, run_id: str, retailer_id: str, day: dt.date,
                   objects: Sequence[LandedObject], normalizer: Normalizer,
                   pages: dict[str, int], control: ControlTotals, client: RetailerClient,
                   seconds: float) -> dict[str, Any]:
    """The manifest of one landed partition.

    Args:
        objects: every object written (bronze, silver, rejected).
        normalizer: the partition's normalizer, holding counts, unknown fields, tallies.
        pages: pages read per resource.
        control: the retailer's own totals for the day.
        client: the client that fetched the day (its request and retry counters).
        seconds: wall time of the partition so far.
    """
    tally = normalizer.control
    ours = cents_text(tally.cents)
    return Manifest.model_validate({
        "version": MANIFEST_VERSION,
        "run_id": run_id, "retailer_id": retailer_id, "run_date": day.isoformat(),
        "created_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "objects": [o.as_manifest() for o in objects],
        "counts": {entity: c.as_dict() for entity, c in normalizer.counts.items()},
        "pages": dict(pages),
        "control_totals": control.as_manifest(),
        "rejected_amount": {entity: cents_text(cents)
                            for entity, cents in sorted(normalizer.rejected_cents.items())},
        "unknown_fields": dict(sorted(normalizer.unknown_fields.items())),
        "timings": {"seconds": round(seconds, 3)},
        # What we read, counted as the retailer counts its control totals: lines of orders
        # created on the day, a line served twice once, rejected lines included.
        "reconciliation": {
            "line_count": tally.line_count, "amount": ours,
            "duplicate_lines": tally.duplicate_lines,
            "line_count_matches": tally.line_count == control.line_count,
            "amount_matches": money_to_cents(ours) == money_to_cents(control.amount),
        },
        "rejected_reasons": dict(sorted(normalizer.reasons.items())),
        "http": {"requests": client.requests, "retries": client.retries,
                 "retry_seconds": round(client.retry_seconds, 3),
                 "reauthentications": client.reauthentications},
    }).to_json()


def publish_manifest(s3, bucket: str, manifest: dict[str, Any]) -> str:
    """Write the manifest to S3, making the partition visible. Returns its key."""
    key = manifest_key(manifest["retailer_id"], manifest["run_date"], manifest["run_id"])
    s3.put_object(Bucket=bucket, Key=key, Body=orjson.dumps(manifest, option=orjson.OPT_INDENT_2),
                  ContentType="application/json")
    return key


def record_manifest(conn: Connection, manifest: dict[str, Any], key: str) -> None:
    """Keep the manifest in ops.manifest (a retried attempt replaces its own row)."""
    conn.execute(
        text("insert into ops.manifest (run_id, retailer_id, run_date, manifest_key, manifest) "
             "values (:r, :ret, :d, :k, cast(:m as jsonb)) "
             "on conflict (run_id, retailer_id) do update set manifest_key = excluded.manifest_key,"
             " manifest = excluded.manifest, created_at = now()"),
        {"r": manifest["run_id"], "ret": manifest["retailer_id"], "d": manifest["run_date"],
         "k": key, "m": orjson.dumps(manifest).decode()},
    )


def step_counts(manifest: dict[str, Any]) -> dict[str, Any]:
    """`ops.run_step.counts` of a finished ingest step: the manifest's counts plus pages,
    bytes and seconds (docs/contracts.md)."""
    return {**manifest["counts"], "pages": sum(manifest["pages"].values()),
            "bytes": sum(o["bytes"] for o in manifest["objects"]),
            "seconds": manifest["timings"]["seconds"],
            "reconciliation": manifest["reconciliation"]}
