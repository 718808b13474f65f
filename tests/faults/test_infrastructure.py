"""Scenarios 4 and 6 of issue #14: the broker restarted mid-run (losing what it held), and
the S3 server failing writes and restarted mid-run. Both servers are private to the test:
a `redis-server` on a free port, an S3 server on a free port behind a fault proxy."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from suite.processes import ManagedProcess, free_port
from tests.faults.harness import assert_exact, report, running_suite, wait_until
from tests.faults.s3proxy import FaultProxy
from tests.fixtures.core import LOG_DIR, lake_server

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def slow_retailer1_ingest(suite, retailer_chaos, day: dt.date) -> str:
    """Start a run whose retailer1 partition takes several seconds; returns once it is
    half-way (running, some pages written)."""
    retailer_chaos.set_chaos("retailer1", slow_rate=1.0, slow_seconds=0.3)
    run_id = suite.post_run(day)
    wait_until(lambda: suite.step_status(run_id, "ingest", "retailer1") == "running",
               what="retailer1's ingest to start")
    time.sleep(1.5)
    assert suite.step_status(run_id, "ingest", "retailer1") == "running"
    return run_id


def test_redis_restarted_mid_run(settings, empty_pipeline, retailer_chaos, fresh_day,
                                 tmp_path) -> None:
    port = free_port()
    # No persistence: a restart loses every queued and unacknowledged message, the worst case.
    redis = ManagedProcess("faults-redis", ["redis-server", "--port", str(port), "--bind",
                                            "127.0.0.1", "--save", "", "--appendonly", "no",
                                            "--dir", str(tmp_path)], port=port, log_dir=LOG_DIR)
    redis.start().wait_healthy(15)
    try:
        with running_suite(settings, "faults-redis",
                           {"REDIS_URL": f"redis://127.0.0.1:{port}/0"}) as suite:
            day = fresh_day(dt.date(2024, 4, 15))
            run_id = slow_retailer1_ingest(suite, retailer_chaos, day)
            redis.stop()
            down_at = time.monotonic()
            time.sleep(2)
            redis.start().wait_healthy(15)
            retailer_chaos.reset_chaos("retailer1", wait=False)
            run = suite.wait(run_id)
            done = time.monotonic() - down_at
            totals = assert_exact(suite, retailer_chaos.database_urls, run_id, day)
    finally:
        redis.stop()
    report("4 Redis restarted mid-run (no persistence)", run_end_after_restart_s=round(done, 1),
           status=run["status"], **{f"{rid}_lines": t["lines"] for rid, t in totals.items()})


def test_s3_failing_writes_and_restarted_mid_run(settings, empty_pipeline, retailer_chaos,
                                                 fresh_day, tmp_path) -> None:
    s3_port, proxy_port = free_port(), free_port()
    server = lake_server(settings, port=s3_port, data_dir=tmp_path / "lake", name="faults-s3")
    server.start().wait_healthy(30)
    proxy = FaultProxy(s3_port, proxy_port).start()
    try:
        with running_suite(settings, "faults-s3",
                           {"S3_ENDPOINT_URL": f"http://127.0.0.1:{proxy_port}"}) as suite:
            day = fresh_day(dt.date(2024, 4, 22))
            proxy.fail_writes = 0.2  # a fifth of PUTs and POSTs: 500 or a reset
            run_id = slow_retailer1_ingest(suite, retailer_chaos, day)
            server.stop()
            down_at = time.monotonic()
            time.sleep(2)
            server.start().wait_healthy(30)
            retailer_chaos.reset_chaos("retailer1", wait=False)
            run = suite.wait(run_id)
            done = time.monotonic() - down_at
            totals = assert_exact(suite, retailer_chaos.database_urls, run_id, day)
    finally:
        proxy.stop()
        server.stop()
    seen = dict(proxy.seen)
    assert seen.get("injected_500", 0) > 0 and seen.get("injected_reset", 0) > 0, seen
    report("6 S3 failing 20% of writes (500 or reset) and restarted mid-run",
           run_end_after_restart_s=round(done, 1), status=run["status"],
           injected_500=seen.get("injected_500"), injected_reset=seen.get("injected_reset"),
           refused_while_down=seen.get("server_down", 0),
           **{f"{rid}_lines": t["lines"] for rid, t in totals.items()})
