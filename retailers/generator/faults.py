"""The faults real partner feeds have, injected at `fault_rate` per kind.

Each kind draws from the day's fault stream in a fixed order, so one kind's rate never
shifts another's draws. Missing emails are master data (see master.py); the rest are here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retailers.generator.calendar import MAX_LINES_PER_ORDER


@dataclass(frozen=True)
class LineFaults:
    """Which lines get which fault (boolean masks over the day's lines)."""

    negative_qty: np.ndarray
    bad_total: np.ndarray
    unknown_sku: np.ndarray
    duplicate: np.ndarray
    total_delta: np.ndarray     # int64 cents added to a bad total (never 0)

    @classmethod
    def draw(cls, r: np.random.Generator, n_lines: int, rate: float) -> LineFaults:
        negative = r.random(n_lines) < rate
        bad = r.random(n_lines) < rate
        unknown = r.random(n_lines) < rate
        duplicate = r.random(n_lines) < rate
        delta = r.integers(1, 500, n_lines) * np.where(r.random(n_lines) < 0.5, -1, 1)
        return cls(negative, bad, unknown, duplicate, delta.astype(np.int64))


def unknown_products(r: np.random.Generator, count: int, catalog_size: int) -> np.ndarray:
    """Product numbers that look like the retailer's own but are not in its catalog."""
    return (catalog_size + 1 + r.integers(0, 9 * catalog_size + 1, count)).astype(np.int32)


def duplicate_slot(line_no: np.ndarray) -> np.ndarray:
    """The line-key slot of a line's duplicate (8-15, next to the originals' 0-7)."""
    return (MAX_LINES_PER_ORDER + line_no.astype(np.int64) - 1)


def late_days(r: np.random.Generator, n_events: int, rate: float) -> np.ndarray:
    """Days each event is reported after it happened: 0, or 1-3 for a late change."""
    late = r.random(n_events) < rate
    return np.where(late, r.integers(1, 4, n_events), 0).astype(np.int32)
