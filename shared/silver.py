"""The silver format: canonical records as typed Parquet, one schema per entity.

Normalizers produce canonical records (`shared.canonical`: keys as strings, timestamps as
`...Z` strings, money as two-place decimal strings). Silver stores the same fields typed:
timestamps as UTC microseconds, money as `decimal(12, 2)`, counts as 32-bit integers, so
that staging copies them into PostgreSQL in its binary format without parsing text, and
any Parquet reader (DuckDB, Spark, pandas) sees the types. The field order is
`ENTITIES`' and the column order of the staging tables.

A page's records become a small Arrow batch of the canonical strings (`page_batch`, in the
normalizing thread: the one step here that costs Python time per value, about 2 s per
million order lines); batches are cast to the typed schema a row group at a time
(`typed_table`, in Arrow's C++ code, which validates every value: a value the type cannot
hold exactly is an error, never a rounding).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from shared.canonical import ENTITIES, utc_iso

CONTENT_TYPE = "application/vnd.apache.parquet"
COMPRESSION = "zstd"
# Silver written before it was Parquet (up to 2026-12-03): gzipped JSON lines of the same
# canonical records, under keys with this suffix. Staging still reads them.
JSON_LINES_SUFFIX = ".jsonl.gz"

MONEY = pa.decimal128(12, 2)
TIMESTAMP = pa.timestamp("us", tz="UTC")
# Typed fields; every other canonical field is a string.
FIELD_TYPES: dict[str, pa.DataType] = {
    "line_number": pa.int32(), "quantity": pa.int32(),
    "created_at": TIMESTAMP, "valid_from": TIMESTAMP, "occurred_at": TIMESTAMP,
    "list_price": MONEY, "unit_price": MONEY, "discount": MONEY, "line_total": MONEY,
    "order_total": MONEY,
}
# The same fields as normalizers produce them: timestamps and money still strings.
_CANONICAL_TYPES = {f: t for f, t in FIELD_TYPES.items() if pa.types.is_integer(t)}


def _schema(entity: str, types: dict[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(f, types.get(f, pa.string())) for f in ENTITIES[entity]])


SCHEMAS: dict[str, pa.Schema] = {e: _schema(e, FIELD_TYPES) for e in ENTITIES}
_PAGE_SCHEMAS: dict[str, pa.Schema] = {e: _schema(e, _CANONICAL_TYPES) for e in ENTITIES}


class SilverValueError(ValueError):
    """A canonical value that the silver type cannot hold (a normalizer's bug)."""


def page_batch(entity: str, records: Sequence[dict[str, Any]]) -> pa.RecordBatch:
    """A page's canonical records as one Arrow batch, values still in canonical form."""
    return pa.RecordBatch.from_pylist(list(records), schema=_PAGE_SCHEMAS[entity])


def typed_table(entity: str, batches: Iterable[pa.RecordBatch]) -> pa.Table:
    """Page batches as one table of the entity's silver schema.

    Raises:
        SilverValueError: a value does not fit its type (a third decimal place, say).
    """
    table = pa.Table.from_batches(list(batches), schema=_PAGE_SCHEMAS[entity])
    try:
        return table.cast(SCHEMAS[entity])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SilverValueError(f"{entity}: {exc}") from exc


def is_json_lines(key: str) -> bool:
    """Whether a silver object's key is of the format before Parquet."""
    return key.endswith(JSON_LINES_SUFFIX)


def writer(sink: Any, entity: str) -> pq.ParquetWriter:
    """A Parquet writer of the entity's schema on a binary file-like `sink`."""
    return pq.ParquetWriter(sink, SCHEMAS[entity], compression=COMPRESSION)


def parquet_bytes(entity: str, records: Sequence[dict[str, Any]]) -> bytes:
    """Canonical records as one whole silver object (tests, benchmarks, small tools)."""
    sink = io.BytesIO()
    with writer(sink, entity) as out:
        if records:
            out.write_table(typed_table(entity, [page_batch(entity, records)]))
    return sink.getvalue()


def open_object(source: BinaryIO | bytes, entity: str) -> pq.ParquetFile:
    """A silver object, its schema checked against the entity's.

    Raises:
        ValueError: not Parquet, or not this entity's schema.
    """
    try:
        parquet = pq.ParquetFile(pa.BufferReader(source) if isinstance(source, bytes)
                                 else source)
    except pa.ArrowException as exc:
        raise ValueError(f"not a Parquet object: {exc}") from exc
    if not parquet.schema_arrow.equals(SCHEMAS[entity]):
        raise ValueError(f"schema {parquet.schema_arrow} is not the silver schema of {entity}")
    return parquet


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return utc_iso(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def canonical_records(source: BinaryIO | bytes, entity: str) -> Iterator[dict[str, Any]]:
    """A silver object's records back in canonical form (strings for time and money)."""
    for batch in open_object(source, entity).iter_batches():
        for record in batch.to_pylist():
            yield {f: _canonical(v) for f, v in record.items()}
