"""Stream benchmark: retailer4's events through NATS JetStream into the warehouse.

    .venv/bin/python -m bench.bench_stream --events 20000 --rate 500 --rss 20000,100000

Measured, each in one run on this machine (docs/benchmarks.md):
- sustained throughput: a day's events already on the stream, drained by the real consumer
  (land to S3, apply by a transformation worker, acknowledge after the commit) against a
  consumer that only fetches and acknowledges (the stream's own ceiling); events/s of both
  and their ratio;
- event to marts latency: events published at a steady `--rate` while the consumer runs;
  per event, the commit of the batch that applied it (marts included) minus its produced_at;
  p50 and p95;
- consumer peak RSS (VmHWM of the consumer process) draining `--rss` sizes of events;
- kill -9: the consumer killed mid-way through a day and restarted; the warehouse then
  holds every event exactly once (inbox = source events, fact_sales lines = control lines).
Its own database (`retail_analytics_bench_stream`), moto S3 on a free port, Redis database
8, the NATS server on 127.0.0.1:4222 (streams named bench_*), deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "retail_analytics_bench_stream"
TOKEN = "bench-r4-token-0123456789"
EVENTS_PER_ORDER = 5.2  # retailer4's mean events per order (world.day_events)
DAY = dt.date(2024, 3, 6)


@contextmanager
def bench_stack() -> Iterator[dict[str, Any]]:
    from suite.environment import isolated_environment
    from suite.processes import ManagedProcess, free_port

    port = free_port()
    os.environ.update(isolated_environment("bench", database=DB_NAME, s3_port=port,
                                           s3_bucket="retail-lake-bench-stream", redis_db=8))
    os.environ["RETAILER4_API_TOKEN"] = TOKEN
    logs = ROOT / ".data" / "bench-logs"
    s3 = ManagedProcess("bench-stream-s3", ["moto_server", "-H", "127.0.0.1", "-p", str(port)],
                        port=port, log_dir=logs)
    from suite.dbinit import init_warehouse

    init_warehouse(os.environ["DATABASE_URL"], drop=True)
    s3.start().wait_healthy(30)
    from shared.s3 import get_s3

    get_s3().create_bucket(Bucket="retail-lake-bench-stream")
    worker = ManagedProcess(
        "bench-stream-transformation",
        ["celery", "-A", "services.transformation.tasks:celery_app", "worker", "-Q",
         "transformation", "-c", "1", "--without-gossip", "--without-mingle", "-l", "WARNING"],
        log_dir=logs)
    worker.start()
    time.sleep(4)
    try:
        yield {"s3_port": port}
    finally:
        worker.stop()
        s3.stop()


def serve_retailer4(nats_url: str, stream: str, prefix: str, orders: int) -> str:
    from werkzeug.serving import make_server

    from retailers.retailer4.api import create_app
    from retailers.settings import Retailer4ServerSettings
    from suite.processes import free_port

    s = Retailer4ServerSettings(api_token=TOKEN, nats_url=nats_url, stream=stream,
                                subject_prefix=prefix)
    s.generator.orders_per_day = orders
    port = free_port()
    server = make_server("127.0.0.1", port, create_app(s), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}"


def names() -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {"stream": f"bench_{tag}", "prefix": f"bench{tag}", "durable": f"bench_{tag}"}


def master():
    from retailers.retailer4 import world

    return world.master(world.volumes(42, 400, 3000, 12, 0.01, 0.02, 0.002))


def days_for(events: int) -> tuple[list[dt.date], int]:
    """Days and orders per day that give about `events` events (at most 20k orders/day)."""
    orders = math.ceil(events / EVENTS_PER_ORDER)
    n_days = max(1, math.ceil(orders / 20_000))
    return [DAY + dt.timedelta(days=i) for i in range(n_days)], math.ceil(orders / n_days)


def publish(nats_url: str, n: dict[str, str], events: int, rate: float | None = None) -> int:
    from retailers.retailer4 import publisher
    from retailers.retailer4.chaos import StreamChaos

    target = publisher.StreamTarget(nats_url, n["stream"], n["prefix"])
    days, per_day = days_for(events)
    sent = 0
    for day in days:
        sent += publisher.replay_day(target, master(), day, orders_per_day=per_day,
                                     v2_from=dt.date(2024, 3, 1), chaos=StreamChaos(),
                                     seed=42, rate=rate).messages
    return sent


def consumer_env(nats_url: str, n: dict[str, str], r4_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "STREAM_NATS_URL": nats_url, "STREAM_STREAM": n["stream"],
            "STREAM_SUBJECTS": f"{n['prefix']}.>", "STREAM_DURABLE": n["durable"],
            "RETAILER4_URL": r4_url, "RETAILER4_API_TOKEN": TOKEN, "LOG_LEVEL": "WARNING",
            "STREAM_HEARTBEAT_FILE": f"/tmp/bench-{n['durable']}.alive", **extra}


def scalar(sql: str, **params: Any) -> Any:
    from sqlalchemy import text

    from shared.db import get_engine

    with get_engine().connect() as conn:
        return conn.execute(text(sql), params).scalar()


def wait_inbox(count: int, timeout: float = 1800, proc: subprocess.Popen | None = None,
               peak: list[int] | None = None) -> float:
    began = time.perf_counter()
    while scalar("select count(*) from ops.stream_inbox i join ops.stream_batch b "
                 "using (batch_id) where b.status = 'applied'") < count:
        if proc is not None and peak is not None:
            peak.append(vm_hwm(proc.pid))
        if time.perf_counter() - began > timeout:
            raise TimeoutError(f"fewer than {count} events applied after {timeout}s")
        time.sleep(0.2)
    return time.perf_counter() - began


def vm_hwm(pid: int) -> int:
    """Peak resident set (kB) of a process."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def reset() -> None:
    from sqlalchemy import text

    from shared.db import get_engine

    with get_engine().begin() as conn:
        conn.execute(text("truncate ops.stream_inbox, ops.stream_batch, ops.stream_consumer, "
                          "warehouse.fact_sales, warehouse.fact_orders, "
                          "warehouse.pending_order_event, warehouse.pending_order_line, "
                          "ops.rejected_record"))


