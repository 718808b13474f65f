"""CPU seconds per process group, sampled from /proc while a benchmark runs.

A group is one of our stack's processes with its children (its process group: a Celery
worker and its pool, gunicorn and its workers, the S3 server), plus `postgresql`: the
server backends serving the benchmark's databases (found through `pg_stat_activity`), since
PostgreSQL is a shared server whose other sessions are not ours to count.

Each process's `utime + stime` is read every `interval` seconds; a process's last reading
counts, less what it had used when sampling started. A process that starts and ends
between two readings is missed, so short intervals under-count nothing that lives longer
than one interval (connections are pooled, workers are long-lived).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(process group, CPU seconds so far) of a live process, or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the command: state ppid pgrp session ... utime(12) stime(13) in ticks.
    return int(fields[2]), (int(fields[11]) + int(fields[12])) / TICKS


class CpuSampler:
    """Samples CPU per group in a background thread between `start()` and `stop()`.

    Args:
        groups: group name -> process group id (the leader's pid).
        backend_pids: returns the pids of the PostgreSQL backends to count, or None.
        interval: seconds between readings.
    """

    def __init__(self, groups: Mapping[str, int],
                 backend_pids: Callable[[], Iterable[int]] | None = None,
                 interval: float = 0.25) -> None:
        self.groups = {pgid: name for name, pgid in groups.items() if pgid > 0}
        self.backend_pids = backend_pids
        self.interval = interval
        self._first: dict[int, float] = {}
        self._last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def _read(self, first: bool) -> None:
        backends = set(self.backend_pids() if self.backend_pids else ())
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            stat = _stat(pid)
            if stat is None:
                continue
            pgid, seconds = stat
            name = "postgresql" if pid in backends else self.groups.get(pgid)
            if name is None:
                continue
            if first:
                self._first[pid] = seconds
            self._last[pid] = (name, seconds)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._read(first=False)
            except Exception:  # noqa: BLE001 - a reading lost is a reading lost, not a failure
                continue

    def start(self) -> CpuSampler:
        self._read(first=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, float]:
        """CPU seconds per group since `start()`."""
        self._stop.set()
        self._thread.join()
        self._read(first=False)
        totals: dict[str, float] = {}
        for pid, (name, seconds) in self._last.items():
            totals[name] = totals.get(name, 0.0) + seconds - self._first.get(pid, 0.0)
        return {name: round(v, 1) for name, v in sorted(totals.items())}
