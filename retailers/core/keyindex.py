"""Per-worker cache of a day's keys in page order, so offset and page-number requests are
key lookups instead of `OFFSET n` scans.

An offset page deep into a 900k-line day would make PostgreSQL walk every row before it;
with the keys of the day listed once (one COPY, a fraction of a second), page N is a slice
of an array and one indexed fetch. Entries are keyed by the data version, so a reseed (which
bumps it) is seen within the runtime state's refresh interval.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np


class KeyIndexCache:
    """A small LRU of key arrays."""

    def __init__(self, capacity: int = 8) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[tuple[Hashable, int], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: int, load: Callable[[], np.ndarray]) -> np.ndarray:
        """The cached keys for (key, version), loading them when missing."""
        entry = (key, version)
        with self._lock:
            found = self._entries.get(entry)
            if found is not None:
                self._entries.move_to_end(entry)
                return found
        keys = load()  # outside the lock: one slow day does not block the others
        with self._lock:
            self._entries[entry] = keys
            self._entries.move_to_end(entry)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
        return keys
