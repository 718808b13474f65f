"""The stream consumer: a long-running process on a durable JetStream pull consumer.

Each loop fetches up to STREAM_BATCH_MAX_MESSAGES (waiting at most
STREAM_BATCH_MAX_WAIT_SECONDS), lands them as one micro-batch (batch.py), sends
`transformation.apply_stream_batch`, waits until ops.stream_batch says `applied` (the
warehouse committed), and only then acknowledges the messages. Killed at any point, the
unacknowledged messages come again after the ack wait; the inbox drops what an applied
batch already holds, and the load's keyed upserts make a re-applied event a no-op: nothing
is lost, nothing doubled. After every loop the consumer's lag (messages not yet
acknowledged) goes to ops.stream_consumer.

    python -m services.ingestion.stream.consumer
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import signal
import time
from pathlib import Path
from typing import Any

import nats
import orjson
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy import text
from sqlalchemy.engine import Engine

from services.ingestion.stream.batch import LandedBatch, Received, land_batch
from services.ingestion.stream.events import RETAILER_ID
from services.ingestion.stream.reference import reference_records
from shared.contracts import StreamBatchPayload
from shared.db import get_engine
from shared.s3 import get_s3
from shared.settings import load_settings_or_exit

log = logging.getLogger(__name__)
APPLY_TASK = "transformation.apply_stream_batch"


class ApplyTimeout(RuntimeError):
    """The batch was not applied in time (the consumer resends, then gives up the loop)."""


class StreamConsumer:
    """One durable consumer of retailer4's stream (settings: StreamConsumerSettings)."""

    def __init__(self, settings: Any, *, engine: Engine | None = None, s3: Any = None,
                 celery_app: Any = None, fetch_reference: bool = True) -> None:
        self.s = settings
        self.engine = engine or get_engine()
        self.s3 = s3 or get_s3()
        if celery_app is None:
            from shared.celery_app import celery_app as app
            celery_app = app
        self.celery_app = celery_app
        self.fetch_reference = fetch_reference
        self._reference_day: dt.date | None = None
        self._stop = asyncio.Event()
        self.batches = 0
        self._nc: Any = None

    def stop(self) -> None:
        self._stop.set()

    async def run(self, *, idle_exit_seconds: float | None = None) -> None:
        """Consume until stopped (or, for tests and benchmarks, until idle that long)."""
        o = self.s.stream
        nc = await nats.connect(o.nats_url, connect_timeout=5, max_reconnect_attempts=-1)
        self._nc = nc
        try:
            js = nc.jetstream(timeout=10)
            await self._wait_for_stream(js)
            if self._stop.is_set():   # stopped while the stream did not exist yet
                return
            config = ConsumerConfig(durable_name=o.durable, ack_policy=AckPolicy.EXPLICIT,
                                    ack_wait=o.ack_wait_seconds, max_deliver=-1,
                                    max_ack_pending=-1, deliver_policy=DeliverPolicy.ALL,
                                    filter_subject=o.subjects)
            sub = await js.pull_subscribe(o.subjects, durable=o.durable, stream=o.stream,
                                          config=config)
            idle_since = time.monotonic()
            while not self._stop.is_set():
                try:
                    msgs = await sub.fetch(o.batch_max_messages,
                                           timeout=o.batch_max_wait_seconds)
                except (nats.errors.TimeoutError, TimeoutError):
                    msgs = []
                if msgs:
                    await self._handle(msgs)
                    idle_since = time.monotonic()
                await self._record_lag(sub, msgs)
                self._beat()
                if idle_exit_seconds is not None and not msgs \
                        and time.monotonic() - idle_since > idle_exit_seconds:
                    return
        finally:
            await nc.close()

    def _beat(self) -> None:
        try:
            Path(self.s.stream.heartbeat_file).touch()
        except OSError:  # a read-only /tmp only costs the healthcheck
            pass

    async def _wait_for_stream(self, js: Any) -> None:
        # The source creates its stream when it first publishes: until then the consumer is
        # alive and waiting, and its healthcheck says so.
        while not self._stop.is_set():
            self._beat()
            try:
                await js.stream_info(self.s.stream.stream)
                return
            except NotFoundError:
                log.info("stream %s does not exist yet; waiting", self.s.stream.stream)
                await asyncio.sleep(1.0)

    async def _handle(self, msgs: list[Any]) -> None:
        received = [Received(m.subject, m.data, m.metadata.sequence.stream,
                             m.metadata.num_delivered) for m in msgs]
        began = time.perf_counter()
        landed = await asyncio.to_thread(self._land, received)
        landed_at = time.perf_counter()
        if landed.batch_id is not None:
            await self._wait_applied(landed.batch_id)
        applied_at = time.perf_counter()
        # Acknowledged only now: the batch's effect is committed in the warehouse. Acks are
        # sent without waiting for each reply (one flush for the batch): an ack lost with a
        # dying process only means a redelivery, which the inbox drops as a duplicate.
        for m in msgs:
            await m.ack()
        await self._nc.flush()
        log.info("batch %s: %d messages, %d events, %d duplicates, %d rejected; landed in "
                 "%.2fs, applied in %.2fs, acked in %.2fs", landed.batch_id, landed.messages,
                 landed.events, landed.duplicates, landed.rejected, landed_at - began,
                 applied_at - landed_at, time.perf_counter() - applied_at)
        self.batches += 1
        await asyncio.to_thread(self._count, landed)

    def _land(self, received: list[Received]) -> LandedBatch:
        reference = None
        if self.fetch_reference:
            day = self._batch_day(received)
            if day is not None and day != self._reference_day:
                reference = reference_records(self.s.retailer4, day)
                self._reference_day = day
        return land_batch(received, engine=self.engine, s3=self.s3, bucket=self.s.s3_bucket,
                          settings=self.s.ingestion, reference=reference)

    @staticmethod
    def _batch_day(received: list[Received]) -> dt.date | None:
        """The earliest event date of a batch: reference data is fetched as of it."""
        days = []
        for m in received:
            try:
                days.append(str(orjson.loads(m.data)["event_timestamp"])[:10])
            except Exception:  # noqa: BLE001 - a bad message is the batch's to reject
                continue
        return dt.date.fromisoformat(min(days)) if days else None

    async def _wait_applied(self, batch_id: str) -> None:
        o = self.s.stream
        for _attempt in range(3):
            self.celery_app.send_task(APPLY_TASK,
                                      kwargs=StreamBatchPayload(batch_id=batch_id).to_kwargs())
            deadline = time.monotonic() + o.apply_timeout_seconds
            while time.monotonic() < deadline:
                status = await asyncio.to_thread(self._status, batch_id)
                if status == "applied":
                    return
                if status == "failed":
                    # Transformation cannot apply it (a permanent error, kept on the batch):
                    # acknowledged so the stream moves on; its events count as not
                    # delivered, so closing the day replays them and quality says so.
                    log.error("stream batch %s failed to apply; its messages are "
                              "acknowledged, its events are not in the warehouse", batch_id)
                    return
                await asyncio.sleep(o.apply_poll_seconds)
            log.warning("batch %s not applied after %.0fs; sending it again", batch_id,
                        o.apply_timeout_seconds)
        raise ApplyTimeout(f"stream batch {batch_id} was not applied")

    def _status(self, batch_id: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(text("select status from ops.stream_batch where batch_id = :b"),
                                {"b": batch_id}).scalar()

    def _count(self, landed: LandedBatch) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(
                "insert into ops.stream_consumer as c (consumer, retailer_id, stream, "
                "delivered, duplicates, rejected, last_batch_at) "
                "values (:c, :r, :s, :n, :d, :rej, now()) on conflict (consumer) do update "
                "set delivered = c.delivered + excluded.delivered, "
                "duplicates = c.duplicates + excluded.duplicates, "
                "rejected = c.rejected + excluded.rejected, last_batch_at = now(), "
                "updated_at = now()"),
                {"c": self.s.stream.durable, "r": RETAILER_ID, "s": self.s.stream.stream,
                 "n": landed.messages, "d": landed.duplicates, "rej": landed.rejected})

    async def _record_lag(self, sub: Any, msgs: list[Any]) -> None:
        try:
            info = await sub.consumer_info()
        except Exception:  # noqa: BLE001 - lag is information, not a reason to stop
            return
        lag, pending = int(info.num_pending or 0), int(info.num_ack_pending or 0)

        def write() -> None:
            with self.engine.begin() as conn:
                conn.execute(text(
                    "insert into ops.stream_consumer as c (consumer, retailer_id, stream, "
                    "lag_messages, pending_acks) values (:c, :r, :s, :lag, :p) "
                    "on conflict (consumer) do update set lag_messages = excluded.lag_messages,"
                    " pending_acks = excluded.pending_acks, updated_at = now()"),
                    {"c": self.s.stream.durable, "r": RETAILER_ID, "s": self.s.stream.stream,
                     "lag": lag + pending, "p": pending})

        await asyncio.to_thread(write)


def main() -> None:
    from services.ingestion.settings import StreamConsumerSettings
    from shared.logging import configure_logging
    from shared.settings import bind

    settings = bind(load_settings_or_exit(StreamConsumerSettings))
    configure_logging(settings.log_format, settings.log_level)
    consumer = StreamConsumer(settings)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, consumer.stop)
        await consumer.run()

    asyncio.run(run())


if __name__ == "__main__":
    main()
