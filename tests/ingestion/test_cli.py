"""What `retail run` calls (cli.py): start runs like POST /runs, follow them to the end."""

from __future__ import annotations

import datetime as dt
import io
import threading

import pytest
from rich.console import Console

from services.ingestion.cli import follow_runs, run_dates
from shared import ops


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=160, force_terminal=False), out


def test_run_dates_queues_like_post_runs(clean_warehouse, ingestion_queue):
    console, out = _console()
    statuses = run_dates(date=dt.date(2024, 1, 15), retailers=["retailer2"], wait=False,
                         console=console)
    [(run_id, status)] = statuses.items()
    assert status == "running"
    assert ingestion_queue() == [("ingestion.ingest_partition", {
        "v": "1.0", "run_id": run_id, "retailer_id": "retailer2", "run_date": "2024-01-15"})]
    assert run_id in out.getvalue()


def test_run_dates_explains_a_refusal(clean_warehouse, ingestion_queue):
    console, out = _console()
    run_dates(date=dt.date(2024, 1, 15), wait=False, console=console)
    with pytest.raises(SystemExit) as exit_:
        run_dates(date=dt.date(2024, 1, 15), wait=False, console=console)
    assert exit_.value.code == 2
    assert "already has an active run" in out.getvalue()
    with pytest.raises(SystemExit):
        run_dates(start=dt.date(2024, 1, 1), end=dt.date(2024, 6, 1), console=console)
    assert "at most 31" in out.getvalue()


def test_follow_runs_shows_progress_until_the_runs_end(clean_warehouse, ingestion_queue):
    engine = clean_warehouse
    console, out = _console()
    statuses = run_dates(start=dt.date(2024, 1, 10), end=dt.date(2024, 1, 12),
                         retailers=["retailer1"], wait=False, console=console)
    first, second, third = statuses
    day = dt.date(2024, 1, 10)
    ref = ops.StepRef(first, "ingest", "retailer1", day)
    with engine.begin() as conn:
        ops.claim_step(conn, ref, lease_seconds=60, task_id="t")
        ops.heartbeat(conn, ref, {"pages": 7, "records": 12345, "resource": "order-lines"},
                      lease_seconds=60)

    def finish_all_later():
        # while the CLI follows: the first date ends, freeing a slot the CLI fills itself
        with engine.begin() as conn:
            ops.finish_run(conn, first, "succeeded")
        for run_id in (second, third):
            threading.Event().wait(1.5)
            with engine.begin() as conn:
                ops.finish_run(conn, run_id, "failed", "test")

    threading.Timer(1.0, finish_all_later).start()
    final = follow_runs([first, second, third], poll_seconds=0.2, timeout=30,
                        console=console, advance_backfill=True)
    assert final == {first: "succeeded", second: "failed", third: "failed"}
    text = out.getvalue()
    assert "2024-01-10 retailer1" in text and "12,345 records" in text
    assert "steps" in text
    # the third date was started by the CLI when the first ended (parallelism 2)
    assert any(kw["run_date"] == "2024-01-12" for _, kw in ingestion_queue())
