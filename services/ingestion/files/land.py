"""Landing one batch (retailer5, one date): its files -> bronze (exact bytes), silver,
rejected, manifest: the same objects and manifest every retailer's partition has.

Each file is streamed (reader.py) and its records go to the partition writer every
BATCH_ROWS rows, so memory stays flat whatever the file's size. A file that cannot be
loaded as a whole raises `FileRejected` with its reason: truncated, control total off,
nothing parseable, a header without a required column, no control file.
"""

from __future__ import annotations

import csv
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.ingestion.files.mapping import CURRENCY, BadHeader, FileNormalizer
from services.ingestion.files.names import FileName
from services.ingestion.files.reader import (
    ReadState,
    csv_rows,
    object_chunks,
    read_control,
    text_lines,
)
from services.ingestion.landing import LandedObject, PartitionWriter
from services.ingestion.manifest import publish_manifest
from services.ingestion.settings import IngestionWorkerSettings
from shared.canonical import ENTITIES, cents_text, money_to_cents
from shared.contracts import MANIFEST_VERSION, Manifest
from shared.s3 import object_prefix

BATCH_ROWS = 5000
ORDER = ("stores", "products", "sales")


@dataclass(frozen=True)
class BatchFile:
    """One file of a batch, where it is read from now (inbox or history)."""

    file_id: int
    name: FileName
    key: str
    sha256: str | None

    @property
    def control_key(self) -> str:
        return self.key.rsplit("/", 1)[0] + "/" + self.name.control_name


class FileRejected(Exception):
    """A file that cannot be loaded as a whole; it stays where it is, with an alert."""

    def __init__(self, file: BatchFile, reason: str, message: str) -> None:
        super().__init__(f"{file.name.name}: {reason}: {message}")
        self.file, self.reason, self.message = file, reason, message


@dataclass(frozen=True)
class LandedBatch:
    manifest: dict[str, Any]
    manifest_key: str


def land_batch(s3, settings: IngestionWorkerSettings, files: dict[str, BatchFile], *,
               run_id: str, day: dt.date, requested_by: str | None = None,
               on_progress: Callable[[dict[str, Any]], None] | None = None) -> LandedBatch:
    """Read, check and land a batch's files; publish the manifest last."""
    started = time.monotonic()
    bucket, conf = settings.s3_bucket, settings.inbox
    retailer_id = files["sales"].name.retailer_id
    writer = PartitionWriter(s3, bucket, retailer_id, day, run_id, settings.ingestion)
    normalizers: list[FileNormalizer] = []
    bronze: list[LandedObject] = []
    described: list[dict[str, Any]] = []
    control: dict[str, str] | None = None
    try:
        for kind in ORDER:
            f = files.get(kind)
            if f is None:
                continue
            norm = FileNormalizer(day, kind, conf.lookback_days)
            state = ReadState()
            rows = 0
            try:
                lines = text_lines(object_chunks(s3, bucket, f.key, conf.read_chunk_bytes),
                                   state)
                for line_no, fields in csv_rows(lines):
                    norm.feed(line_no, fields)
                    rows += 1
                    if rows % BATCH_ROWS == 0:
                        writer.normalized(norm.take())
                        if on_progress is not None:
                            on_progress({"file": f.name.name, "rows": rows})
            except BadHeader as exc:
                raise FileRejected(f, "bad_header", str(exc)) from None
            except csv.Error as exc:           # a NUL byte, a field past csv's size limit
                raise FileRejected(f, "unreadable_csv", str(exc)) from None
            writer.normalized(norm.take())
            if kind == "sales":
                control = _check_sales(s3, bucket, f, norm, state)
            accepted = sum(c.normalized for c in norm.counts.values())
            if norm.rows and not accepted:
                raise FileRejected(f, "nothing_parseable",
                                   f"none of its {norm.rows} rows could be read")
            bronze += _keep_bytes(s3, bucket, f, run_id, day, norm.rows, state,
                                  with_control=kind == "sales")
            normalizers.append(norm)
            described.append({"file_type": kind, "name": f.name.name, "key": f.key,
                              "sha256": state.sha256, "bytes": state.size, "rows": norm.rows,
                              "header": norm.header})
        objects = bronze + writer.close()
    except BaseException:
        writer.abort()
        raise
    manifest = _manifest(run_id, retailer_id, day, objects, normalizers, control, described,
                         lookback=conf.lookback_days, requested_by=requested_by,
                         seconds=time.monotonic() - started)
    return LandedBatch(manifest, publish_manifest(s3, bucket, manifest))


