"""PostgreSQL COPY in its binary format, built from and parsed into numpy arrays.

A COPY BINARY stream of fixed-width columns is one numpy structured array: a field count
and, per column, a length and a big-endian value. Building it is a few vectorized
assignments, so a million rows cost no Python per row.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
HEADER = SIGNATURE + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)
COPY_CHUNK = 1 << 20

# numpy kinds -> big-endian wire type. The staging table's column types give the meaning:
# int8 seconds*1e6 for timestamptz, int4 days for date.
_WIRE = {np.dtype(np.int16): ">i2", np.dtype(np.int32): ">i4", np.dtype(np.int64): ">i8",
         np.dtype(np.float64): ">f8", np.dtype(np.bool_): "?"}


def binary_copy_buffer(columns: Sequence[np.ndarray]) -> bytes:
    """The COPY BINARY bytes for rows made of `columns` (equal lengths, no NULLs)."""
    n = len(columns[0]) if columns else 0
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for i, col in enumerate(columns):
        if len(col) != n:
            raise ValueError("columns differ in length")
        fields += [(f"len{i}", ">i4"), (f"val{i}", _WIRE[col.dtype])]
    rows = np.empty(n, dtype=np.dtype(fields))
    rows["count"] = len(columns)
    for i, col in enumerate(columns):
        rows[f"len{i}"] = col.dtype.itemsize
        rows[f"val{i}"] = col
    return HEADER + rows.tobytes() + TRAILER


def copy_in(cur, table: str, columns: Mapping[str, np.ndarray]) -> int:
    """COPY numpy columns into `table` (binary). Returns the number of rows."""
    names = ", ".join(columns)
    data = binary_copy_buffer(list(columns.values()))
    cur.copy_expert(f"copy {table} ({names}) from stdin with (format binary)",
                    io.BytesIO(data), size=COPY_CHUNK)
    return len(next(iter(columns.values()))) if columns else 0


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
