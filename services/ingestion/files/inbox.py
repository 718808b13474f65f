"""The inbox: which files are there, claiming each once by checksum, errors, history.

`scan` (beat's `ingestion.scan_inbox`, every INBOX_SCAN_SECONDS) lists the inbox and, for
each object it has not seen (key + ETag):
- a name that does not parse: an `error` row (`bad_name`) and an alert; the file stays;
- a sales file whose `.ctl` has not arrived: waits, then `control_file_missing`;
- otherwise its sha256 (streamed) is claimed: the partial unique index on
  (retailer_id, sha256) lets exactly one row claim those bytes, however many scanners
  run; the same bytes uploaded again are recorded `duplicate` (a no-op) and moved away.
A claimed sales file starts a run of its batch date for its retailer (`POST /runs` would do
the same); a date with an active run is tried again at the next scan. Scans do not overlap
(a session advisory lock), so two workers never claim the same upload twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import orjson
from botocore.exceptions import ClientError
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from services.ingestion.files.alerts import send_alert
from services.ingestion.files.names import FileName, history_key, parse_name, split_key
from services.ingestion.files.reader import hash_object
from services.ingestion.settings import InboxSettings
from shared.db import get_engine, transaction
from shared.s3 import is_missing_object
from shared.settings import RETAILER_IDS

log = logging.getLogger(__name__)

SCAN_LOCK = "ingestion.scan_inbox"
TRY_LOCK = "select pg_try_advisory_lock(hashtext(:n))"
WAIT_LOCK = "select true from (select pg_advisory_lock(hashtext(:n))) as waited"


@dataclass
class ScanReport:
    claimed: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    skipped: bool = False


@dataclass(frozen=True)
class InboxObject:
    key: str
    etag: str
    bytes: int
    modified: dt.datetime


def list_inbox(s3, bucket: str, prefix: str) -> list[InboxObject]:
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            out.append(InboxObject(o["Key"], o["ETag"].strip('"'), o["Size"],
                                   o["LastModified"]))
    return out


def _seen(conn: Connection, obj: InboxObject) -> Any:
    return conn.execute(text(
        "select file_id, status, history_key, updated_at from ops.inbox_file "
        "where object_key = :k and etag = :e order by file_id desc limit 1"),
        {"k": obj.key, "e": obj.etag}).first()


def record_error(conn: Connection, settings: InboxSettings, *, retailer_id: str, key: str,
                 etag: str, size: int, reason: str, message: str,
                 name: FileName | None = None, sha256: str | None = None,
                 file_id: int | None = None, run_id: str | None = None) -> dict[str, Any]:
    """An error on a file: its row (new, or the claimed one turned `error`) and the alert.
    Returns the alert's body."""
    detail = {"message": message}
    params = {"ret": retailer_id, "k": key, "e": etag, "b": size, "sha": sha256,
              "t": name.file_type if name else None, "d": name.batch_date if name else None,
              "reason": reason, "detail": orjson.dumps(detail).decode(), "run": run_id,
              "id": file_id}
    if file_id is None:
        file_id = conn.execute(text(
            "insert into ops.inbox_file (retailer_id, object_key, etag, bytes, sha256, "
            "file_type, batch_date, status, reason, detail, run_id) values (:ret, :k, :e, :b, "
            ":sha, :t, :d, 'error', :reason, cast(:detail as jsonb), :run) returning file_id"),
            params).scalar_one()
    else:
        conn.execute(text(
            "update ops.inbox_file set status = 'error', reason = :reason, "
            "detail = cast(:detail as jsonb), run_id = coalesce(:run, run_id), "
            "updated_at = now() where file_id = :id"), params)
    body = {"alert": "inbox_file_error", "file_id": file_id, "retailer_id": retailer_id,
            "key": key, "reason": reason, "message": message,
            "batch_date": name.batch_date.isoformat() if name else None}
    if send_alert(settings, body):
        conn.execute(text("update ops.inbox_file set alerted_at = now() where file_id = :id"),
                     {"id": file_id})
    log.error("inbox file %s: %s (%s)", key, reason, message)
    return body


