"""services/transformation/api.py and cli.py: replay a date from stored silver objects."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from tests.factories import finish_run, generate_day

DAY = dt.date(2024, 6, 1)


@pytest.fixture
def client(engine, s3, settings):
    from services.transformation.api import create_app

    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def auth(settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.pipeline_api_token.get_secret_value()}"}


@pytest.fixture
def stored_day(lake):
    """A date whose two partitions were landed and loaded by an ingest run (now finished)."""
    run_id = lake.land_and_load(generate_day("retailer1", DAY, orders=5),
                                generate_day("retailer2", DAY, orders=5, seed=2))
    return run_id


def test_health_endpoints(client):
    assert client.get("/livez").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {
        "status": "ready",
        "checks": {"postgresql": "ok", "redis": "ok", "s3": "ok", "marts": "ok"}}


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "Basic dGVzdA==", "Bearer"])
def test_replay_needs_the_bearer_token(client, lake, header):
    headers = {"Authorization": header} if header else {}
    response = client.post("/replays", json={"date": DAY.isoformat()}, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized" and response.json()["detail"]
    assert lake.scalar("select count(*) from ops.run") == 0


def test_replay_of_a_stored_date_is_accepted(client, auth, lake, stored_day):
    response = client.post("/replays", json={"date": DAY.isoformat()}, headers=auth)
    assert response.status_code == 202
    run_id = response.json()["run_id"]
    assert lake.rows("select kind, status, retailers from ops.run where run_id = :r",
                     r=run_id) == [("replay", "running", ["retailer1", "retailer2"])]
    steps = lake.rows("select step, retailer_id, status from ops.run_step where run_id = :r "
                      "order by step, retailer_id", r=run_id)
    assert [(s, r) for s, r, _ in steps] == [("quality", "*"), ("transform", "retailer1"),
                                             ("transform", "retailer2")]
    # queued and sent (a worker of another test may already be at it)
    assert {st for s, _, st in steps if s == "transform"} <= {"queued", "running", "succeeded"}

    # While it is active, the date cannot be replayed again.
    again = client.post("/replays", json={"date": DAY.isoformat()}, headers=auth)
    assert again.status_code == 409
    assert again.json()["error"] == "active_run_exists" and again.json()["run_id"] == run_id


def test_replay_of_a_date_or_retailer_never_stored_is_404(client, auth, lake, stored_day):
    missing_day = client.post("/replays", json={"date": "2024-06-02"}, headers=auth)
    assert missing_day.status_code == 404
    assert missing_day.json()["error"] == "no_stored_partition"
    missing_retailer = client.post("/replays", json={"date": DAY.isoformat(),
                                                     "retailers": ["retailer3"]}, headers=auth)
    assert missing_retailer.status_code == 404
    assert missing_retailer.json()["missing"] == ["retailer3"]
    assert lake.scalar("select count(*) from ops.run where kind = 'replay'") == 0


@pytest.mark.parametrize("body", [{}, {"date": "15/01/2024"}, {"date": "2024-01-15",
                                                               "retailers": []}])
def test_a_malformed_replay_request_is_422(client, auth, body):
    response = client.post("/replays", json=body, headers=auth)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


def test_cli_replay_reloads_the_date_through_the_worker(lake, stored_day, start_worker):
    from services.transformation.cli import follow, replay

    start_worker("services.transformation.tasks", ["transformation"])
    before = lake.checksum()
    assert replay(DAY, ["retailer2"], wait=False) == "queued"
    run_id = lake.scalar("select run_id::text from ops.run where kind = 'replay'")
    from tests.fixtures.core import wait_for

    wait_for(lambda: lake.scalar("select status from ops.run_step where run_id = :r "
                                 "and step = 'quality'", r=run_id) == "queued", timeout=60,
             message="the replay's load")
    assert lake.checksum() == before            # same stored objects, same warehouse
    finish_run(lake.engine, run_id)             # what quality's verdict would do
    assert follow(run_id, timeout=5, interval=0.1) == "succeeded"
