"""retailer4: its events (deterministic, two schema versions, chaos), its REST part, and its
publisher against real NATS JetStream."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import orjson
import pytest

from retailers.retailer4 import envelope, publisher, world
from retailers.retailer4.chaos import StreamChaos
from tests.fixtures.stream import ORDERS_PER_DAY, TOKEN

DAY = dt.date(2024, 2, 29)
V2_FROM = dt.date(2024, 3, 1)


def master() -> world.MasterData:
    return world.master(world.volumes(42, 400, 3000, 12, 0.01, 0.02, 0.002))


def test_a_day_is_the_same_events_every_time_and_its_control_totals_count_them():
    a = world.day_events(master(), DAY, ORDERS_PER_DAY)
    b = world.day_events(master(), DAY, ORDERS_PER_DAY)
    assert [e.event_id for e in a] == [e.event_id for e in b]
    assert len({e.event_id for e in a}) == len(a)
    assert [e.at for e in a] == sorted(e.at for e in a)
    totals = world.control_totals(a, DAY)
    assert totals["events"] == len(a) == sum(totals["events_by_type"].values())
    assert totals["orders"] == totals["events_by_type"]["order_created"] > 0
    assert set(totals["events_by_type"]) == set(world.EVENT_TYPES)
    assert all(totals["events_by_type"][t] > 0 for t in ("payment_captured",
                                                        "shipment_delivered", "order_canceled"))
    other = world.day_events(master(), DAY + dt.timedelta(days=1), ORDERS_PER_DAY)
    assert not {e.event_id for e in a} & {e.event_id for e in other}


def test_version_2_is_an_evolution_of_version_1_for_orders_and_payments():
    events = world.day_events(master(), V2_FROM, ORDERS_PER_DAY)
    created = next(e for e in events if e.event_type == "order_created")
    shipped = next(e for e in events if e.event_type == "shipment_dispatched")
    now = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    assert envelope.version_for(created, V2_FROM, V2_FROM) == 2
    assert envelope.version_for(created, DAY, V2_FROM) == 1
    assert envelope.version_for(shipped, V2_FROM, V2_FROM) == 1
    v1, v2 = envelope.encode(created, 1, now), envelope.encode(created, 2, now)
    assert v1["order_total"] == f"{created.amount_cents / 100:.2f}"
    assert v2["order_total_minor"] == created.amount_cents and "order_total" not in v2
    assert v2["customer"] == {"id": v1["customer_id"]} and "customer_id" not in v2
    assert [i["sku"] for i in v2["items"]] == [x["product_id"] for x in v1["lines"]]
    assert v1["source_system"] == "checkout_service"


def test_chaos_doubles_reorders_delays_and_adds_bad_messages_without_losing_an_event():
    events = world.day_events(master(), DAY, ORDERS_PER_DAY)
    chaos = StreamChaos(duplicate_rate=0.05, out_of_order_rate=0.1, late_rate=0.05,
                        unknown_version_rate=0.02, undecodable_rate=0.02)
    msgs, late, report = publisher.build_messages(events, DAY, prefix="p", v2_from=V2_FROM,
                                                  chaos=chaos, seed=42)
    ids = []
    bad = 0
    for m in [*msgs, *late]:
        try:
            env = orjson.loads(m.data)
        except orjson.JSONDecodeError:
            bad += 1
            continue
        if env["event_version"] == 99:
            bad += 1
            continue
        ids.append(env["event_id"])
    assert set(ids) == {e.event_id for e in events}
    assert len(ids) - len(set(ids)) == report.duplicates > 0
    assert bad == report.unknown_version + report.undecodable > 0
    assert report.late == len(late) > 0
    order = [e.event_id for e in events]
    published = list(dict.fromkeys(i for i in ids))
    assert published != order  # out of order (and late ones at the end)
    again = publisher.build_messages(events, DAY, prefix="p", v2_from=V2_FROM, chaos=chaos,
                                     seed=42)
    assert [m.data for m in again[0]] != [] and len(again[0]) == len(msgs)


def test_replay_publishes_every_event_to_jetstream(nats_url, stream_names):
    target = publisher.StreamTarget(nats_url, stream_names["stream"], stream_names["prefix"])
    report = publisher.replay_day(target, master(), DAY, orders_per_day=ORDERS_PER_DAY,
                                  v2_from=V2_FROM, chaos=StreamChaos(duplicate_rate=0.1),
                                  seed=42)

    async def stored() -> int:
        import nats

        nc = await nats.connect(nats_url)
        info = await nc.jetstream().stream_info(stream_names["stream"])
        await nc.close()
        return int(info.state.messages)

    assert asyncio.run(stored()) == report.messages == report.events + report.duplicates


def test_the_rest_part_wants_its_token_and_serves_snapshots_and_totals(retailer4_url):
    assert httpx.get(f"{retailer4_url}/v1/channels").status_code == 401
    assert httpx.get(f"{retailer4_url}/v1/channels",
                     headers={"Authorization": "Bearer wrong"}).status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    channels = httpx.get(f"{retailer4_url}/v1/channels", headers=auth).json()["channels"]
    assert channels[0]["kind"] == "web" and len(channels) == 12
    products = httpx.get(f"{retailer4_url}/v1/products", params={"as_of": DAY.isoformat()},
                         headers=auth).json()["products"]
    assert len(products) == 400
    totals = httpx.get(f"{retailer4_url}/v1/control-totals", params={"date": DAY.isoformat()},
                       headers=auth).json()
    assert totals == orjson.loads(orjson.dumps(world.control_totals(
        world.day_events(master(), DAY, ORDERS_PER_DAY), DAY)))
    assert httpx.get(f"{retailer4_url}/v1/control-totals", params={"date": "nope"},
                     headers=auth).status_code == 400


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_the_cli_replays_a_date_with_the_configured_chaos(nats_url, stream_names, monkeypatch,
                                                          capsys):
    from retailers.cli import main

    monkeypatch.setenv("RETAILER4_NATS_URL", nats_url)
    monkeypatch.setenv("RETAILER4_STREAM", stream_names["stream"])
    monkeypatch.setenv("RETAILER4_SUBJECT_PREFIX", stream_names["prefix"])
    monkeypatch.setenv("RETAILER4_DUPLICATE_RATE", "0.1")
    assert main(["publish", "--date", DAY.isoformat(), "--orders-per-day", "30"]) == 0
    report = orjson.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["duplicates"] > 0
    assert report["messages"] == report["events"] + report["duplicates"]
    assert main(["publish"]) == 2  # neither --date nor --live
