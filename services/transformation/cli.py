"""What the operator CLI (`retail replay --date ...`) calls: start a replay, follow it."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence

from rich.console import Console
from sqlalchemy import text

from services.transformation.replay import replay_date
from services.transformation.settings import get_replay_settings
from shared.db import get_engine
from shared.ops import FINAL_RUN_STATUSES, TERMINAL_STEP_STATUSES

console = Console()


def replay(date: dt.date | str, retailers: Sequence[str] | None = None,
           wait: bool = True) -> str:
    """Replay a date from its stored silver objects.

    Args:
        date: the UTC day to re-transform.
        retailers: retailer ids (default: every retailer with a stored partition).
        wait: follow the run until it ends (loads, then the quality verdict).
    Returns:
        The run's status when waiting (`succeeded`, `succeeded_with_warnings`, `failed`,
        or `running` after TRANSFORMATION_REPLAY_WAIT_SECONDS), else `queued`.
    """
    run_id = replay_date(date, retailers, requested_by="cli")
    console.print(f"replay run [bold]{run_id}[/bold] queued for {date}")
    if not wait:
        return "queued"
    return follow(run_id, timeout=get_replay_settings().transformation.replay_wait_seconds)


def follow(run_id: str, *, timeout: float, interval: float = 1.0) -> str:
    """Print each transform step as it ends, then the run's verdict; returns the status."""
    deadline = time.monotonic() + timeout
    reported: set[str] = set()
    status = "running"
    while time.monotonic() < deadline:
        with get_engine().connect() as conn:
            status = conn.execute(text("select status from ops.run where run_id = :r"),
                                  {"r": run_id}).scalar_one()
            steps = conn.execute(text(
                "select retailer_id, status, counts, error from ops.run_step "
                "where run_id = :r and step = 'transform' order by retailer_id"),
                {"r": run_id}).all()
        for step in steps:
            if step.status in TERMINAL_STEP_STATUSES and step.retailer_id not in reported:
                reported.add(step.retailer_id)
                console.print(_describe(step))
        if status in FINAL_RUN_STATUSES:
            console.print(f"run {run_id}: [bold]{status}[/bold]")
            return status
        time.sleep(interval)
    console.print(f"run {run_id} still {status} after {timeout:.0f}s")
    return status


def _describe(step) -> str:
    if step.status != "succeeded":
        return f"  {step.retailer_id}: {step.status} ({step.error})"
    counts = step.counts or {}
    sales = counts.get("fact_sales", {})
    return (f"  {step.retailer_id}: loaded in {counts.get('seconds', 0):.1f}s "
            f"(+{counts.get('marts_seconds', 0):.1f}s marts); fact_sales "
            f"{sales.get('inserted', 0)} new, {sales.get('updated', 0)} updated, "
            f"{sales.get('unchanged', 0)} unchanged")
