"""What the ingest step of a file-delivered retailer does (the stage table's
`ingestion.ingest_file` line): land the batch file of the run's date.

Which files: the newest claimed (or loading) file of each type for the date; when the scan
has not claimed the date's sales file yet (a `POST /runs` came first), the inbox is scanned
now; when the inbox has none, the date's loaded files are read again from history (a re-run
of the date gives the same warehouse). No sales file at all: the step fails, and the date's
`partition_complete_by_deadline` check says so once its deadline passed.

On success the files move to history; on a file error they stay in the inbox, their row
says why, and the alert hook is called.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from services.ingestion.files.inbox import move, record_error, scan
from services.ingestion.files.land import BatchFile, FileRejected, land_batch
from services.ingestion.files.names import FileName, history_key, parse_name
from services.ingestion.manifest import record_manifest, step_counts
from services.ingestion.settings import IngestionWorkerSettings, get_worker_settings
from shared import ops
from shared.db import transaction
from shared.s3 import get_s3
from shared.steps import PermanentError, StepContext

NEWEST = """
select distinct on (file_type) file_id, object_key, history_key, sha256, file_type, status
from ops.inbox_file
where retailer_id = :ret and batch_date = :d and status = any(:statuses)
order by file_type, file_id desc
"""


def _files(conn: Connection, ref: ops.StepRef, statuses: list[str],
           use_history: bool) -> dict[str, BatchFile]:
    out = {}
    for r in conn.execute(text(NEWEST), {"ret": ref.retailer_id, "d": ref.run_date,
                                         "statuses": statuses}):
        key = r.history_key if use_history else r.object_key
        name = parse_name(ref.retailer_id, key.rsplit("/", 1)[1])
        if name is not None and key:
            out[r.file_type] = BatchFile(r.file_id, name, key, r.sha256)
    return out


def take_batch(conn: Connection, ref: ops.StepRef) -> dict[str, BatchFile]:
    """The date's newest claimed files, now `loading` for this run (older claims of the
    same type are `superseded`)."""
    files = _files(conn, ref, ["claimed", "loading"], use_history=False)
    if files:
        conn.execute(text(
            "update ops.inbox_file set status = 'loading', run_id = :run, updated_at = now() "
            "where file_id = any(:ids)"),
            {"run": ref.run_id, "ids": [f.file_id for f in files.values()]})
        conn.execute(text(
            "update ops.inbox_file set status = 'superseded', updated_at = now() "
            "where retailer_id = :ret and batch_date = :d and status in ('claimed', 'loading') "
            "and file_id <> all(:ids)"),
            {"ret": ref.retailer_id, "d": ref.run_date,
             "ids": [f.file_id for f in files.values()]})
    return files


def ingest_file(step: StepContext, *, settings: IngestionWorkerSettings | None = None,
                s3: Any = None) -> None:
    """Land the run date's batch file and finish the step with its manifest."""
    ref, s = step.ref, settings or get_worker_settings()
    s3 = s3 or get_s3()
    with transaction(step.engine) as conn:
        files = take_batch(conn, ref)
    if "sales" not in files:
        scan(s3, s.s3_bucket, s.inbox, engine=step.engine, start_runs=False, wait=True)
        with transaction(step.engine) as conn:
            files = take_batch(conn, ref)
    from_history = "sales" not in files
    if from_history:
        with transaction(step.engine) as conn:
            files = _files(conn, ref, ["loaded"], use_history=True)
    if "sales" not in files:
        raise PermanentError(
            f"no sales file for {ref.run_date}: none in {s.inbox.prefix}{ref.retailer_id}/ "
            "and none loaded before", {"retailer_id": ref.retailer_id})
    with transaction(step.engine) as conn:
        requested_by = conn.execute(text("select requested_by from ops.run where run_id = :r"),
                                    {"r": ref.run_id}).scalar()
    step.progress({"files": len(files), "rows": 0}, force=True)
    try:
        landed = land_batch(s3, s, files, run_id=ref.run_id, day=ref.run_date,
                            requested_by=requested_by, on_progress=step.progress)
    except FileRejected as exc:
        f = exc.file
        if not from_history:
            with transaction(step.engine) as conn:
                etag = conn.execute(text("select etag, bytes from ops.inbox_file "
                                         "where file_id = :id"), {"id": f.file_id}).one()
                record_error(conn, s.inbox, retailer_id=ref.retailer_id, key=f.key,
                             etag=etag.etag, size=etag.bytes, reason=exc.reason,
                             message=exc.message, name=f.name, file_id=f.file_id,
                             run_id=ref.run_id)
                # the date's other files wait for a good sales file
                conn.execute(text(
                    "update ops.inbox_file set status = 'claimed' where run_id = :r "
                    "and status = 'loading'"), {"r": ref.run_id})
        raise PermanentError(str(exc), {"reason": exc.reason, "key": f.key}) from None
    moves = []
    with transaction(step.engine) as conn:
        record_manifest(conn, landed.manifest, landed.manifest_key)
        if not from_history:
            moves = _mark_loaded(conn, ref, files, s.inbox.history_prefix)
        step.finish(conn, step_counts(landed.manifest))
    for source, target in moves:
        move(s3, s.s3_bucket, source, target)


def _mark_loaded(conn: Connection, ref: ops.StepRef, files: dict[str, BatchFile],
                 history_prefix: str) -> list[tuple[str, str]]:
    """The files are loaded (and where they go); what they replace is `superseded`; the
    batch's open errors are resolved. Returns the (inbox, history) moves to make."""
    moves = []
    for f in files.values():
        target = history_key(history_prefix, f.name)
        conn.execute(text(
            "update ops.inbox_file set status = 'superseded', updated_at = now() "
            "where retailer_id = :ret and batch_date = :d and file_type = :t "
            "and status = 'loaded'"),
            {"ret": ref.retailer_id, "d": ref.run_date, "t": f.name.file_type})
        conn.execute(text(
            "update ops.inbox_file set status = 'loaded', history_key = :h, run_id = :r, "
            "updated_at = now() where file_id = :id"),
            {"h": target, "r": ref.run_id, "id": f.file_id})
        moves.append((f.key, target))
        if f.name.file_type == "sales":
            ctl = FileName(f.name.retailer_id, "sales", f.name.batch_date, "ctl",
                           f.name.control_name)
            moves.append((f.control_key, history_key(history_prefix, ctl)))
    conn.execute(text(
        "update ops.inbox_file set resolved_at = now(), updated_at = now() "
        "where retailer_id = :ret and batch_date = :d and status = 'error' "
        "and resolved_at is null"), {"ret": ref.retailer_id, "d": ref.run_date})
    return moves
