"""Replay: re-transform a date from its stored silver objects, without asking the retailers.

A replay is a run of kind `replay` with one transform step per retailer (and the quality
step). Each load reads the latest manifest recorded for its retailer and date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Engine

from services.transformation.manifest import retailers_with_manifest
from services.transformation.settings import get_replay_settings
from shared import ops
from shared.db import get_engine


class NoStoredPartition(Exception):
    """The date (or a requested retailer of it) was never landed: nothing to replay."""

    def __init__(self, run_date: dt.date, missing: Sequence[str]) -> None:
        which = ", ".join(missing) if missing else "any retailer"
        super().__init__(f"no stored partition of {which} for {run_date}")
        self.run_date = run_date
        self.missing = list(missing)


def replay_date(run_date: dt.date | str, retailers: Sequence[str] | None = None, *,
                engine: Engine | None = None, requested_by: str | None = None,
                send: bool = True) -> str:
    """Create a replay run for the date and queue one load per retailer.

    Args:
        run_date: the UTC day to re-transform.
        retailers: the retailers to replay (default: every retailer with a manifest).
        send: send the load tasks after the run is committed.
    Returns:
        The replay run's id.
    Raises:
        NoStoredPartition: no manifest for the date, or for a requested retailer.
        shared.ops.ActiveRunExists: the date already has an active run.
    """
    day = run_date if isinstance(run_date, dt.date) else dt.date.fromisoformat(str(run_date))
    with (engine or get_engine()).begin() as conn:
        stored = retailers_with_manifest(conn, day)
        wanted = list(dict.fromkeys(retailers)) if retailers else stored
        missing = [r for r in wanted if r not in stored]
        if not wanted or missing:
            raise NoStoredPartition(day, missing)
        run_id = ops.create_run(conn, day, wanted, kind="replay", requested_by=requested_by,
                                max_attempts=get_replay_settings().step_max_attempts)
        steps = [ops.StepRef(run_id, "transform", r, day) for r in wanted]
        ops.mark_queued(conn, steps)
    if send:
        ops.send_steps(steps)
    return run_id
