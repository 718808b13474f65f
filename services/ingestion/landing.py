"""Writing a partition's objects to S3 as they are produced, page by page.

Bronze and rejected objects are gzipped JSON lines, compressed with ISA-L (`isal`: plain
gzip, about five times zlib's speed at its level 1, and as small). Silver objects are
typed Parquet (`shared.silver`), one row group per `silver_row_group_rows` records.
Either way the stored bytes are spooled to a temporary file and go to S3 in multipart
chunks of `upload_chunk_bytes` while the object grows (a small object is one PUT at the
end), uploaded from the file, so memory stays flat whatever the size of the day. An object
that reaches `part_max_bytes` is finished and continues in the next part (`part-00001`,
...). Byte counts and sha256 checksums are of the stored bytes, for the manifest.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import logging
import queue
import tempfile
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
from isal import isal_zlib

from services.ingestion.normalize import Batch
from services.ingestion.settings import IngestionSettings
from shared import silver
from shared.s3 import object_prefix, part_key

log = logging.getLogger(__name__)

GZIP_WBITS = 16 + isal_zlib.MAX_WBITS  # a gzip header and trailer around the deflate stream
_dump_line = orjson.dumps
_NEWLINE = orjson.OPT_APPEND_NEWLINE


def json_lines(records: Iterable[Any]) -> bytearray:
    """Records as JSON lines (one object per line, newline-terminated).

    Each record's bytes are appended and dropped at once: keeping thousands of small
    `bytes` alive for one join was measured 6x slower (each lives in a fresh block of the
    allocator's heap), which is a day's worth of time at a million lines.
    """
    buf = bytearray()
    for record in records:
        buf += _dump_line(record, option=_NEWLINE)
    return buf


@dataclass(frozen=True)
class LandedObject:
    """One finished object, as the manifest lists it."""

    kind: str
    entity: str | None
    key: str
    records: int
    bytes: int
    sha256: str

    def as_manifest(self) -> dict[str, Any]:
        return {"kind": self.kind, "entity": self.entity, "key": self.key,
                "records": self.records, "bytes": self.bytes, "sha256": self.sha256}


class S3Stream:
    """One S3 object written as it grows: multipart chunks, or a single PUT when small.

    Bytes are spooled to a temporary file, and each chunk is uploaded from it as a file
    body (botocore streams it), so no chunk is ever held in memory: a partition's memory
    does not grow with the size of the day nor with the number of objects open at once.
    """

    def __init__(self, s3, bucket: str, key: str, chunk_bytes: int, *,
                 content_type: str = "application/x-ndjson",
                 content_encoding: str | None = "gzip") -> None:
        self.s3, self.bucket, self.key, self.chunk_bytes = s3, bucket, key, chunk_bytes
        self._headers = {"ContentType": content_type}
        if content_encoding:
            self._headers["ContentEncoding"] = content_encoding
        self._spool = tempfile.TemporaryFile(prefix="ingestion-part-")
        self._spooled = 0
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        if not data:
            return
        self._spool.write(data)
        self._spooled += len(data)
        if self._spooled >= self.chunk_bytes:
            self._upload_chunk()

    def _upload_chunk(self) -> None:
        if self._upload_id is None:
            self._upload_id = self.s3.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, **self._headers)["UploadId"]
        number = len(self._parts) + 1
        self._spool.seek(0)
        etag = self.s3.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id,
                                   PartNumber=number, Body=self._spool,
                                   ContentLength=self._spooled)["ETag"]
        self._parts.append({"ETag": etag, "PartNumber": number})
        self._spool.seek(0)
        self._spool.truncate()
        self._spooled = 0

    def close(self) -> None:
        try:
            if self._upload_id is None:
                self._spool.seek(0)
                self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=self._spool,
                                   ContentLength=self._spooled, **self._headers)
                return
            if self._spooled:
                self._upload_chunk()
            self.s3.complete_multipart_upload(Bucket=self.bucket, Key=self.key,
                                              UploadId=self._upload_id,
                                              MultipartUpload={"Parts": self._parts})
        finally:
            self._spool.close()

    def abort(self) -> None:
        self._spool.close()
        if self._upload_id is not None:
            try:
                self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key,
                                               UploadId=self._upload_id)
            except Exception:  # noqa: BLE001 - best effort on a path that is failing anyway
                log.warning("could not abort the multipart upload of %s", self.key)


class _PartWriter:
    """Objects of one kind and entity, split into parts of bounded size.

    A part is a stream to S3 with its byte count, sha256 and record count; subclasses say
    how records become bytes (`_start_part`, `_end_part`).
    """

    content_type = "application/x-ndjson"
    content_encoding: str | None = "gzip"

    def __init__(self, s3, bucket: str, kind: str, entity: str | None,
                 key_of_part: Callable[[int], str], settings: IngestionSettings) -> None:
        self.s3, self.bucket, self.kind, self.entity = s3, bucket, kind, entity
        self.settings = settings
        self._key_of_part = key_of_part
        self._part_max = settings.part_max_bytes
        self._chunk = settings.upload_chunk_bytes
        self.landed: list[LandedObject] = []
        self._part = -1
        self._open_part()

    def _open_part(self) -> None:
        self._part += 1
        self._stream = S3Stream(self.s3, self.bucket, self._key_of_part(self._part), self._chunk,
                                content_type=self.content_type,
                                content_encoding=self.content_encoding)
        self._sha = hashlib.sha256()
        self._bytes = 0
        self._records = 0
        self._start_part()

    def _start_part(self) -> None:
        pass

    def _end_part(self) -> None:
        pass

    def _emit(self, data: bytes) -> None:
        if data:
            self._sha.update(data)
            self._bytes += len(data)
            self._stream.write(data)

    def _roll_over_if_full(self) -> None:
        if self._bytes >= self._part_max:
            self._finish_part()
            self._open_part()

    def _finish_part(self) -> None:
        self._end_part()
        self._stream.close()
        self.landed.append(LandedObject(self.kind, self.entity, self._stream.key,
                                        self._records, self._bytes, self._sha.hexdigest()))

    def close(self) -> list[LandedObject]:
        """Finish the last part (unless a roll-over left it empty) and return every part."""
        if self._records:
            self._finish_part()
        else:
            self._stream.abort()  # nothing was written to it: no object, no temporary file
        return self.landed

    def abort(self) -> None:
        self._stream.abort()


class JsonLinesWriter(_PartWriter):
    """Gzipped JSON lines (bronze and rejected objects)."""

    def _start_part(self) -> None:
        self._zip = isal_zlib.compressobj(self.settings.gzip_level, isal_zlib.DEFLATED,
                                          GZIP_WBITS)

    def _end_part(self) -> None:
        self._emit(self._zip.flush())

    def write_lines(self, lines: bytes | bytearray, count: int) -> None:
        """Append `count` records already serialized as JSON lines."""
        # A sync flush per batch (a page) costs a few bytes and makes the byte count exact,
        # so a part ends close to part_max_bytes instead of zlib's buffering deciding.
        self._emit(self._zip.compress(lines) + self._zip.flush(isal_zlib.Z_SYNC_FLUSH))
        self._records += count
        self._roll_over_if_full()

    def write(self, records: list[Any]) -> None:
        if records:
            self.write_lines(json_lines(records), len(records))


class _PartSink:
    """The file a Parquet writer writes to: the part's stream, hashed and counted."""

    closed = False

    def __init__(self, owner: _PartWriter) -> None:
        self._owner = owner

    def write(self, data: bytes) -> int:
        self._owner._emit(data)  # hashed and spooled at once, never kept: no copy needed
        return len(data)

    def tell(self) -> int:
        return self._owner._bytes

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class SilverWriter(_PartWriter):
    """Typed Parquet objects of one canonical entity (`shared.silver`).

    Page batches wait until a row group's worth (`silver_row_group_rows`) is there, then are
    cast and written as one row group: a row group per page would make objects of a
    thousand tiny row groups. The waiting batches are Arrow's compact columns, a few MB.
    """

    content_type = silver.CONTENT_TYPE
    content_encoding = None

    def _start_part(self) -> None:
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        assert self.entity is not None
        self._parquet = silver.writer(_PartSink(self), self.entity)

    def _flush_row_group(self) -> None:
        if self._pending:
            assert self.entity is not None
            self._parquet.write_table(silver.typed_table(self.entity, self._pending),
                                      row_group_size=self._pending_rows)
            self._pending, self._pending_rows = [], 0
            # Arrow's allocator keeps freed blocks; return them so memory stays flat.
            pa.default_memory_pool().release_unused()

    def _end_part(self) -> None:
        self._flush_row_group()
        self._parquet.close()

    def write_batch(self, batch: pa.RecordBatch) -> None:
        """Append one page's records (`silver.page_batch`)."""
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        self._records += batch.num_rows
        if self._pending_rows >= self.settings.silver_row_group_rows:
            self._flush_row_group()
            self._roll_over_if_full()

    def abort(self) -> None:
        self._pending = []
        super().abort()


# Serialized batches (about a page's worth of objects) that may wait for the sink.
SINK_DEPTH = 6


class _Sink:
    """One thread that runs a partition's writes (compress, hash, spool, upload) in order.

    ISA-L, sha256, file writes and S3 uploads release the GIL, so they run on the second core
    while the caller serializes and normalizes the next page. The queue's bound keeps
    memory flat. The first error stops the sink (later tasks are dropped) and is raised in
    the caller at its next `submit` or at `join`.
    """

    def __init__(self, name: str) -> None:
        self._queue: queue.Queue[tuple[Callable[..., object], tuple[Any, ...]] | None] = \
            queue.Queue(maxsize=SINK_DEPTH)
        self._error: BaseException | None = None
        self._cancelled = False
        self._name = name
        self._thread: threading.Thread | None = None  # started by the first task

    def _run(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            if self._error is not None or self._cancelled:
                continue  # keep draining so a caller blocked on a full queue goes on
            fn, args = task
            try:
                fn(*args)
            except BaseException as exc:  # noqa: BLE001 - raised in the caller
                self._error = exc

    def submit(self, fn: Callable[..., object], *args: Any) -> None:
        self._raise_error()
        if self._thread is None:
            # The caller's context goes along, so log lines keep its run_id and retailer_id.
            context = contextvars.copy_context()
            self._thread = threading.Thread(target=context.run, args=(self._run,),
                                            name=self._name, daemon=True)
            self._thread.start()
        self._queue.put((fn, args))

    def _stop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def join(self) -> None:
        """Wait until every task ran; raise the first error."""
        self._stop()
        self._raise_error()

    def cancel(self) -> None:
        """Drop the tasks not started yet and wait for the one running."""
        self._cancelled = True
        self._stop()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error


class PartitionWriter:
    """Every object of one partition: bronze per resource, silver per entity, rejected.

    Writers open on their first record (an entity with no records has no object) and the
    bronze writer of a resource is closed as soon as its last page was written. Records
    are serialized in the caller's thread; compressing and uploading them happen in a
    `_Sink` thread, in the order they were handed over.
    """

    def __init__(self, s3, bucket: str, retailer_id: str, day: dt.date, run_id: str,
                 settings: IngestionSettings) -> None:
        self.s3, self.bucket, self.settings = s3, bucket, settings
        self.retailer_id, self.day, self.run_id = retailer_id, day, run_id
        self._open: dict[tuple[str, str | None], _PartWriter] = {}
        # Finished in the sink, not yet closed there (an abort must abort them too).
        self._closing: list[_PartWriter] = []
        self.landed: list[LandedObject] = []
        self._sink = _Sink(f"sink-{retailer_id}")

    def _writer(self, kind: str, entity: str | None) -> Any:
        writer = self._open.get((kind, entity))
        if writer is None:
            def key_of_part(part: int) -> str:
                return part_key(kind, self.retailer_id, self.day, self.run_id, part, entity)

            cls = SilverWriter if kind == "silver" else JsonLinesWriter
            writer = cls(self.s3, self.bucket, kind, entity, key_of_part, self.settings)
            self._open[(kind, entity)] = writer
        return writer

    def _write(self, kind: str, entity: str | None, records: list[Any]) -> None:
        if records:
            self._sink.submit(self._writer(kind, entity).write_lines, json_lines(records),
                              len(records))

    def _write_silver(self, entity: str, records: list[Any]) -> None:
        if records:
            # The batch is built here (it holds the GIL); the cast, Parquet encoding and
            # compression run in the sink thread, in Arrow's C++ code.
            self._sink.submit(self._writer("silver", entity).write_batch,
                              silver.page_batch(entity, records))

    def bronze(self, resource: str, records: list[Any]) -> None:
        """Records of `resource` exactly as the retailer sent them."""
        self._write("bronze", resource, records)

    def end_resource(self, resource: str) -> None:
        """The resource's last page was written: finish its bronze object now."""
        writer = self._open.pop(("bronze", resource), None)
        if writer is not None:
            self._closing.append(writer)
            self._sink.submit(self._close_writer, writer)

    def _close_writer(self, writer: _PartWriter) -> None:
        self.landed.extend(writer.close())
        self._closing.remove(writer)

    def normalized(self, batch: Batch) -> None:
        """A page's canonical records (silver) and rejections."""
        for entity, records in batch.silver.items():
            self._write_silver(entity, records)
        self._write("rejected", None, batch.rejected)

    def close(self) -> list[LandedObject]:
        """Finish every open object. Returns all objects: bronze, then silver, rejected."""
        self._sink.join()
        # Each close is a round trip or two (the last chunk, completing the upload): do them
        # concurrently rather than one after another.
        with ThreadPoolExecutor(max_workers=8) as pool:
            for landed in pool.map(_PartWriter.close, self._open.values()):
                self.landed.extend(landed)
        self._open.clear()
        order = {"bronze": 0, "silver": 1, "rejected": 2}
        return sorted(self.landed, key=lambda o: order[o.kind])

    def abort(self) -> None:
        self._sink.cancel()
        for writer in [*self._open.values(), *self._closing]:
            writer.abort()
        self._open.clear()
        self._closing.clear()


def delete_run_objects(s3, bucket: str, retailer_id: str, day: dt.date, run_id: str,
                       resources: Iterable[str], entities: Iterable[str]) -> int:
    """Remove what an earlier attempt of this same run left behind (it has no manifest yet).

    Only this run's prefixes are touched: another run's objects are never rewritten.
    """
    prefixes = [object_prefix("bronze", retailer_id, day, run_id, r) for r in resources]
    prefixes += [object_prefix("silver", retailer_id, day, run_id, e) for e in entities]
    prefixes.append(object_prefix("rejected", retailer_id, day, run_id))

    def clear(prefix: str) -> int:
        deleted = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
                deleted += len(keys)
        return deleted

    # a dozen prefixes, each a round trip: look at them concurrently
    with ThreadPoolExecutor(max_workers=8) as pool:
        return sum(pool.map(clear, prefixes))
