"""The fault suite's harness: the suite's real processes, and what every scenario must end
with (issue #14).

Each scenario starts the ingestion API and the three Celery workers as real processes, plus
Celery beat (the sweeper re-sends steps whose worker vanished), injects one fault while a
date runs, and then proves the same four things:

- the warehouse equals answers computed from the retailers' own databases
  (tests/e2e/truth.py): every mart, exact counts, money to the cent, and per retailer the
  fact lines and their total in the retailer's currency;
- no natural key is stored twice (order lines, orders);
- every step of the run finished (`succeeded`), and no run is left queued or running;
- how long the suite took to get back to work after the fault (reported, and bounded).

Leases are short here (STEP_LEASE_SECONDS=8, the sweeper every 2 s), as the existing
transformation-kill test does, until the step runner's short leases and heartbeats are the
default.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

import psycopg2
import pytest

from suite.processes import ManagedProcess, free_port
from tests.e2e.client import SUCCESS, RunClient
from tests.e2e.truth import CURRENCY, assert_marts_match, source_rows
from tests.fixtures.core import LOG_DIR, celery_worker

RETAILERS = ("retailer1", "retailer2", "retailer3")
# Short leases and a frequent sweeper, so a vanished worker's step is re-sent in seconds.
LEASE_SECONDS = 8
FAULT_ENV = {
    "STEP_LEASE_SECONDS": str(LEASE_SECONDS),
    "SWEEPER_INTERVAL_SECONDS": "2",
    # Small pages: a partition is several requests, so a fault can land in its middle.
    "INGESTION_PAGE_SIZE": "25",
    "STEP_RETRY_DELAY_SECONDS": "1",
}


@dataclass
class FaultSuite(RunClient):
    """The running processes of one scenario module, and how to talk to them."""

    database_url: str = ""
    procs: dict[str, ManagedProcess] = field(default_factory=dict)

    def step_status(self, run_id: str, step: str, retailer_id: str) -> str | None:
        with self.db() as cur:
            cur.execute("select status from ops.run_step where run_id = %s and step = %s "
                        "and retailer_id = %s", (run_id, step, retailer_id))
            row = cur.fetchone()
        return row[0] if row else None

    @contextmanager
    def db(self) -> Iterator:
        conn = psycopg2.connect(self.database_url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                yield cur
        finally:
            conn.close()

    def kill(self, name: str) -> None:
        """SIGKILL a process and its whole group (its pool children): no clean shutdown."""
        proc = self.procs[name].proc
        assert proc is not None and proc.poll() is None, f"{name} is not running"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def restart(self, name: str) -> None:
        self.procs[name].start().wait_healthy(90)


def wait_until(predicate, timeout: float = 90, interval: float = 0.1, what: str = "") -> float:
    """Poll until true; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what or predicate}")


