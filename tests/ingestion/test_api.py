"""The ingestion API (api.py, runs.py) on real PostgreSQL and Redis, in-process."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from services.ingestion import runs
from shared import ops
from shared.settings import RETAILER_IDS
from tests.fixtures.ingestion import make_run

DAY = "2024-01-15"


def test_post_runs_without_a_token_is_401(ingestion_api, ingestion_queue):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        resp = ingestion_api.post("/runs", json={"date": DAY}, headers=headers)
        assert resp.status_code == 401
        assert resp.json()["error"] == "unauthorized" and resp.json()["detail"]
        assert resp.headers["WWW-Authenticate"] == "Bearer"
    # even a malformed body is not looked at without a token
    assert ingestion_api.post("/runs", json={"date": "x"}).status_code == 401
    assert ingestion_queue() == []


@pytest.mark.parametrize(("body", "message"), [
    ({"date": "2024-13-45"}, "date: '2024-13-45' is not a calendar date (YYYY-MM-DD)"),
    ({"date": "Jan 15"}, "date: must be a date as YYYY-MM-DD, got 'Jan 15'"),
    ({"date": "15/01/2024"}, "date: must be a date as YYYY-MM-DD"),
    ({"date": "2024-02-30"}, "date: '2024-02-30' is not a calendar date"),
    ({"date": 20240115}, "date: must be a date as YYYY-MM-DD"),
    ({"start": "2024-01-10", "end": "2024-01-05"}, "end 2024-01-05 is before start 2024-01-10"),
    ({"start": "2024-01-01", "end": "2024-03-01"}, "at most 31"),
    ({"date": "2999-01-01"}, "is in the future"),
    ({}, "give date, or start and end"),
    ({"date": DAY, "retailers": ["retailer9"]}, "retailers.0: unknown retailer 'retailer9'"),
])
def test_malformed_requests_are_422_with_a_message(ingestion_api, auth_headers, body, message):
    resp = ingestion_api.post("/runs", json=body, headers=auth_headers)
    assert resp.status_code == 422
    assert resp.json()["error"] == "invalid_request"
    assert message in resp.json()["detail"]


def test_post_runs_is_202_queues_one_task_per_retailer_and_is_visible(
        ingestion_api, auth_headers, ingestion_queue):
    resp = ingestion_api.post("/runs", json={"date": DAY}, headers=auth_headers)
    assert resp.status_code == 202
    body = resp.json()
    run_id = body["run_id"]
    assert body["status_url"].endswith(f"/runs/{run_id}")
    assert resp.headers["Location"] == body["status_url"]
    assert body["backfill_id"] is None and body["runs"][0]["status"] == "running"
    assert sorted(ingestion_queue(), key=repr) == [
        ("ingestion.ingest_file", {"v": "1.0", "run_id": run_id, "retailer_id": "retailer5",
                                   "run_date": DAY}),
        *(("ingestion.ingest_partition", {"v": "1.0", "run_id": run_id, "retailer_id": r,
                                          "run_date": DAY})
          for r in ("retailer1", "retailer2", "retailer3"))]

    status = ingestion_api.get(body["status_url"]).json()
    assert status["status"] == "running" and status["run_date"] == DAY
    assert set(status["retailers"]) == {"retailer1", "retailer2", "retailer3", "retailer5"}
    ingest = status["retailers"]["retailer2"]["ingest"]
    assert (ingest["status"], ingest["attempts"], ingest["max_attempts"]) == ("queued", 0, 3)
    assert status["retailers"]["retailer2"]["transform"]["status"] == "pending"
    assert status["quality"]["status"] == "pending"
    assert (status["steps_done"], status["steps_total"]) == (0, 2 * len(RETAILER_IDS) + 1)


def test_a_date_with_an_active_run_is_409_naming_it(ingestion_api, auth_headers,
                                                    ingestion_queue):
    first = ingestion_api.post("/runs", json={"date": DAY, "retailers": ["retailer1"]},
                               headers=auth_headers).json()["run_id"]
    resp = ingestion_api.post("/runs", json={"date": DAY}, headers=auth_headers)
    assert resp.status_code == 409
    assert resp.json()["error"] == "active_run_exists"
    assert resp.json()["run_id"] == first and first in resp.json()["detail"]
    # a backfill that includes the busy date creates nothing at all
    resp = ingestion_api.post("/runs", json={"start": "2024-01-14", "end": "2024-01-16"},
                              headers=auth_headers)
    assert resp.status_code == 409
    listed = ingestion_api.get("/runs").json()["runs"]
    assert [r["run_id"] for r in listed] == [first]
    assert len(ingestion_queue()) == 1


def test_a_backfill_runs_dates_with_bounded_parallelism(ingestion_api, auth_headers,
                                                        ingestion_queue, engine, settings):
    assert settings.ingestion.backfill_parallelism == 2
    resp = ingestion_api.post("/runs", json={"start": "2024-01-10", "end": "2024-01-14",
                                             "retailers": ["retailer1", "retailer3"]},
                              headers=auth_headers)
    assert resp.status_code == 202
    body = resp.json()
    assert body["backfill_id"]
    assert [(r["run_date"], r["status"]) for r in body["runs"]] == [
        ("2024-01-10", "running"), ("2024-01-11", "running"), ("2024-01-12", "queued"),
        ("2024-01-13", "queued"), ("2024-01-14", "queued")]
    assert sorted({kw["run_date"] for _, kw in ingestion_queue()}) == ["2024-01-10",
                                                                      "2024-01-11"]
    # nothing frees a slot: advancing starts nothing
    assert runs.advance_backfills(engine) == []
    # the first date ends: exactly one more date starts, however many callers advance
    with engine.begin() as conn:
        ops.finish_run(conn, body["runs"][0]["run_id"], "succeeded")
    started = runs.advance_backfills(engine) + runs.advance_backfills(engine)
    assert sorted({(s.run_date.isoformat(), s.retailer_id) for s in started}) == [
        ("2024-01-12", "retailer1"), ("2024-01-12", "retailer3")]
    queued = ingestion_api.get("/runs", params={"status": "queued"}).json()["runs"]
    assert sorted(r["run_date"] for r in queued) == ["2024-01-13", "2024-01-14"]
    assert len(ingestion_queue()) == 6


def test_get_runs_filters_by_date_and_status(ingestion_api, engine):
    a = make_run(engine, dt.date(2024, 1, 15))
    b = make_run(engine, dt.date(2024, 1, 16))
    with engine.begin() as conn:
        ops.finish_run(conn, b, "failed", "boom")
    by_date = ingestion_api.get("/runs", params={"date": DAY}).json()["runs"]
    assert [r["run_id"] for r in by_date] == [a]
    failed = ingestion_api.get("/runs", params={"status": "failed"}).json()["runs"]
    assert [(r["run_id"], r["error"], r["steps_total"]) for r in failed] == [(b, "boom", 7)]
    assert ingestion_api.get("/runs", params={"status": "weird"}).status_code == 422
    assert ingestion_api.get("/runs", params={"date": "2024-1-5"}).status_code == 422


def test_get_run_reports_failures_and_unknown_ids(ingestion_api, engine):
    run_id = make_run(engine, dt.date(2024, 1, 15), ["retailer1"])
    ref = ops.StepRef(run_id, "ingest", "retailer1", dt.date(2024, 1, 15))
    with engine.begin() as conn:
        ops.claim_step(conn, ref, lease_seconds=60, task_id="t1")
        ops.fail_step(conn, ref, "retailer1 down", retryable=False,
                      detail={"resource": "order-lines", "page": 3})
    step = ingestion_api.get(f"/runs/{run_id}").json()["retailers"]["retailer1"]["ingest"]
    assert step["status"] == "failed" and step["attempts"] == 1
    assert step["error_detail"] == {"resource": "order-lines", "page": 3}
    assert step["seconds"] is not None
    missing = ingestion_api.get("/runs/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert ingestion_api.get("/runs/not-a-uuid").status_code == 422


def test_livez_and_readyz(ingestion_api, monkeypatch):
    from services.ingestion.settings import get_api_settings

    assert ingestion_api.get("/livez").json() == {"status": "ok"}
    ready = ingestion_api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgresql": "ok", "redis": "ok", "s3": "ok"}
    monkeypatch.setattr(get_api_settings(), "redis_url", "redis://127.0.0.1:1/0")
    down = ingestion_api.get("/readyz")
    assert down.status_code == 503
    assert down.json()["error"] == "not_ready" and "redis" in down.json()["detail"]
    assert down.json()["checks"]["postgresql"] == "ok"
    assert down.json()["checks"]["redis"] != "ok"


def test_runs_are_created_in_one_transaction(engine, clean_warehouse, ingestion_queue):
    runs.submit_runs([dt.date(2024, 1, 20)], ["retailer2"], requested_by="test")
    with pytest.raises(Exception) as err:
        runs.submit_runs([dt.date(2024, 1, 19), dt.date(2024, 1, 20)], None,
                         requested_by="test")
    assert type(err.value).__name__ == "ActiveRunConflict"
    with engine.connect() as conn:
        dates = conn.execute(text("select run_date from ops.run")).scalars().all()
    assert dates == [dt.date(2024, 1, 20)]


def test_a_run_that_names_no_retailers_covers_the_configured_default(
        engine, clean_warehouse, ingestion_queue, monkeypatch):
    from services.ingestion.settings import IngestionRunOptions, IngestionRunsSettings

    # Out of the box: the REST retailers and retailer5's files; retailer4 only when named.
    assert IngestionRunOptions().default_retailers == RETAILER_IDS
    assert "retailer4" not in RETAILER_IDS
    # A deployment running retailer4's stream consumer lists it (comma-separated, any order).
    monkeypatch.setenv("INGESTION_DEFAULT_RETAILERS", "retailer4, retailer1")
    settings = IngestionRunsSettings()
    assert settings.ingestion.default_retailers == ("retailer4", "retailer1")
    submitted = runs.submit_runs([dt.date(2024, 1, 21)], None, requested_by="test",
                                 settings=settings)
    with engine.connect() as conn:
        chosen = conn.execute(text("select retailers from ops.run where run_id = :r"),
                              {"r": submitted.runs[0].run_id}).scalar_one()
    assert chosen == ["retailer1", "retailer4"]   # suite order
    monkeypatch.setenv("INGESTION_DEFAULT_RETAILERS", "retailer1,retailer9")
    with pytest.raises(ValueError, match="unknown retailers"):
        IngestionRunsSettings()