def _check_sales(s3, bucket: str, f: BatchFile, norm: FileNormalizer,
                 state: ReadState) -> dict[str, str]:
    control = read_control(s3, bucket, f.control_key)
    if control is None:
        raise FileRejected(f, "control_file_missing", f"no {f.name.control_name} beside it")
    try:
        rows, cents = int(control["rows"]), money_to_cents(control["amount"])
    except (KeyError, ValueError):
        raise FileRejected(f, "control_file_unreadable", f"{control!r}") from None
    truncated = not state.ends_with_newline and norm.last_row_malformed
    amount_off = norm.unknown_amounts == 0 and cents != norm.cents
    if truncated or (rows != norm.rows and not state.ends_with_newline):
        raise FileRejected(f, "truncated",
                           f"the file ends mid-line after {norm.rows} of {rows} rows")
    if rows != norm.rows or amount_off:
        raise FileRejected(f, "control_total_mismatch",
                           f"{norm.rows} rows / {cents_text(norm.cents)} read, the control "
                           f"file says {rows} / {control['amount']}")
    return control


def _keep_bytes(s3, bucket: str, f: BatchFile, run_id: str, day: dt.date, rows: int,
                state: ReadState, *, with_control: bool) -> list[LandedObject]:
    """Bronze keeps the file's exact bytes: a server-side copy, not a re-encoding."""
    entity = f"{f.name.file_type}_file"
    key = object_prefix("bronze", f.name.retailer_id, day, run_id, entity) + f.name.name
    s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": f.key})
    out = [LandedObject("bronze", entity, key, rows, state.size, state.sha256)]
    if with_control:
        ctl = object_prefix("bronze", f.name.retailer_id, day, run_id, entity) + \
            f.name.control_name
        s3.copy_object(Bucket=bucket, Key=ctl,
                       CopySource={"Bucket": bucket, "Key": f.control_key})
        size = s3.head_object(Bucket=bucket, Key=ctl)["ContentLength"]
        out.append(LandedObject("bronze", entity, ctl, 1, size, ""))
    return out


def _manifest(run_id: str, retailer_id: str, day: dt.date, objects: list[LandedObject],
              normalizers: list[FileNormalizer], control: dict[str, str] | None,
              files: list[dict[str, Any]], *, lookback: int, requested_by: str | None,
              seconds: float) -> dict[str, Any]:
    counts: dict[str, dict[str, int]] = {
        e: {"received": 0, "normalized": 0, "rejected": 0} for e in ENTITIES}
    rejected_cents: dict[str, int] = {}
    reasons: dict[str, int] = {}
    unknown: dict[str, int] = {}
    for n in normalizers:
        for entity, c in n.counts.items():
            for k, v in c.as_dict().items():
                counts[entity][k] += v
        for entity, cents in n.rejected_cents.items():
            rejected_cents[entity] = rejected_cents.get(entity, 0) + cents
        for reason, times in n.reasons.items():
            reasons[reason] = reasons.get(reason, 0) + times
        for name, times in n.unknown_fields.items():
            unknown[name] = unknown.get(name, 0) + times
    sales = next(n for n in normalizers if n.kind == "sales")
    sales_file = next(f for f in files if f["file_type"] == "sales")
    ctl_rows = int(control["rows"]) if control else None
    # What the partner reports for the date as every retailer does (order lines of orders
    # created on it, each once): what quality reconciles the warehouse against.
    ctl = control or {}
    line_count = int(ctl["order_lines"]) if "order_lines" in ctl else ctl_rows
    amount = ctl.get("order_lines_amount", ctl.get("amount"))
    return Manifest.model_validate({
        "version": MANIFEST_VERSION, "run_id": run_id, "retailer_id": retailer_id,
        "run_date": day.isoformat(),
        "created_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "objects": [o.as_manifest() for o in objects], "counts": counts,
        "pages": {f["file_type"]: 1 for f in files},
        "control_totals": {"line_count": line_count, "amount": amount,
                           "currency": (control or {}).get("currency", CURRENCY),
                           "raw": control or {}},
        "rejected_amount": {e: cents_text(c) for e, c in sorted(rejected_cents.items())},
        "unknown_fields": dict(sorted(unknown.items())),
        "timings": {"seconds": round(seconds, 3)},
        "reconciliation": {
            "line_count": sales.rows, "amount": cents_text(sales.cents), "duplicate_lines": 0,
            "line_count_matches": sales.rows == ctl_rows,
            "amount_matches": control is not None
                              and money_to_cents(control["amount"]) == sales.cents,
        },
        "rejected_reasons": dict(sorted(reasons.items())),
        # A file batch replaces what the batch date loaded before (docs/ingestion.md).
        "batch": {"replaces_batch": True, "sha256": sales_file["sha256"],
                  "lookback_days": lookback, "requested_by": requested_by, "files": files},
    }).to_json()
