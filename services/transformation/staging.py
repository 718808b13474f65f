"""Silver objects in S3 -> typed, deduplicated temporary staging tables.

A silver object (typed Parquet, `shared.silver`) is streamed from S3 to a temporary file,
checked against its manifest entry, and read one row group at a time; pgpq encodes each
Arrow batch into PostgreSQL's binary COPY format (in Rust, no Python per value), which the
server stores without parsing text. Silver objects of an older lake (gzipped JSON lines,
before silver was Parquet) are typed batch by batch as ingestion types pages, then copied
the same way. Rejected objects (gzipped JSON lines) are inflated and split as they arrive
and written with psycopg 3's `copy.write_row`. Nothing holds a whole object in memory.
Duplicate natural keys inside the partition (a retailer serving a line twice is a real
fault) are then removed, because one `INSERT ... ON CONFLICT DO UPDATE` cannot touch the
same row twice.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from isal import isal_zlib
from pgpq import ArrowToPostgresBinaryEncoder
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from services.transformation.context import LoadContext
from services.transformation.manifest import Partition
from shared import silver
from shared.canonical import ENTITIES, NATURAL_KEYS
from shared.contracts import ManifestObject

log = logging.getLogger(__name__)

# The staging column type of each silver column type: what a binary COPY of that Arrow type
# is read as. The silver schemas (`shared.silver.SCHEMAS`) say which field has which.
SQL_TYPES = {pa.string(): "text", pa.int32(): "integer", silver.TIMESTAMP: "timestamptz",
             silver.MONEY: "numeric(12,2)"}

# Which of several records with one natural key a partition keeps. Exact duplicates are
# the usual case; for differing ones the choice must not depend on line order: the newest
# state of a dimension member, the earliest occurrence of an event, the furthest status.
KEEP_ORDER = {
    "stores": "store_name, channel, city, region, country",
    "customers": "valid_from desc, email, full_name, city, region, country",
    "products": "valid_from desc, product_name, category, list_price, currency",
    "orders": "warehouse.order_status_rank(status) desc, created_at, customer_id, store_id, "
              "order_total, currency",
    "order_lines": "created_at, product_id, quantity, unit_price, discount, line_total, "
                   "currency",
    "order_events": "occurred_at",
}

# Rejected lines are staged as text: a rejected record's money or currency may be the very
# value that could not be read, and must not fail the load.
REJECTED_COLUMNS = (("entity", "text"), ("reason", "text"), ("detail", "text"),
                    ("record_key", "text"), ("amount", "text"), ("currency", "text"),
                    ("payload", "jsonb"))


# Rows per Arrow batch read from a silver object and sent as one COPY write (~2 MB).
SILVER_BATCH_ROWS = 16_384


class PartitionCorrupt(Exception):
    """An object does not match its manifest (size, checksum or record count)."""


@dataclass
class StagedEntity:
    records: int = 0       # lines read from the silver objects
    duplicates: int = 0    # of them, dropped as duplicate natural keys
    # Of the dropped, those identical in every field to a record kept: a record served
    # twice, not a distinct record that the natural key collapsed.
    exact_duplicates: int = 0


def stage_table(entity: str) -> sql.Identifier:
    return sql.Identifier(f"stg_{entity}")


# The UTC day of an order (or line) is computed once while copying; as a column it also
# gets statistics, so the joins on it are planned from real numbers.
ORDER_DATE = sql.SQL(
    ", order_date date generated always as ((created_at at time zone 'UTC')::date) stored")


def create_staging_tables(ctx: LoadContext) -> None:
    """One temporary table per canonical entity and one for rejected records."""
    for entity, schema in silver.SCHEMAS.items():
        cols = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(SQL_TYPES[f.type]))
            for f in schema)
        extra = ORDER_DATE if entity in ("orders", "order_lines") else sql.SQL("")
        ctx.execute(sql.SQL("create temp table {} ({}{}) on commit drop")
                    .format(stage_table(entity), cols, extra))
    cols = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t))
                              for c, t in REJECTED_COLUMNS)
    ctx.execute(sql.SQL("create temp table stg_rejected ({}) on commit drop").format(cols))


def inflate_chunks(chunks: Iterable[bytes], max_bytes: int) -> Iterator[bytes]:
    """Gunzip a stream (multi-member gzip included) into pieces of at most `max_bytes`.

    The output is bounded, not the input: JSON lines compress about tenfold, so a whole
    inflated read chunk (and the lines split from it) would cost ten times its size.
    """
    # ISA-L inflates about twice as fast as zlib, with the same API.
    inflate = isal_zlib.decompressobj(isal_zlib.MAX_WBITS | 16)
    for chunk in chunks:
        pending = chunk
        while pending:
            data = inflate.decompress(pending, max_bytes)
            pending = inflate.unconsumed_tail
            if inflate.eof:  # the next gzip member starts in unused_data
                pending = inflate.unused_data + pending
                inflate = isal_zlib.decompressobj(isal_zlib.MAX_WBITS | 16)
            if data:
                yield data
    rest = inflate.flush()
    if rest:
        yield rest


def split_lines(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """The newline-separated lines of a stream of byte pieces."""
    tail = b""
    for piece in pieces:
        lines = (tail + piece).split(b"\n")
        tail = lines.pop()
        yield from lines
    if tail.strip():
        yield tail


def _verified_chunks(s3: Any, bucket: str, obj: ManifestObject, *, chunk_bytes: int,
                     verify: bool) -> Iterator[bytes]:
    """The stored bytes of one object, in chunks; checked against the manifest at the end.

    Raises:
        PartitionCorrupt: the object's size or sha256 differs from the manifest's.
    """
    body = s3.get_object(Bucket=bucket, Key=obj.key)["Body"]
    digest = hashlib.sha256() if verify and obj.sha256 else None
    size = 0
    try:
        while chunk := body.read(chunk_bytes):
            size += len(chunk)
            if digest is not None:
                digest.update(chunk)
            yield chunk
    finally:
        body.close()
    if verify and obj.bytes is not None and size != obj.bytes:
        raise PartitionCorrupt(f"{obj.key}: {size} bytes, manifest says {obj.bytes}")
    if digest is not None and digest.hexdigest() != obj.sha256:
        raise PartitionCorrupt(f"{obj.key}: sha256 differs from the manifest")


def iter_object_lines(s3: Any, bucket: str, obj: ManifestObject, *, chunk_bytes: int,
                      verify: bool) -> Iterator[bytes]:
    """The lines of one gzipped JSON-lines object, streamed (checked at the end).

    Raises:
        PartitionCorrupt: the object's size or sha256 differs from the manifest's.
    """
    chunks = _verified_chunks(s3, bucket, obj, chunk_bytes=chunk_bytes, verify=verify)
    yield from split_lines(inflate_chunks(chunks, chunk_bytes))


def iter_silver_batches(s3: Any, bucket: str, obj: ManifestObject, entity: str, *,
                        chunk_bytes: int, verify: bool) -> Iterator[pa.RecordBatch]:
    """The record batches of one silver object, one row group at a time.

    A Parquet file is read from its footer, so the object is spooled to a temporary file
    first (memory holds one chunk) and checked before a single record is read.

    Raises:
        PartitionCorrupt: size or sha256 differ from the manifest's, or the object is not
            Parquet of the entity's silver schema.
    """
    with tempfile.TemporaryFile(prefix="silver-") as spool:
        for chunk in _verified_chunks(s3, bucket, obj, chunk_bytes=chunk_bytes, verify=verify):
            spool.write(chunk)
        spool.seek(0)
        try:
            parquet = silver.open_object(spool, entity)
        except ValueError as exc:
            raise PartitionCorrupt(f"{obj.key}: {exc}") from exc
        yield from parquet.iter_batches(batch_size=SILVER_BATCH_ROWS)
    # Arrow's allocator keeps freed blocks for reuse; give them back between objects so
    # a worker's memory does not keep the high-water mark of the largest object it read.
    pa.default_memory_pool().release_unused()


def iter_json_lines_batches(s3: Any, bucket: str, obj: ManifestObject, entity: str, *,
                            chunk_bytes: int, verify: bool) -> Iterator[pa.RecordBatch]:
    """The records of a silver object written before silver was Parquet (gzipped JSON
    lines of canonical records), as batches of the silver schema: dates of an older lake
    still reload and replay. Typed as ingestion types a page, SILVER_BATCH_ROWS at a time.

    Raises:
        PartitionCorrupt: size or sha256 differ from the manifest's, a line is not a JSON
            object, or a value does not fit its silver type.
    """
    def typed(records: list[dict[str, Any]]) -> list[pa.RecordBatch]:
        try:
            return silver.typed_table(entity, [silver.page_batch(entity, records)]).to_batches()
        except (silver.SilverValueError, pa.ArrowException, TypeError) as exc:
            raise PartitionCorrupt(f"{obj.key}: {exc}") from exc

    pending: list[dict[str, Any]] = []
    for line in iter_object_lines(s3, bucket, obj, chunk_bytes=chunk_bytes, verify=verify):
        if not line or line.isspace():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise PartitionCorrupt(f"{obj.key}: a line is not JSON ({exc})") from exc
        if not isinstance(record, dict):
            raise PartitionCorrupt(f"{obj.key}: a line is not a JSON object")
        pending.append(record)
        if len(pending) == SILVER_BATCH_ROWS:
            yield from typed(pending)
            pending = []
    if pending:
        yield from typed(pending)


def copy_batches(ctx: LoadContext, entity: str, batches: Iterable[pa.RecordBatch],
                 retailer_id: str) -> int:
    """Binary COPY of silver batches into the entity's staging table. Returns the rows.

    Every row's `retailer_id` must be `retailer_id` (keys are scoped per retailer).
    """
    encoder = ArrowToPostgresBinaryEncoder(silver.SCHEMAS[entity])
    stmt = sql.SQL("copy {} ({}) from stdin (format binary)").format(
        stage_table(entity), sql.SQL(", ").join(sql.Identifier(c) for c in ENTITIES[entity]))
    owner = pa.scalar(retailer_id)
    n = stray = 0
    # Not the queued writer: reading and encoding outrun the server here, and its queue
    # (a thousand items, each a whole batch) would grow to the size of the object. Each
    # write waits for the socket instead, which still overlaps with the server's work.
    with ctx.cur.copy(stmt) as copy:
        copy.write(encoder.write_header())
        for batch in batches:
            ours = pc.sum(pc.equal(batch.column("retailer_id"), owner)).as_py() or 0
            stray += batch.num_rows - ours  # a null retailer_id is not ours either
            copy.write(encoder.write_batch(batch))
            n += batch.num_rows
        copy.write(encoder.finish())
    if stray:
        raise PartitionCorrupt(f"{stray} records of another retailer staged in stg_{entity}")
    return n


def copy_lines(ctx: LoadContext, table: str, columns: Iterable[str],
               lines: Iterable[bytes], to_row: Callable[[dict], tuple]) -> int:
    """COPY parsed JSON lines into a staging table. Returns the number of lines written."""
    loads = orjson.loads
    n = 0
    stmt = sql.SQL("copy {} ({}) from stdin").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns))
    # The queued writer sends to the server from a thread of its own while this one parses.
    with ctx.cur.copy(stmt, writer=QueuedLibpqWriter(ctx.cur)) as copy:
        write = copy.write_row
        for line in lines:
            if not line or line.isspace():
                continue
            write(to_row(loads(line)))
            n += 1
    return n


def rejected_row(rec: dict) -> tuple:
    record = rec.get("record")
    return (rec.get("entity") or "unknown", rec.get("reason") or "unknown", rec.get("detail"),
            rec.get("record_key"), rec.get("amount"), rec.get("currency"),
            orjson.dumps(record).decode() if record is not None else None)


def stage_partition(ctx: LoadContext, s3: Any, bucket: str, partition: Partition, *,
                    chunk_bytes: int, verify: bool) -> dict[str, StagedEntity]:
    """Stream every silver and rejected object of the partition into staging."""
    create_staging_tables(ctx)
    staged: dict[str, StagedEntity] = {}
    for entity in ENTITIES:
        st = staged[entity] = StagedEntity()
        for obj in partition.objects("silver", entity):
            read = iter_json_lines_batches if silver.is_json_lines(obj.key) \
                else iter_silver_batches
            batches = read(s3, bucket, obj, entity, chunk_bytes=chunk_bytes, verify=verify)
            n = copy_batches(ctx, entity, batches, partition.retailer_id)
            if verify and obj.records is not None and n != obj.records:
                raise PartitionCorrupt(f"{obj.key}: {n} records, manifest says {obj.records}")
            st.records += n
    rejected = StagedEntity()
    for obj in partition.objects("rejected"):
        lines = iter_object_lines(s3, bucket, obj, chunk_bytes=chunk_bytes, verify=verify)
        rejected.records += copy_lines(ctx, "stg_rejected",
                                       [c for c, _ in REJECTED_COLUMNS], lines, rejected_row)
    staged["rejected"] = rejected
    for entity, st in staged.items():
        if entity != "rejected" and st.records:
            st.duplicates, st.exact_duplicates = drop_duplicates(ctx, entity)
            ctx.execute(sql.SQL("analyze {}").format(stage_table(entity)))
    return staged


def drop_duplicates(ctx: LoadContext, entity: str) -> tuple[int, int]:
    """Keep one record per natural key. Returns how many were dropped, and how many of
    those were exact copies of another record (every field equal).

    Duplicates are rare, so they are found with a hash aggregate and only their rows are
    ranked, instead of sorting the whole table with DISTINCT ON.
    """
    # retailer_id is the same on every staged row (checked while copying)
    natural = [k for k in NATURAL_KEYS[entity] if k != "retailer_id"]
    keys = sql.SQL(", ").join(sql.Identifier(k) for k in natural)
    table = stage_table(entity)
    s_keys = sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(k)) for k in natural)
    # A dropped record is an exact copy when the whole row equals the one its key keeps
    # (the first in KEEP_ORDER); the row comparison treats NULLs as equal.
    dropped, exact = ctx.one(sql.SQL(
        "with dup as (select {keys} from {t} group by {keys} having count(*) > 1), "
        "ranked as (select s.ctid as row_id, "
        "  row_number() over w as rn, s is not distinct from first_value(s) over w as same "
        "  from {t} s where ({s_keys}) in (select {keys} from dup) "
        "  window w as (partition by {s_keys} order by {keep})), "
        "gone as (delete from {t} s using ranked r "
        # by ctid: a TID scan of the dropped rows, not a hash of every staged row's ctid
        "  where s.ctid = any(array(select row_id from ranked where rn > 1)) "
        "  and s.ctid = r.row_id returning r.same) "
        "select count(*), count(*) filter (where same) from gone"
    ).format(keys=keys, t=table, keep=sql.SQL(KEEP_ORDER[entity]), s_keys=s_keys))
    if dropped:
        log.info("dropped %s duplicate %s records (%s exact copies)", dropped, entity, exact)
    return dropped, exact
