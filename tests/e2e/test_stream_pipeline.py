"""retailer4 through the whole suite: its events on real NATS JetStream with faults, the
stream consumer process, the ingestion API and the ingestion, transformation and quality
workers; `POST /runs` closes the day (re-requesting what the stream never delivered) and
the marts equal the answers computed from retailer4's own events."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from decimal import Decimal

import httpx
import psycopg2
import pytest
from sqlalchemy import text

from retailers.retailer4 import publisher, world
from retailers.retailer4.chaos import StreamChaos
from suite.processes import ROOT, free_port
from tests.e2e.truth import actual_marts, expected_marts, retailer4_rows
from tests.fixtures.core import api_process, celery_worker, purge_queues, truncate_pipeline_tables
from tests.fixtures.stream import ORDERS_PER_DAY, TOKEN

DAY = dt.date(2024, 3, 4)           # version 2 for orders and payments
MARTS = ("daily_orders", "daily_revenue", "order_funnel", "order_cancellations",
         "fulfillment_times")
SUCCESS = ("succeeded", "succeeded_with_warnings")


def test_a_streamed_day_closes_against_the_source_and_the_marts_equal_its_events(
        engine, s3, redis_db, settings, nats_url, stream_names, retailer4_url):
    truncate_pipeline_tables(engine)
    purge_queues()
    env = {"RETAILER4_URL": retailer4_url, "STREAM_CLOSE_POLL_SECONDS": "0.2"}
    port = free_port()
    procs = [api_process("ingestion", port, name="e2e-stream-ingestion-api"),
             *(celery_worker(f"services.{name}.tasks", [name], name=f"e2e-stream-{name}",
                             env=env) for name in ("ingestion", "transformation", "quality"))]
    master = world.master(world.volumes(42, 400, 3000, 12, 0.01, 0.02, 0.002))
    events = world.day_events(master, DAY, ORDERS_PER_DAY)
    target = publisher.StreamTarget(nats_url, stream_names["stream"], stream_names["prefix"])
    chaos = StreamChaos(duplicate_rate=0.05, out_of_order_rate=0.1, late_rate=0.1,
                        unknown_version_rate=0.01, undecodable_rate=0.01)
    msgs, late, report = publisher.build_messages(events, DAY, prefix=stream_names["prefix"],
                                                  v2_from=dt.date(2024, 3, 1), chaos=chaos,
                                                  seed=42)
    assert late
    publisher.publish(target, msgs)   # the late events never come by themselves
    consumer = subprocess.Popen(
        [sys.executable, "-m", "services.ingestion.stream.consumer"], cwd=ROOT,
        env={**os.environ, "STREAM_NATS_URL": nats_url, "STREAM_STREAM": stream_names["stream"],
             "STREAM_SUBJECTS": f"{stream_names['prefix']}.>",
             "STREAM_DURABLE": stream_names["durable"], "RETAILER4_URL": retailer4_url,
             "RETAILER4_API_TOKEN": TOKEN},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.wait_healthy(90)
        resp = httpx.post(f"http://127.0.0.1:{port}/runs",
                          json={"date": DAY.isoformat(), "retailers": ["retailer4"]},
                          headers={"Authorization":
                                   f"Bearer {settings.pipeline_api_token.get_secret_value()}"},
                          timeout=30)
        assert resp.status_code == 202, resp.text
        run_id = resp.json()["run_id"]
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            run = httpx.get(f"http://127.0.0.1:{port}/runs/{run_id}", timeout=30).json()
            if run["status"] in (*SUCCESS, "failed"):
                break
            time.sleep(0.5)
        assert run["status"] in SUCCESS, run
    finally:
        consumer.terminate()
        consumer.wait(30)
        for proc in procs:
            proc.stop()
        purge_queues()

    with engine.connect() as conn:
        checks = dict(conn.execute(text(
            "select check_name, status from quality.check_result where run_id = :r "
            "and retailer_id = 'retailer4'"), {"r": run_id}).all())
        counts = conn.execute(text(
            "select counts from ops.run_step where run_id = :r and step = 'ingest'"),
            {"r": run_id}).scalar()
    assert checks["stream_complete"] == checks["reconcile_line_count"] == "pass"
    assert checks["reconcile_amount"] == "pass"
    assert counts["stream"] == {"events": len(events), "missing": 0, "replays": 1}

    warehouse = psycopg2.connect(settings.database_url)
    try:
        expected = expected_marts(warehouse, {}, DAY, DAY, extra=retailer4_rows(events))
        actual = actual_marts(warehouse, DAY, MARTS)
    finally:
        warehouse.close()
    for mart in MARTS:
        for rid in ("retailer4", "ALL"):
            for column, value in expected[mart][rid].items():
                got = actual[mart][rid][column]
                if isinstance(value, Decimal | float) or isinstance(got, Decimal):
                    value = None if value is None else Decimal(str(value))
                assert got == value, f"{mart}.{column} for {rid}: {got} != {value}"


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