@contextmanager
def running_suite(settings, name: str, env: Mapping[str, str] | None = None,
                  ingestion_concurrency: int = 2) -> Iterator[FaultSuite]:
    """The ingestion API, three workers and beat, as real processes with `env` on top of
    the test environment. Stops them all at the end."""
    env = {**FAULT_ENV, **(env or {})}
    port = free_port()
    api = ManagedProcess(
        f"{name}-ingestion-api",
        ["uvicorn", "services.ingestion.api:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port)],
        port=port, health_url=f"http://127.0.0.1:{port}/livez", log_dir=LOG_DIR, env=env)
    schedule = LOG_DIR / f"{name}-celerybeat-schedule"
    schedule.unlink(missing_ok=True)
    beat = ManagedProcess(
        f"{name}-beat", ["celery", "-A", "services.ingestion.schedule:celery_app", "beat",
                         "-s", str(schedule), "-l", "INFO"], log_dir=LOG_DIR, env=env)
    procs = {"api": api, "beat": beat}
    for service in ("ingestion", "transformation", "quality"):
        procs[service] = celery_worker(
            f"services.{service}.tasks", [service], name=f"{name}-{service}", env=dict(env),
            concurrency=ingestion_concurrency if service == "ingestion" else 1)
    # The scenarios break the REST retailers' sources and the infrastructure under them;
    # they ask for those retailers (retailer5's files: tests/ingestion/test_files.py).
    suite = FaultSuite(f"http://127.0.0.1:{port}", settings.pipeline_api_token
                       .get_secret_value(), retailers=RETAILERS,
                       database_url=settings.database_url, procs=procs)
    try:
        for proc in procs.values():
            proc.start()
        for proc in procs.values():
            proc.wait_healthy(90)
        yield suite
    finally:
        for proc in procs.values():
            proc.stop()


def assert_exact(suite: FaultSuite, database_urls: Mapping[str, str], run_id: str,
                 day: dt.date, known: dt.date | None = None, **drop) -> dict:
    """The four things every scenario ends with; returns lines and money per retailer.

    `known`: the last date run so far (late lifecycle changes of `day` reported up to it
    are in the warehouse); `day` itself by default. `drop`: `drop_orders`/`drop_lines` of
    tests/e2e/truth.py, records the test poisoned on their way.
    """
    known = known or day
    run = suite.get_run(run_id)
    assert run["status"] in SUCCESS, run
    with suite.db() as cur:
        cur.execute("select step, retailer_id, status from ops.run_step where run_id = %s "
                    "and status <> 'succeeded'", (run_id,))
        assert cur.fetchall() == [], "every step of the run finished"
        cur.execute("select run_id, run_date, status from ops.run "
                    "where status in ('queued', 'running')")
        assert cur.fetchall() == [], "no run left running"
        cur.execute("select r.retailer_id, count(*), sum(f.line_total) from warehouse.fact_sales f "
                    "join warehouse.dim_retailer r using (retailer_key) where f.order_date = %s "
                    "group by r.retailer_id", (day,))
        warehouse_lines = {rid: (n, total) for rid, n, total in cur.fetchall()}
        cur.execute("select count(*) from (select 1 from warehouse.fact_sales "
                    "group by retailer_key, lower(trim(order_id)), line_number "
                    "having count(*) > 1) d")
        assert cur.fetchone()[0] == 0, "an order line is stored twice"
        cur.execute("select count(*) from (select 1 from warehouse.fact_orders "
                    "group by retailer_key, lower(trim(order_id)) having count(*) > 1) d")
        assert cur.fetchone()[0] == 0, "an order is stored twice"
    _, lines = source_rows(database_urls, day, known, **drop)
    truth: dict[str, tuple[int, Decimal]] = {}
    for line in lines:
        n, total = truth.get(line["retailer_id"], (0, Decimal("0")))
        truth[line["retailer_id"]] = (n + 1, total + Decimal(str(line["line_total"])))
    for rid in RETAILERS:
        n, total = truth[rid]
        got_n, got_total = warehouse_lines.get(rid, (0, Decimal("0")))
        assert got_n == n, f"{rid}: {got_n} lines in the warehouse, the retailer has {n}"
        assert got_total == total.quantize(Decimal("0.01")), (
            f"{rid}: {got_total} {CURRENCY[rid]} in the warehouse, the retailer has {total}")
    conn = psycopg2.connect(suite.database_url)
    try:
        assert_marts_match(conn, database_urls, day, known, **drop)
    finally:
        conn.close()
    return {rid: {"lines": truth[rid][0], "money": str(truth[rid][1].quantize(Decimal("0.01"))),
                  "currency": CURRENCY[rid]} for rid in RETAILERS}


def report(scenario: str, **facts) -> None:
    """One line per scenario in the log, the numbers docs/reliability.md quotes."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOG_DIR / "faults-report.txt", "a") as out:
        out.write(f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%S} {scenario}: "
                  + ", ".join(f"{k}={v}" for k, v in facts.items()) + "\n")
