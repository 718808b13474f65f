"""retailer4's events through NATS JetStream, the stream consumer, S3 and the
transformation worker into the marts: real NATS, PostgreSQL, S3 server and Celery worker.

Each test ends with the marts equal to answers computed from retailer4's own events.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from decimal import Decimal

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from retailers.retailer4 import publisher, world
from retailers.retailer4.chaos import StreamChaos
from services.ingestion.settings import StreamConsumerSettings, StreamOptions
from services.ingestion.stream.consumer import StreamConsumer
from suite.processes import ROOT
from tests.fixtures.stream import ORDERS_PER_DAY, TOKEN

pytestmark = pytest.mark.usefixtures("clean_warehouse", "clean_bucket")

V1_DAY = dt.date(2024, 2, 29)
V2_DAY = dt.date(2024, 3, 1)          # RETAILER4_V2_FROM's default: orders/payments in v2
SEED = 42


@pytest.fixture(scope="module")
def transformation_worker(start_worker):
    return start_worker("services.transformation.tasks", ["transformation"],
                        name="worker-transformation-stream")


def master() -> world.MasterData:
    return world.master(world.volumes(SEED, 400, 3000, 12, 0.01, 0.02, 0.002))


def publish(names, nats_url, day, chaos=StreamChaos()) -> publisher.PublishReport:
    target = publisher.StreamTarget(nats_url, names["stream"], names["prefix"])
    return publisher.replay_day(target, master(), day, orders_per_day=ORDERS_PER_DAY,
                                v2_from=V2_DAY, chaos=chaos, seed=SEED)


def consumer_settings(names, nats_url, retailer4_url, **stream) -> StreamConsumerSettings:
    os.environ["RETAILER4_API_TOKEN"] = TOKEN
    options = StreamOptions(nats_url=nats_url, stream=names["stream"],
                            subjects=f"{names['prefix']}.>", durable=names["durable"],
                            **{"batch_max_messages": 300, "batch_max_wait_seconds": 0.3,
                               **stream})
    s = StreamConsumerSettings(stream=options)
    s.retailer4.url = retailer4_url
    return s


def consume(settings, idle: float = 2.0) -> StreamConsumer:
    consumer = StreamConsumer(settings)
    asyncio.run(consumer.run(idle_exit_seconds=idle))
    return consumer


def truth(day: dt.date) -> dict[str, object]:
    """The day's answers from retailer4's own events (USD, so no FX)."""
    events = world.day_events(master(), day, ORDERS_PER_DAY)
    lines = [x for e in events if e.event_type == "order_created" for x in e.lines]
    firsts: dict[str, set[str]] = defaultdict(set)
    for e in events:
        firsts[e.event_type].add(e.order_id)
    return {
        "orders_created": len(firsts["order_created"]), "order_lines": len(lines),
        "units_sold": sum(x.quantity for x in lines),
        "gross": Decimal(sum(x.line_total_cents for x in lines)) / 100,
        "paid": len(firsts["payment_captured"]), "shipped": len(firsts["shipment_dispatched"]),
        "delivered": len(firsts["shipment_delivered"]),
    }


def marts(engine, day: dt.date) -> dict[str, object]:
    with engine.connect() as conn:
        o = conn.execute(text(
            "select orders_created, order_lines, units_sold from marts.daily_orders "
            "where order_date = :d and retailer_id = 'retailer4'"), {"d": day}).first()
        r = conn.execute(text(
            "select gross_revenue_usd from marts.daily_revenue "
            "where order_date = :d and retailer_id = 'retailer4'"), {"d": day}).scalar()
        f = conn.execute(text(
            "select orders_paid, orders_shipped, orders_delivered from marts.order_funnel "
            "where order_date = :d and retailer_id = 'retailer4'"), {"d": day}).first()
    if o is None or f is None:
        return {}
    return {"orders_created": o[0], "order_lines": o[1], "units_sold": o[2], "gross": r,
            "paid": f[0], "shipped": f[1], "delivered": f[2]}


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def test_both_versions_with_duplicates_out_of_order_late_and_bad_messages(
        engine, nats_url, stream_names, retailer4_url, transformation_worker):
    chaos = StreamChaos(duplicate_rate=0.05, out_of_order_rate=0.1, late_rate=0.05,
                        unknown_version_rate=0.01, undecodable_rate=0.01)
    r1 = publish(stream_names, nats_url, V1_DAY, chaos)
    r2 = publish(stream_names, nats_url, V2_DAY, chaos)
    assert r1.versions == {"v1": r1.events} and r2.versions.get("v2", 0) > 0
    assert r1.duplicates + r2.duplicates > 0 and r1.late + r2.late > 0
    # published twice: the whole day again (a replay) is all duplicates
    publish(stream_names, nats_url, V1_DAY)
    consume(consumer_settings(stream_names, nats_url, retailer4_url))

    for day in (V1_DAY, V2_DAY):
        assert marts(engine, day) == truth(day), day
    bad = r1.unknown_version + r2.unknown_version + r1.undecodable + r2.undecodable
    assert bad > 0
    assert scalar(engine, "select count(*) from ops.rejected_record "
                          "where retailer_id = 'retailer4'") == bad
    assert scalar(engine, "select count(*) from ops.stream_inbox") == r1.events + r2.events
    assert scalar(engine, "select sum(duplicates) from ops.stream_consumer") \
        == r1.duplicates + r2.duplicates + r1.events
    assert scalar(engine, "select lag_messages from ops.stream_consumer") == 0


def test_consumer_killed_mid_batch_loses_and_doubles_nothing(
        engine, nats_url, stream_names, retailer4_url, transformation_worker, settings):
    publish(stream_names, nats_url, V2_DAY, StreamChaos(duplicate_rate=0.02))
    s = consumer_settings(stream_names, nats_url, retailer4_url, batch_max_messages=100,
                          ack_wait_seconds=3)
    env = {**os.environ, "STREAM_NATS_URL": nats_url, "STREAM_STREAM": s.stream.stream,
           "STREAM_SUBJECTS": s.stream.subjects, "STREAM_DURABLE": s.stream.durable,
           "STREAM_BATCH_MAX_MESSAGES": "100", "STREAM_ACK_WAIT_SECONDS": "3",
           "RETAILER4_URL": retailer4_url, "RETAILER4_API_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-m", "services.ingestion.stream.consumer"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not scalar(
            engine, "select count(*) from ops.stream_batch where status = 'applied'"):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)     # kill -9, mid-way through the day's batches
    proc.wait(10)
    applied_before = scalar(engine, "select count(*) from ops.stream_batch "
                                    "where status = 'applied'")
    assert applied_before >= 1
    assert marts(engine, V2_DAY) != truth(V2_DAY)   # not everything was in yet
    time.sleep(3.5)                       # the unacknowledged messages' ack wait
    consume(s, idle=3.0)
    assert marts(engine, V2_DAY) == truth(V2_DAY)
    assert scalar(engine, "select count(*) from ops.stream_inbox") \
        == len(world.day_events(master(), V2_DAY, ORDERS_PER_DAY))


def test_nothing_blocks_a_stream_of_only_bad_messages(engine, nats_url, stream_names,
                                                      retailer4_url, transformation_worker):
    async def send() -> None:
        import nats

        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        await js.add_stream(name=stream_names["stream"], subjects=[f"{stream_names['prefix']}.>"])
        await js.publish(f"{stream_names['prefix']}.orders.order_created", b"\xff\xfe")
        await js.publish(f"{stream_names['prefix']}.orders.order_created",
                         b'{"event_id": "x", "event_type": "order_created", '
                         b'"event_version": 7}')
        await nc.close()

    asyncio.run(send())
    publish(stream_names, nats_url, V1_DAY)
    consume(consumer_settings(stream_names, nats_url, retailer4_url))
    assert marts(engine, V1_DAY) == truth(V1_DAY)
    reasons = dict(scalar(engine, "select jsonb_object_agg(record_key, reason) "
                                  "from ops.rejected_record") or {})
    assert reasons.get("x") == "malformed_record" and len(reasons) == 2


def test_closing_the_day_re_requests_what_the_stream_lost(
        engine, nats_url, stream_names, retailer4_url, transformation_worker, s3):
    from functools import partial

    from services.ingestion.settings import IngestionWorkerSettings
    from services.ingestion.stream.close import close_day
    from services.transformation.load import load_partition
    from shared import ops
    from shared.db import transaction
    from shared.steps import run_step

    events = world.day_events(master(), V1_DAY, ORDERS_PER_DAY)
    lost = {e.event_id for e in events[::7]}          # one event in seven never arrives
    target = publisher.StreamTarget(nats_url, stream_names["stream"], stream_names["prefix"])
    msgs, _, _ = publisher.build_messages(events, V1_DAY, prefix=stream_names["prefix"],
                                          v2_from=V2_DAY, chaos=StreamChaos(), seed=SEED,
                                          only={e.event_id for e in events} - lost)
    publisher.publish(target, msgs)
    consumer = threading.Thread(target=consume, args=(
        consumer_settings(stream_names, nats_url, retailer4_url),), kwargs={"idle": 6.0})
    consumer.start()
    with transaction(engine) as conn:
        run_id = ops.create_run(conn, V1_DAY, ["retailer4"])
    worker = IngestionWorkerSettings()
    worker.retailer4.url = retailer4_url
    worker.retailer4.api_token = SecretStr(TOKEN)
    worker.stream_close.poll_seconds = 0.2
    result = run_step(ops.StepRef(run_id, "ingest", "retailer4", V1_DAY),
                      partial(close_day, settings=worker, s3=s3), send=False)
    assert result.status == "succeeded", result.error
    assert result.counts["stream"] == {"events": len(events), "missing": 0, "replays": 1}
    loaded = load_partition(run_id, "retailer4", V1_DAY, s3=s3, send=False)
    assert loaded.status == "succeeded", loaded.error
    consumer.join(60)
    assert marts(engine, V1_DAY) == truth(V1_DAY)
    with engine.connect() as conn:
        manifest = conn.execute(text("select manifest from ops.manifest where run_id = :r"),
                                {"r": run_id}).scalar()
    assert manifest["reconciliation"]["line_count_matches"]
    assert manifest["reconciliation"]["amount_matches"]
    assert manifest["reconciliation"]["stream"]["complete"]
    # quality judges the day: the stream is complete, the lines reconcile to the source
    from services.quality.checks import REGISTRY
    from services.quality.runner import evaluate_run
    from services.quality.settings import QualityWorkerSettings

    with engine.begin() as conn:
        results = evaluate_run(conn, REGISTRY, run_id=run_id, run_date=V1_DAY,
                               retailers=["retailer4"],
                               settings=QualityWorkerSettings().quality,
                               now=dt.datetime.now(dt.UTC), include_run_wide=False)
    status = {r.check_name: r.status for r in results}
    assert status["stream_complete"] == "pass"
    assert status["stream_consumer_lag"] == "pass"
    assert status["reconcile_line_count"] == "pass" and status["reconcile_amount"] == "pass"
    assert not [name for name, st in status.items() if st in ("fail", "error")], status


def test_a_batch_that_cannot_be_applied_is_set_aside_and_the_stream_goes_on(
        engine, nats_url, stream_names, retailer4_url, transformation_worker):
    # An order in a currency the warehouse has no FX rate for: its apply fails for good.
    bogus = {"event_id": "poison-1", "event_type": "order_created", "event_version": 1,
             "order_id": "QC-POISON", "customer_id": "CUS-000001", "store_id": "CH-01",
             "status": "created", "event_timestamp": "2024-02-29T10:00:00Z",
             "produced_at": "2024-02-29T10:00:01Z", "order_total": "5.00", "currency": "XTS",
             "lines": [{"line_number": 1, "product_id": "SKU-00001", "quantity": 1,
                        "unit_price": "5.00", "discount": "0.00", "line_total": "5.00"}]}

    async def send() -> None:
        import nats
        import orjson

        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        await js.add_stream(name=stream_names["stream"],
                            subjects=[f"{stream_names['prefix']}.>"])
        await js.publish(f"{stream_names['prefix']}.orders.order_created", orjson.dumps(bogus))
        await nc.close()

    asyncio.run(send())
    s = consumer_settings(stream_names, nats_url, retailer4_url)
    consume(s, idle=1.0)
    with engine.connect() as conn:
        status, error = conn.execute(text(
            "select status, error from ops.stream_batch")).one()
    assert status == "failed" and "MissingFxRate" in error
    publish(stream_names, nats_url, V1_DAY)
    consume(s)
    assert marts(engine, V1_DAY) == truth(V1_DAY)
    assert scalar(engine, "select lag_messages from ops.stream_consumer") == 0


def test_a_consumer_waiting_for_its_stream_to_be_created_is_alive(
        nats_url, stream_names, retailer4_url, tmp_path):
    """Before retailer4 first publishes there is no stream: the consumer waits, and its
    heartbeat (the container's healthcheck) says it is alive meanwhile."""
    heartbeat = tmp_path / "alive"
    consumer = StreamConsumer(consumer_settings(stream_names, nats_url, retailer4_url,
                                                heartbeat_file=str(heartbeat)))

    async def wait_then_stop() -> None:
        task = asyncio.create_task(consumer.run())
        for _ in range(50):
            if heartbeat.exists():
                break
            await asyncio.sleep(0.1)
        consumer.stop()
        await asyncio.wait_for(task, 10)

    asyncio.run(wait_then_stop())
    assert heartbeat.exists(), "no heartbeat while waiting for the stream"
    assert consumer.batches == 0
