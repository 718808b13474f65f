"""Publishing retailer4's events to NATS JetStream: replay a date, or live at a rate.

The source owns its stream (created on first use, subjects `<prefix>.>`, file storage).
Messages carry the envelope as JSON; chaos (`chaos.py`) decides their order, doubles and
late ones, and adds bad messages. Publishing waits for JetStream's acknowledgement of
every message (in windows, so the round trips overlap): a replay that returned is stored.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import nats
from nats.js.errors import NotFoundError

from retailers.retailer4 import envelope, world
from retailers.retailer4.chaos import StreamChaos, plan

WINDOW = 256


@dataclass(frozen=True)
class StreamTarget:
    """Where the events go: the server, the stream and the subject prefix."""

    url: str
    stream: str
    prefix: str


@dataclass
class Message:
    """One message to publish. An event's `produced_at` is stamped when it goes out (so a
    paced or late event says when it was really produced); a bad message goes as `data`."""

    subject: str
    data: bytes
    event_id: str | None = None
    envelope: dict[str, Any] | None = None

    def payload(self) -> bytes:
        if self.envelope is None:
            return self.data
        self.envelope["produced_at"] = envelope._ts(dt.datetime.now(dt.UTC))
        return envelope.dumps(self.envelope)


@dataclass
class PublishReport:
    day: str
    events: int = 0
    messages: int = 0
    duplicates: int = 0
    late: int = 0
    unknown_version: int = 0
    undecodable: int = 0
    seconds: float = 0.0
    versions: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def build_messages(events: Sequence[world.WorldEvent], day: dt.date, *, prefix: str,
                   v2_from: dt.date, chaos: StreamChaos, seed: int,
                   only: set[str] | None = None) -> tuple[list[Message], list[Message],
                                                          PublishReport]:
    """The day's messages in publish order, and the late ones (published after them).

    `only`: publish just these event ids (a re-request of what is missing), without chaos.
    """
    report = PublishReport(day.isoformat())
    now = dt.datetime.now(dt.UTC)

    def message(e: world.WorldEvent) -> Message:
        v = envelope.version_for(e, day, v2_from)
        report.versions[f"v{v}"] = report.versions.get(f"v{v}", 0) + 1
        env = envelope.encode(e, v, now)
        return Message(envelope.subject(prefix, e), envelope.dumps(env), e.event_id, env)

    if only is not None:
        msgs = [message(e) for e in events if e.event_id in only]
        report.events = report.messages = len(msgs)
        return msgs, [], report
    p = plan(len(events), chaos if not chaos.quiet else StreamChaos(), seed, day)
    unknown, bad = set(p.unknown_version_at), set(p.undecodable_at)
    out: list[Message] = []
    for pos, i in enumerate(p.order):
        e = events[i]
        out.append(message(e))
        if i in p.duplicated:
            out.append(out[-1])
            report.duplicates += 1
        if pos in unknown:
            bogus = envelope.encode(e, 99, now)
            bogus["event_id"] = str(uuid.uuid5(world.EVENT_NAMESPACE, f"v99/{e.event_id}"))
            out.append(Message(envelope.subject(prefix, e), envelope.dumps(bogus)))
            report.unknown_version += 1
        if pos in bad:
            out.append(Message(f"{prefix}.{e.family}.{e.event_type}",
                               b"\x00{not json" + e.event_id.encode()))
            report.undecodable += 1
    late = [message(events[i]) for i in p.late]
    report.events = len(events)
    report.late = len(late)
    report.messages = len(out) + len(late)
    return out, late, report


async def ensure_stream(js: Any, target: StreamTarget) -> None:
    """Create the source's stream if it does not exist yet."""
    try:
        await js.stream_info(target.stream)
    except NotFoundError:
        await js.add_stream(name=target.stream, subjects=[f"{target.prefix}.>"])


async def _publish(target: StreamTarget, batches: Sequence[Sequence[Message]], *,
                   rate: float | None = None, burst: int = 0,
                   pause_between: float = 0.0) -> None:
    nc = await nats.connect(target.url, connect_timeout=5, max_reconnect_attempts=5)
    try:
        js = nc.jetstream(timeout=10)
        await ensure_stream(js, target)
        started = time.monotonic()
        sent = 0
        for b, msgs in enumerate(batches):
            if b and pause_between:
                await asyncio.sleep(pause_between)
            step = burst or (max(1, int(rate // 20)) if rate else WINDOW)
            for i in range(0, len(msgs), step):
                window = msgs[i:i + step]
                await asyncio.gather(*(js.publish(m.subject, m.payload()) for m in window))
                sent += len(window)
                if rate:
                    ahead = sent / rate - (time.monotonic() - started)
                    if ahead > 0:
                        await asyncio.sleep(ahead)
    finally:
        await nc.close()


def publish(target: StreamTarget, messages: Sequence[Message], late: Sequence[Message] = (),
            *, rate: float | None = None, burst: int = 0, late_after: float = 0.0) -> float:
    """Publish `messages`, then (after `late_after` seconds) the late ones. Returns seconds."""
    began = time.perf_counter()
    asyncio.run(_publish(target, [messages, late] if late else [messages], rate=rate,
                         burst=burst, pause_between=late_after))
    return time.perf_counter() - began


def replay_day(target: StreamTarget, m: world.MasterData, day: dt.date, *,
               orders_per_day: int, v2_from: dt.date, chaos: StreamChaos, seed: int,
               rate: float | None = None, late_after: float = 0.0,
               only: set[str] | None = None) -> PublishReport:
    """Publish every event of `day` (or just `only`), with chaos. Returns what was sent."""
    events = world.day_events(m, day, orders_per_day)
    msgs, late, report = build_messages(events, day, prefix=target.prefix, v2_from=v2_from,
                                        chaos=chaos, seed=seed, only=only)
    report.seconds = round(publish(target, msgs, late, rate=rate, burst=chaos.burst_size,
                                   late_after=late_after), 3)
    return report
