"""Faults of an event source, drawn deterministically from the seed and the date, the way
the REST retailers' chaos is configured (rates in settings; RETAILER4_* variables).

- duplicate_rate: the same event (same event_id) published twice;
- out_of_order_rate: an event published ahead of its place (a shipment before its payment);
- late_rate: an event held back and published after all others of the replay (hours or
  days after its event_timestamp);
- burst_size: in live mode, events go out in bursts of this size, then a pause;
- unknown_version_rate: an extra event with an event_version nobody knows (quarantined);
- undecodable_rate: an extra message that is not JSON (quarantined).
Extra messages never replace a real event: the day's control totals stay the truth.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StreamChaos:
    duplicate_rate: float = 0.0
    out_of_order_rate: float = 0.0
    late_rate: float = 0.0
    burst_size: int = 0
    unknown_version_rate: float = 0.0
    undecodable_rate: float = 0.0

    @property
    def quiet(self) -> bool:
        return not (self.duplicate_rate or self.out_of_order_rate or self.late_rate
                    or self.unknown_version_rate or self.undecodable_rate)


@dataclass(frozen=True)
class Plan:
    """Where each event goes: publish order, which are doubled, which come late, and how
    many bad messages are added (at which positions)."""

    order: list[int]
    duplicated: set[int]
    late: list[int]
    unknown_version_at: list[int]
    undecodable_at: list[int]


def plan(n: int, chaos: StreamChaos, seed: int, day: dt.date) -> Plan:
    r = np.random.default_rng([seed & 0xFFFF_FFFF, 4, 99, day.toordinal()])
    keys = np.arange(n, dtype=float)
    moved = r.random(n) < chaos.out_of_order_rate
    # moved events jump 5-200 places ahead of where they belong
    keys[moved] -= r.integers(5, 200, int(moved.sum()))
    late_mask = r.random(n) < chaos.late_rate
    order = [int(i) for i in np.argsort(keys, kind="stable") if not late_mask[i]]
    late = [int(i) for i in np.flatnonzero(late_mask)]
    duplicated = {int(i) for i in np.flatnonzero(r.random(n) < chaos.duplicate_rate)}
    unknown = sorted(int(i) for i in r.integers(0, max(n, 1),
                                                r.binomial(n, chaos.unknown_version_rate)))
    bad = sorted(int(i) for i in r.integers(0, max(n, 1),
                                            r.binomial(n, chaos.undecodable_rate)))
    return Plan(order, duplicated, late, unknown, bad)
