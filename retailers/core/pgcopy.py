"""PostgreSQL COPY in its binary format, built from and parsed into numpy arrays.

A COPY BINARY stream is rows of: a field count, then per field a length and big-endian
bytes. When every field of a row has a fixed width, a block of rows is one numpy structured
array, so a million rows cost a few vectorized assignments and no Python per row. Text
columns whose values differ in length are written in groups of rows with equal lengths
(a day's status column has five distinct values, so five groups).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
HEADER = SIGNATURE + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)
COPY_CHUNK = 1 << 20

# numpy kinds -> big-endian wire type. The target column's type gives the meaning:
# int8 microseconds since 2000-01-01 for timestamp(tz), int4 days since then for date.
_FIXED = {np.dtype(np.int16): ">i2", np.dtype(np.int32): ">i4", np.dtype(np.int64): ">i8",
          np.dtype(np.float64): ">f8", np.dtype(np.bool_): "?", np.dtype("V16"): "V16"}
NUMERIC_LIMIT = 10**14  # hundredths: |value| < 10^12 fits the four base-10000 digits below


@dataclass(frozen=True)
class Numeric:
    """Integer hundredths (cents) written as a `numeric` with two decimals.

    Binary numeric is base-10000 digits with a weight; always sending four digits
    (weight 2: up to 10^12) keeps the width fixed. PostgreSQL strips the leading zeros.
    """

    hundredths: np.ndarray

    def __len__(self) -> int:
        return len(self.hundredths)


Column = np.ndarray | Numeric


@dataclass(frozen=True)
class CopyTable:
    """Rows for one table, as named columns of equal length."""

    table: str
    columns: Mapping[str, Column]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0


def _fields(i: int, col: Column, text_len: int | None) -> list[tuple[str, str]]:
    if isinstance(col, Numeric):
        return [(f"len{i}", ">i4"), (f"nd{i}", ">i2"), (f"w{i}", ">i2"), (f"sg{i}", ">u2"),
                (f"ds{i}", ">i2"), (f"d{i}_0", ">i2"), (f"d{i}_1", ">i2"), (f"d{i}_2", ">i2"),
                (f"d{i}_3", ">i2")]
    if col.dtype.kind == "S":
        return [(f"len{i}", ">i4")] + ([(f"val{i}", f"S{text_len}")] if text_len else [])
    return [(f"len{i}", ">i4"), (f"val{i}", _FIXED[col.dtype])]


def _fill(rows: np.ndarray, i: int, col: Column, text_len: int | None) -> None:
    if isinstance(col, Numeric):
        v = col.hundredths.astype(np.int64)
        if len(v) and np.abs(v).max() >= NUMERIC_LIMIT:
            raise ValueError("numeric value too large for the fixed encoding")
        a = np.abs(v)
        whole = a // 100
        rows[f"len{i}"] = 16
        rows[f"nd{i}"], rows[f"w{i}"], rows[f"ds{i}"] = 4, 2, 2
        rows[f"sg{i}"] = np.where(v < 0, 0x4000, 0)
        rows[f"d{i}_0"] = whole // 100_000_000
        rows[f"d{i}_1"] = (whole // 10_000) % 10_000
        rows[f"d{i}_2"] = whole % 10_000
        rows[f"d{i}_3"] = (a % 100) * 100
    elif col.dtype.kind == "S":
        rows[f"len{i}"] = text_len
        if text_len:
            rows[f"val{i}"] = col
    else:
        rows[f"len{i}"] = col.dtype.itemsize
        rows[f"val{i}"] = col


def _block(columns: Sequence[Column], text_lens: Sequence[int | None]) -> bytes:
    n = len(columns[0])
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for i, (col, tl) in enumerate(zip(columns, text_lens, strict=True)):
        fields += _fields(i, col, tl)
    rows = np.empty(n, dtype=np.dtype(fields))
    rows["count"] = len(columns)
    for i, (col, tl) in enumerate(zip(columns, text_lens, strict=True)):
        _fill(rows, i, col, tl)
    return rows.tobytes()


def binary_copy_buffer(columns: Sequence[Column]) -> bytes:
    """The COPY BINARY bytes for rows made of `columns` (equal lengths, no NULLs).

    Columns: int16/int32/int64/float64/bool arrays, `V16` (uuid), `S` byte strings
    (text, UTF-8), or Numeric.
    """
    if not columns:
        return HEADER + TRAILER
    n = len(columns[0])
    if any(len(c) != n for c in columns):
        raise ValueError("columns differ in length")
    text_at = [i for i, c in enumerate(columns)
               if not isinstance(c, Numeric) and c.dtype.kind == "S"]
    if not text_at or n == 0:
        return HEADER + _block(columns, [None] * len(columns)) + TRAILER
    lengths = np.stack([np.char.str_len(columns[i]) for i in text_at], axis=1)
    groups, which = np.unique(lengths, axis=0, return_inverse=True)
    parts = [HEADER]
    for g, group_lengths in enumerate(groups):
        pick = np.flatnonzero(which.ravel() == g)
        text_lens: list[int | None] = [None] * len(columns)
        for i, length in zip(text_at, group_lengths.tolist(), strict=True):
            text_lens[i] = length
        sub = [Numeric(c.hundredths[pick]) if isinstance(c, Numeric) else c[pick]
               for c in columns]
        parts.append(_block(sub, text_lens))
    parts.append(TRAILER)
    return b"".join(parts)


def copy_in(cur, table: CopyTable, *, into: str | None = None, freeze: bool = False) -> int:
    """COPY a CopyTable into its table, or into `into` (binary). Returns the number of rows.

    `freeze` writes the rows frozen and all-visible (the table must have been created or
    truncated in the same transaction): no VACUUM is needed before index-only scans.
    """
    names = ", ".join(table.columns)
    data = binary_copy_buffer(list(table.columns.values()))
    options = "format binary, freeze" if freeze else "format binary"
    cur.copy_expert(f"copy {into or table.table} ({names}) from stdin with ({options})",
                    io.BytesIO(data), size=COPY_CHUNK)
    return len(table)


def copy_in_text(cur, table: str, names: Sequence[str], rows: Sequence[Sequence[object]]) -> int:
    """COPY rows of Python values (str, int, None) into `table` (text format).

    Used for the small master tables that carry names; day data goes through `copy_in`.
    """
    buf = io.StringIO()
    for row in rows:
        buf.write("\t".join(_text_value(v) for v in row))
        buf.write("\n")
    buf.seek(0)
    cur.copy_expert(f"copy {table} ({', '.join(names)}) from stdin", buf, size=COPY_CHUNK)
    return len(rows)


def _text_value(value: object) -> str:
    if value is None:
        return "\\N"
    text = str(value)
    if any(ch in text for ch in "\\\t\n\r"):
        text = (text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                .replace("\r", "\\r"))
    return text


def copy_out_int64(cur, query: str) -> np.ndarray:
    """Run a one-column bigint query (already bound) and return its values as an array.

    COPY TO in binary streams the rows without building a Python object per row, which is
    what makes a day's key list of a million rows cost a fraction of a second.
    """
    buf = io.BytesIO()
    cur.copy_expert(f"copy ({query}) to stdout with (format binary)", buf, size=COPY_CHUNK)
    data = buf.getbuffer()
    header = len(SIGNATURE) + 8
    extension = int.from_bytes(data[len(SIGNATURE) + 4:header], "big")
    body = data[header + extension:len(data) - 2]
    rows = np.frombuffer(body, dtype=np.dtype([("count", ">i2"), ("len", ">i4"), ("val", ">i8")]))
    if len(rows) and (rows["len"] != 8).any():
        raise ValueError("copy_out_int64 needs a non-null bigint column")
    return rows["val"].astype(np.int64)
