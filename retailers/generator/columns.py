"""Turn the generator's neutral arrays into a retailer's column values, vectorized: its
id formats, codes, status words and UUIDs, ready for binary COPY (retailers.core.pgcopy)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retailers.generator.calendar import Stream, rng


def micros(seconds: np.ndarray) -> np.ndarray:
    """Binary timestamp/timestamptz: microseconds since 2000-01-01 (UTC)."""
    return seconds.astype(np.int64) * 1_000_000


def padded_codes(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """`prefix` + the number zero-padded to `width` digits (`NW-000123`), as bytes."""
    digits = np.char.zfill(numbers.astype(np.int64).astype(f"S{width}"), width)
    if len(numbers) and np.char.str_len(digits).max() > width:
        raise ValueError(f"a number does not fit in {width} digits")
    return np.char.add(prefix.encode(), digits)


def number_codes(numbers: np.ndarray, offset: int = 0) -> np.ndarray:
    """Numeric-string references (`"40000123"`), as bytes."""
    return (numbers.astype(np.int64) + offset).astype("S20")


def words(vocabulary: Sequence[str], codes: np.ndarray, first_code: int = 1) -> np.ndarray:
    """The word for each code (`1 -> "paid"`), as UTF-8 bytes."""
    table = np.array([w.encode() for w in vocabulary])
    return table[codes.astype(np.int64) - first_code]


def constant(text: str, n: int) -> np.ndarray:
    return np.full(n, text.encode(), dtype=f"S{len(text.encode())}")


def random_uuids(seed: int, retailer_no: int, day_index: int, kind: int, n: int) -> np.ndarray:
    """Version-4 UUIDs drawn from the day's own stream: the same every time a date is
    seeded, whatever else was seeded."""
    raw = rng(seed, retailer_no, Stream.IDS, day_index, kind).integers(
        0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40   # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80   # RFC 4122 variant
    return raw.view("V16").ravel()
