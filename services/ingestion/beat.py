"""Celery beat that leaves proof of its ticks, and the healthcheck that reads it.

A file that exists proves nothing about a scheduler: beat can hang, lose its broker or stop
sending while the file stays. `HeartbeatScheduler` writes, after each task it has handed to
the broker, which entry it sent and when, next to its schedule file. The healthcheck

    python -m services.ingestion.beat /tmp/celerybeat-schedule --max-age 60

fails when no entry was sent within `--max-age` seconds. The backfill slots entry is due
every 10 s, so a live beat refreshes the proof many times a minute.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import orjson
from celery.beat import PersistentScheduler, ScheduleEntry


def heartbeat_path(schedule_filename: str) -> Path:
    """Where the proof of `schedule_filename`'s scheduler lives."""
    return Path(f"{schedule_filename}.sent")


class HeartbeatScheduler(PersistentScheduler):
    """A PersistentScheduler that records each entry it sent (`-S` of `celery beat`)."""

    def apply_async(self, entry: ScheduleEntry, producer: Any = None, advance: bool = True,
                    **kwargs: Any) -> Any:
        # Raises when the broker refuses the message: only a sent entry is recorded.
        result = super().apply_async(entry, producer, advance, **kwargs)
        self._record(entry.name)
        return result

    def _record(self, name: str) -> None:
        path = heartbeat_path(self.schedule_filename)
        body = {"entry": name, "sent_at": dt.datetime.now(dt.UTC).isoformat()}
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(orjson.dumps(body))
        # A rename, so the healthcheck never reads half a file.
        os.replace(tmp, path)


def last_sent(schedule_filename: str) -> tuple[str, dt.datetime] | None:
    """The entry beat sent last and when, or None when it has sent nothing yet."""
    try:
        body = orjson.loads(heartbeat_path(schedule_filename).read_bytes())
    except FileNotFoundError:
        return None
    return body["entry"], dt.datetime.fromisoformat(body["sent_at"])


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when beat sent a task within `--max-age` seconds, 1 otherwise (a healthcheck)."""
    parser = argparse.ArgumentParser(prog="python -m services.ingestion.beat",
                                     description=main.__doc__)
    parser.add_argument("schedule", help="beat's schedule file (its -s option)")
    parser.add_argument("--max-age", type=float, default=60.0,
                        help="seconds since the last sent entry (default 60)")
    args = parser.parse_args(argv)
    sent = last_sent(args.schedule)
    if sent is None:
        sys.stderr.write("beat has sent no task yet\n")
        return 1
    name, at = sent
    age = (dt.datetime.now(dt.UTC) - at).total_seconds()
    if age > args.max_age:
        sys.stderr.write(f"beat last sent {name!r} {age:.0f}s ago "
                         f"(more than {args.max_age:.0f}s)\n")
        return 1
    sys.stdout.write(f"beat sent {name!r} {age:.1f}s ago\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