def claim(conn: Connection, *, name: FileName, key: str, etag: str, size: int,
          sha256: str) -> tuple[str, int]:
    """Claim a file's bytes. Returns ('claimed' | 'duplicate', file_id)."""
    params = {"ret": name.retailer_id, "k": key, "e": etag, "b": size, "sha": sha256,
              "t": name.file_type, "d": name.batch_date}
    row = conn.execute(text(
        "insert into ops.inbox_file (retailer_id, object_key, etag, bytes, sha256, file_type, "
        "batch_date, status) values (:ret, :k, :e, :b, :sha, :t, :d, 'claimed') "
        "on conflict (retailer_id, sha256) where status in ('claimed', 'loading', 'loaded') "
        "do nothing returning file_id"), params).first()
    if row is not None:
        return "claimed", int(row[0])
    first = conn.execute(text(
        "select file_id from ops.inbox_file where retailer_id = :ret and sha256 = :sha "
        "and status in ('claimed', 'loading', 'loaded')"), params).scalar_one()
    file_id = conn.execute(text(
        "insert into ops.inbox_file (retailer_id, object_key, etag, bytes, sha256, file_type, "
        "batch_date, status, detail) values (:ret, :k, :e, :b, :sha, :t, :d, 'duplicate', "
        "cast(:detail as jsonb)) returning file_id"),
        {**params, "detail": orjson.dumps({"same_bytes_as": first}).decode()}).scalar_one()
    return "duplicate", int(file_id)


def forget_lost_copy(conn: Connection, s3, bucket: str, retailer_id: str, sha256: str) -> bool:
    """When the same bytes were loaded before but their copy in history is gone from the
    lake (a lake restored or emptied: the local stack's S3 server keeps nothing across
    restarts), the loaded row is superseded, so this upload is claimed and loaded instead
    of being a no-op that leaves a run of its date with no file to read. True if so."""
    row = conn.execute(text(
        "select file_id, history_key from ops.inbox_file where retailer_id = :ret "
        "and sha256 = :sha and status = 'loaded' and history_key is not null"),
        {"ret": retailer_id, "sha": sha256}).first()
    if row is None:
        return False
    try:
        s3.head_object(Bucket=bucket, Key=row.history_key)
        return False
    except ClientError as exc:
        if not is_missing_object(exc):
            raise
    conn.execute(text(
        "update ops.inbox_file set status = 'superseded', updated_at = now(), "
        "detail = coalesce(detail, '{}'::jsonb) || '{\"history_copy_lost\": true}'::jsonb "
        "where file_id = :id"), {"id": row.file_id})
    log.warning("inbox: %s was loaded before but its history copy is gone; loading it again",
                row.history_key)
    return True


def move(s3, bucket: str, source: str, target: str) -> None:
    """Copy then delete (S3 has no rename); a missing source was moved already."""
    try:
        s3.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": source})
    except Exception as exc:  # noqa: BLE001 - only a vanished source is expected here
        if is_missing_object(exc):
            return
        raise
    s3.delete_object(Bucket=bucket, Key=source)


def scan(s3, bucket: str, settings: InboxSettings, *, engine: Engine | None = None,
         start_runs: bool = True, wait: bool = False,
         now: dt.datetime | None = None) -> ScanReport:
    """One pass over the inbox (see the module's docstring).

    Args:
        start_runs: start the runs of newly claimed sales files (beat's scan does; an
            ingest step scanning for its own date does not).
        wait: wait for a scan under way to end, then scan (an ingest step that must know
            whether its file is there); otherwise a scan under way means this one is skipped.
    """
    engine = engine or get_engine()
    report = ScanReport()
    with engine.connect() as lock_conn:
        got = lock_conn.execute(text(WAIT_LOCK if wait else TRY_LOCK), {"n": SCAN_LOCK}).scalar()
        if not got:
            report.skipped = True
            return report
        try:
            _scan(s3, bucket, settings, engine, report, now or dt.datetime.now(dt.UTC))
        finally:
            lock_conn.execute(text("select pg_advisory_unlock(hashtext(:n))"), {"n": SCAN_LOCK})
            lock_conn.commit()
    if start_runs:
        report.runs = start_claimed_runs(engine, settings.run_delay_seconds)
    return report