def start_consumer(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "services.ingestion.stream.consumer"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(ROOT / ".data" / "bench-logs" / "consumer.log", "ab"))


async def ack_only(nats_url: str, n: dict[str, str], count: int, batch: int) -> float:
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    sub = await js.pull_subscribe(f"{n['prefix']}.>", durable=f"{n['durable']}_ackonly",
                                  stream=n["stream"],
                                  config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT,
                                                        max_ack_pending=-1))
    began = time.perf_counter()
    done = 0
    while done < count:
        try:
            msgs = await sub.fetch(batch, timeout=1)
        except Exception:  # noqa: BLE001 - a timeout: keep going
            continue
        for m in msgs:  # acked as the real consumer acks: no wait per reply, one flush
            await m.ack()
        await nc.flush()
        done += len(msgs)
    seconds = time.perf_counter() - began
    await nc.close()
    return seconds


def drop_stream(nats_url: str, stream: str) -> None:
    async def drop() -> None:
        import nats

        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().delete_stream(stream)
        finally:
            await nc.close()

    asyncio.run(drop())


def throughput(nats_url: str, events: int) -> dict[str, Any]:
    n = names()
    sent = publish(nats_url, n, events)
    ceiling = asyncio.run(ack_only(nats_url, n, sent, 2000))
    days, per_day = days_for(events)
    r4 = serve_retailer4(nats_url, n["stream"], n["prefix"], per_day)
    reset()
    proc = start_consumer(consumer_env(nats_url, n, r4))
    try:
        seconds = wait_inbox(sent)
    finally:
        proc.terminate()
        proc.wait(30)
    drop_stream(nats_url, n["stream"])
    return {"events": sent, "warehouse_seconds": round(seconds, 2),
            "warehouse_events_per_s": round(sent / seconds),
            "ack_only_seconds": round(ceiling, 2), "ack_only_events_per_s": round(sent / ceiling),
            "ratio": round((sent / seconds) / (sent / ceiling), 3)}


def latency(nats_url: str, events: int, rate: float) -> dict[str, Any]:
    n = names()
    # the stream must exist before the consumer subscribes
    publish(nats_url, n, 1, rate=None)
    days, per_day = days_for(events)
    r4 = serve_retailer4(nats_url, n["stream"], n["prefix"], per_day)
    reset()
    proc = start_consumer(consumer_env(nats_url, n, r4, STREAM_BATCH_MAX_WAIT_SECONDS="0.25"))
    try:
        time.sleep(3)
        reset()
        sent = publish(nats_url, names() | {"stream": n["stream"], "prefix": n["prefix"]},
                       events, rate=rate)
        wait_inbox(sent - 10)
        time.sleep(2)
    finally:
        proc.terminate()
        proc.wait(30)
    row = scalar(
        "select json_build_object("
        "'p50', percentile_cont(0.5) within group (order by extract(epoch from "
        "b.applied_at - i.produced_at)), 'p95', percentile_cont(0.95) within group (order by "
        "extract(epoch from b.applied_at - i.produced_at)), 'max', max(extract(epoch from "
        "b.applied_at - i.produced_at)), 'events', count(*)) "
        "from ops.stream_inbox i join ops.stream_batch b using (batch_id) "
        "where b.status = 'applied' and i.produced_at is not null")
    drop_stream(nats_url, n["stream"])
    return {"rate": rate, "events": sent, **{k: round(float(v), 3) if k != "events" else v
                                             for k, v in row.items()}}


