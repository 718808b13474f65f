"""One micro-batch: messages -> bronze + silver + rejected objects and a manifest in S3,
then ops.stream_batch and the inbox in one transaction.

Duplicates (an event id twice in the batch, or already applied by an earlier batch) are
counted and left out of silver; unknown versions and undecodable payloads are rejected
with their reason and never stop the batch. Objects go under the batch's own run prefix
(`run=<batch_id>`): nothing is ever rewritten.
"""

from __future__ import annotations

import base64
import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.engine import Engine

from services.ingestion.landing import PartitionWriter
from services.ingestion.manifest import publish_manifest
from services.ingestion.normalize import Batch
from services.ingestion.settings import IngestionSettings
from services.ingestion.stream.events import RETAILER_ID, CanonicalEvent, decode, silver_of, upcast
from shared.canonical import InvalidRecord
from shared.contracts import MANIFEST_VERSION, Manifest


@dataclass(frozen=True)
class Received:
    """One message as delivered."""

    subject: str
    data: bytes
    stream_seq: int
    delivered: int = 1


@dataclass
class LandedBatch:
    batch_id: str | None          # None: nothing new to apply (all duplicates)
    messages: int = 0
    events: int = 0
    duplicates: int = 0
    rejected: int = 0
    counts: dict[str, Any] = field(default_factory=dict)


def _bronze(m: Received) -> dict[str, Any]:
    """The message as received: its text, or base64 when it is not text (or holds NUL,
    which PostgreSQL's jsonb cannot keep)."""
    try:
        if b"\x00" not in m.data:
            return {"subject": m.subject, "stream_seq": m.stream_seq,
                    "delivered": m.delivered, "data": m.data.decode()}
    except UnicodeDecodeError:
        pass
    return {"subject": m.subject, "stream_seq": m.stream_seq, "delivered": m.delivered,
                "data_base64": base64.b64encode(m.data).decode()}


def _rejected(m: Received, exc: InvalidRecord, env: dict[str, Any] | None) -> dict[str, Any]:
    return {"entity": "events", "reason": str(exc.reason), "detail": exc.detail,
            "field": exc.field,
            "record_key": str((env or {}).get("event_id") or f"{m.subject}#{m.stream_seq}"),
            "amount": None, "currency": None, "record": env if env is not None else _bronze(m)}


def applied_ids(engine: Engine, ids: list[str]) -> set[str]:
    """Event ids an applied batch already holds."""
    if not ids:
        return set()
    with engine.connect() as conn:
        return set(conn.execute(text(
            "select i.event_id from ops.stream_inbox i join ops.stream_batch b "
            "using (batch_id) where i.event_id = any(:ids) and b.status = 'applied'"),
            {"ids": ids}).scalars())


def land_batch(messages: list[Received], *, engine: Engine, s3: Any, bucket: str,
               settings: IngestionSettings,
               reference: dict[str, list[dict[str, Any]]] | None = None) -> LandedBatch:
    """Land one micro-batch and record it (status `landed`). Returns what it held."""
    started = time.monotonic()
    events: list[CanonicalEvent] = []
    rejected: list[dict[str, Any]] = []
    seen: set[str] = set()
    duplicates = 0
    for m in messages:
        env = None
        try:
            env = decode(m.data)
            ev = upcast(env)
        except InvalidRecord as exc:
            rejected.append(_rejected(m, exc, env))
            continue
        if ev.event_id in seen:
            duplicates += 1
            continue
        seen.add(ev.event_id)
        events.append(ev)
    done = applied_ids(engine, [e.event_id for e in events])
    duplicates += len(done)
    events = [e for e in events if e.event_id not in done]
    out = LandedBatch(None, len(messages), len(events), duplicates, len(rejected))
    if not events and not rejected and not reference:
        return out
    batch_id = str(uuid.uuid4())
    stamps = [e.event_timestamp for e in events]
    day = dt.date.fromisoformat(min(stamps)[:10]) if stamps else dt.datetime.now(dt.UTC).date()
    silver: dict[str, list[dict[str, Any]]] = {k: list(v) for k, v in (reference or {}).items()}
    for e in events:
        for entity, records in silver_of(e).items():
            silver.setdefault(entity, []).extend(records)
    writer = PartitionWriter(s3, bucket, RETAILER_ID, day, batch_id, settings)
    try:
        writer.bronze("events", [_bronze(m) for m in messages])
        writer.normalized(Batch(silver=silver, rejected=rejected))
        objects = writer.close()
    except BaseException:
        writer.abort()
        raise
    currency = next((e.currency for e in events if e.currency), "USD")
    manifest = Manifest.model_validate({
        "version": MANIFEST_VERSION, "run_id": batch_id, "retailer_id": RETAILER_ID,
        "run_date": day.isoformat(),
        "created_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "objects": [o.as_manifest() for o in objects],
        "counts": {k: {"received": len(v), "normalized": len(v), "rejected": 0}
                   for k, v in silver.items()}
        | {"events": {"received": len(messages), "normalized": len(events),
                      "rejected": len(rejected)}},
        "control_totals": {"currency": currency, "raw": {}},
        "timings": {"seconds": round(time.monotonic() - started, 3)},
        "rejected_reasons": _reasons(rejected),
    }).to_json()
    key = publish_manifest(s3, bucket, manifest)
    produced = [e.produced_at for e in events if e.produced_at]
    with engine.begin() as conn:
        conn.execute(text(
            "insert into ops.stream_batch (batch_id, retailer_id, run_date, manifest_key, "
            "manifest, messages, events, duplicates, rejected, first_produced_at) values "
            "(:b, :r, :d, :k, cast(:m as jsonb), :n, :e, :dup, :rej, :p)"),
            {"b": batch_id, "r": RETAILER_ID, "d": day, "k": key,
             "m": orjson.dumps(manifest).decode(), "n": len(messages), "e": len(events),
             "dup": duplicates, "rej": len(rejected), "p": min(produced) if produced else None})
        if events:
            conn.execute(text(
                "insert into ops.stream_inbox as i (event_id, batch_id, retailer_id, "
                "event_type, event_version, order_id, event_at, produced_at, amount, lines) "
                "select * from unnest(cast(:ids as text[]), cast(:batch as uuid[]), "
                "cast(:rs as text[]), cast(:types as text[]), cast(:vs as int[]), "
                "cast(:orders as text[]), cast(:ats as timestamptz[]), "
                "cast(:produced as timestamptz[]), cast(:amounts as numeric[]), "
                "cast(:lines as int[])) "
                "on conflict (event_id) do update set batch_id = excluded.batch_id, "
                "received_at = now()"),
                {"ids": [e.event_id for e in events], "batch": [batch_id] * len(events),
                 "rs": [RETAILER_ID] * len(events), "types": [e.event_type for e in events],
                 "vs": [e.event_version for e in events], "orders": [e.order_id for e in events],
                 "ats": [e.event_timestamp for e in events],
                 "produced": [e.produced_at for e in events],
                 "amounts": [e.amount for e in events], "lines": [len(e.lines) for e in events]})
    out.batch_id = batch_id
    return out


def _reasons(rejected: list[dict[str, Any]]) -> dict[str, int]:
    reasons: dict[str, int] = {}
    for r in rejected:
        reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    return reasons