def _scan(s3, bucket: str, settings: InboxSettings, engine: Engine, report: ScanReport,
          now: dt.datetime) -> None:
    objects = list_inbox(s3, bucket, settings.prefix)
    present = {o.key for o in objects}
    for obj in objects:
        where = split_key(obj.key, settings.prefix)
        with transaction(engine) as conn:
            seen = _seen(conn, obj)
            # Seen before, and not uploaded again since: nothing new (a loaded file whose
            # move to history was cut short is moved now). The same bytes uploaded again
            # after their load are claimed below, and found to be a duplicate.
            if seen is not None and (seen.status not in ("loaded", "duplicate")
                                     or obj.modified <= seen.updated_at):
                if seen.status in ("loaded", "duplicate") and seen.history_key:
                    move(s3, bucket, obj.key, seen.history_key)
                continue
            if where is None or where[0] not in RETAILER_IDS:
                record_error(conn, settings, retailer_id=where[0] if where else "?",
                             key=obj.key, etag=obj.etag, size=obj.bytes,
                             reason="unknown_retailer", message="not in a retailer's folder")
                report.errors.append(obj.key)
                continue
            name = parse_name(where[0], where[1])
            if name is None:
                record_error(conn, settings, retailer_id=where[0], key=obj.key, etag=obj.etag,
                             size=obj.bytes, reason="bad_name",
                             message=f"{where[1]!r} is not <sales|stores|products>_YYYYMMDD"
                                     ".csv (or a sales .ctl)")
                report.errors.append(obj.key)
                continue
            if name.ext == "ctl":
                continue                                   # read with its sales file
            if name.file_type == "sales" and \
                    f"{settings.prefix}{name.retailer_id}/{name.control_name}" not in present:
                if (now - obj.modified).total_seconds() < settings.control_wait_seconds:
                    continue
                record_error(conn, settings, retailer_id=name.retailer_id, key=obj.key,
                             etag=obj.etag, size=obj.bytes, name=name,
                             reason="control_file_missing",
                             message=f"no {name.control_name} beside it")
                report.errors.append(obj.key)
                continue
        sha = hash_object(s3, bucket, obj.key, settings.read_chunk_bytes).sha256
        with transaction(engine) as conn:
            forget_lost_copy(conn, s3, bucket, name.retailer_id, sha)
            status, file_id = claim(conn, name=name, key=obj.key, etag=obj.etag,
                                    size=obj.bytes, sha256=sha)
            if status == "duplicate":
                target = history_key(settings.history_prefix, name)
                conn.execute(text("update ops.inbox_file set history_key = :h "
                                  "where file_id = :id"), {"h": target, "id": file_id})
                report.duplicates.append(obj.key)
            else:
                report.claimed.append(obj.key)
        if status == "duplicate":
            # the same bytes are in history already (or being loaded): nothing to load; the
            # file's .ctl goes along to history
            s3.delete_object(Bucket=bucket, Key=obj.key)
            if name.file_type == "sales":
                ctl = FileName(name.retailer_id, "sales", name.batch_date, "ctl",
                               name.control_name)
                source = f"{settings.prefix}{name.retailer_id}/{name.control_name}"
                if source in present:
                    move(s3, bucket, source, history_key(settings.history_prefix, ctl))
            log.info("inbox file %s: the same bytes as a file claimed before; a no-op",
                     obj.key)


def start_claimed_runs(engine: Engine, delay_seconds: float = 0.0) -> list[str]:
    """Start a run per batch date that has a claimed sales file, first seen at least
    `delay_seconds` ago (INBOX_RUN_DELAY_SECONDS), and no run yet."""
    from services.ingestion.runs import submit_runs
    from shared.api_errors import ActiveRunConflict

    with engine.connect() as conn:
        waiting = conn.execute(text(
            "select distinct retailer_id, batch_date from ops.inbox_file "
            "where status = 'claimed' and file_type = 'sales' and run_id is null "
            "and seen_at <= now() - make_interval(secs => :delay) "
            "order by batch_date"), {"delay": delay_seconds}).all()
    started = []
    for retailer_id, day in waiting:
        try:
            sub = submit_runs([day], [retailer_id], requested_by="inbox", engine=engine)
        except ActiveRunConflict:
            continue                                       # next scan
        started += [r.run_id for r in sub.runs]
        with transaction(engine) as conn:
            conn.execute(text(
                "update ops.inbox_file set run_id = :r, updated_at = now() "
                "where retailer_id = :ret and batch_date = :d and status = 'claimed' "
                "and run_id is null"), {"r": sub.runs[0].run_id, "ret": retailer_id, "d": day})
    return started