def rss(nats_url: str, sizes: list[int]) -> dict[str, Any]:
    out = {}
    for size in sizes:
        n = names()
        sent = publish(nats_url, n, size)
        days, per_day = days_for(size)
        r4 = serve_retailer4(nats_url, n["stream"], n["prefix"], per_day)
        reset()
        proc = start_consumer(consumer_env(nats_url, n, r4))
        peak: list[int] = []
        try:
            wait_inbox(sent, proc=proc, peak=peak)
            peak.append(vm_hwm(proc.pid))
        finally:
            proc.terminate()
            proc.wait(30)
        drop_stream(nats_url, n["stream"])
        out[str(sent)] = {"peak_rss_mb": round(max(peak) / 1024, 1)}
    values = [v["peak_rss_mb"] for v in out.values()]
    out["ratio_largest_to_smallest"] = round(values[-1] / values[0], 3) if values else None
    return out


def kill_recovery(nats_url: str, events: int) -> dict[str, Any]:
    from retailers.retailer4 import world

    n = names()
    sent = publish(nats_url, n, events)
    days, per_day = days_for(events)
    r4 = serve_retailer4(nats_url, n["stream"], n["prefix"], per_day)
    reset()
    env = consumer_env(nats_url, n, r4, STREAM_ACK_WAIT_SECONDS="5",
                       STREAM_BATCH_MAX_MESSAGES="500")
    proc = start_consumer(env)
    while scalar("select count(*) from ops.stream_inbox") < sent // 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    killed_at = scalar("select count(*) from ops.stream_inbox i join ops.stream_batch b "
                       "using (batch_id) where b.status = 'applied'")
    time.sleep(5.5)
    proc = start_consumer(env)
    try:
        wait_inbox(sent)
        time.sleep(2)
    finally:
        proc.terminate()
        proc.wait(30)
    lines = sum(len(e.lines) for d in days for e in world.day_events(master(), d, per_day)
                if e.event_type == "order_created")
    got_lines = scalar("select count(*) from warehouse.fact_sales")
    inbox = scalar("select count(*) from ops.stream_inbox")
    drop_stream(nats_url, n["stream"])
    return {"events": sent, "applied_when_killed": killed_at, "inbox_after": inbox,
            "source_lines": lines, "fact_sales_lines": got_lines,
            "lost": sent - inbox, "doubled": got_lines - lines,
            "exact": inbox == sent and got_lines == lines}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--latency-seconds", type=float, default=30.0)
    parser.add_argument("--rss", default="20000,100000", help="comma-separated sizes")
    parser.add_argument("--nats-url", default="nats://127.0.0.1:4222")
    parser.add_argument("--skip", default="", help="comma-separated: throughput,latency,"
                                                   "rss,kill")
    args = parser.parse_args(argv)
    skip = set(args.skip.split(",")) - {""}
    result: dict[str, Any] = {"started_at": dt.datetime.now(dt.UTC).isoformat(),
                              "cpus": os.cpu_count()}
    with bench_stack():
        if "throughput" not in skip:
            result["throughput"] = throughput(args.nats_url, args.events)
            print(json.dumps(result["throughput"]), flush=True)  # noqa: T201
        if "latency" not in skip:
            result["latency"] = latency(args.nats_url, int(args.rate * args.latency_seconds),
                                        args.rate)
            print(json.dumps(result["latency"]), flush=True)  # noqa: T201
        if "rss" not in skip:
            result["rss"] = rss(args.nats_url, [int(x) for x in args.rss.split(",")])
            print(json.dumps(result["rss"]), flush=True)  # noqa: T201
        if "kill" not in skip:
            result["kill_recovery"] = kill_recovery(args.nats_url, args.events)
            print(json.dumps(result["kill_recovery"]), flush=True)  # noqa: T201
    out = ROOT / "bench" / "results" / (
        f"stream-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}-{args.events}.json")
    out.write_text(json.dumps(result, indent=2))
    print(f"written {out}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
