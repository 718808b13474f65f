"""The HTTP API in-process: health and its 503s, definitions, results by date, errors."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from services.quality.checks import REGISTRY
from services.quality.judge import judge_run
from shared.settings import RETAILER_IDS
from tests.quality.seed import seed_run

AUTH = {"Authorization": "Bearer test-pipeline-token"}


def break_reconciliation(engine, run) -> None:
    with engine.begin() as conn:
        conn.execute(text("delete from warehouse.fact_sales where retailer_key = 2 "
                          "and order_id = :o and line_number = 2"), {"o": run.order("retailer2")})


def test_liveness_and_readiness(quality_client) -> None:
    assert quality_client.get("/livez").json() == {"status": "ok"}
    ready = quality_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgresql": "ok", "redis": "ok"}


def test_checks_lists_the_registry_with_severity_and_body(quality_client) -> None:
    checks = quality_client.get("/checks").json()["checks"]
    assert [c["check_name"] for c in checks] == REGISTRY.names()
    by_name = {c["check_name"]: c for c in checks}
    assert by_name["reconcile_amount"]["severity"] == "critical"
    assert by_name["customer_email_present"]["severity"] == "warning"
    assert by_name["quantity_positive"]["body_kind"] == "sql"
    assert "s.quantity <= 0" in by_name["quantity_positive"]["body"]
    assert by_name["reconcile_amount"]["body_kind"] == "python"
    assert "def reconcile_amount" in by_name["reconcile_amount"]["body"]


def test_health_is_ok_after_a_clean_run(quality_client, seeded_run) -> None:
    judge_run(seeded_run.run_id, seeded_run.run_date)
    response = quality_client.get("/health")
    body = response.json()
    assert response.status_code == 200, body["problems"]
    assert body["status"] == "ok"
    assert {(v["retailer_id"], v["verdict"]) for v in body["retailers"]} == {
        (r, "succeeded") for r in RETAILER_IDS}
    # the pipeline started today: nothing was owed yet
    assert body["freshness"]["overdue_count"] == 0
    assert body["freshness"]["expected_through"] == seeded_run.run_date.isoformat()


def test_a_critical_failure_makes_health_503(quality_client, quality_db, seeded_run) -> None:
    break_reconciliation(quality_db, seeded_run)
    assert judge_run(seeded_run.run_id, seeded_run.run_date)["status"] == "failed"
    response = quality_client.get("/health")
    assert response.status_code == 503
    body = response.json()
    verdicts = {v["retailer_id"]: v["verdict"] for v in body["retailers"]}
    # the failure is retailer2's; the others' own verdicts stay clean
    assert verdicts == {r: "failed" if r == "retailer2" else "succeeded" for r in RETAILER_IDS}
    assert any("retailer2: latest verdict failed" in p for p in body["problems"])


def test_an_overdue_date_makes_health_503(quality_client, quality_db, seeded_run) -> None:
    judge_run(seeded_run.run_id, seeded_run.run_date)
    with quality_db.begin() as conn:
        # The pipeline first ran two days ago (for the day before): since then the day
        # between became due and never completed.
        seed_run(conn, seeded_run.run_date - dt.timedelta(days=2), status="succeeded",
                 created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=2))
    response = quality_client.get("/health")
    assert response.status_code == 503
    freshness = response.json()["freshness"]
    missing = (seeded_run.run_date - dt.timedelta(days=1)).isoformat()
    assert freshness["expected_from"] == missing
    assert {(o["retailer_id"], o["run_date"]) for o in freshness["overdue"]} == {
        (r, missing) for r in RETAILER_IDS}


def test_results_are_found_by_date_and_filtered(quality_client, quality_db, seeded_run) -> None:
    break_reconciliation(quality_db, seeded_run)
    judge_run(seeded_run.run_id, seeded_run.run_date)
    day = seeded_run.run_date.isoformat()
    everything = quality_client.get("/results", params={"date": day}).json()
    assert everything["count"] == len(RETAILER_IDS) * (len(REGISTRY) - 1) + 1
    assert {r["run_id"] for r in everything["results"]} == {seeded_run.run_id}
    failed = quality_client.get("/results", params={"date": day, "status": "fail"}).json()
    assert {(r["retailer_id"], r["check_name"]) for r in failed["results"]} == {
        ("retailer2", "reconcile_line_count"), ("retailer2", "reconcile_amount")}
    other_day = (seeded_run.run_date - dt.timedelta(days=1)).isoformat()
    assert quality_client.get("/results", params={"date": other_day}).json()["count"] == 0
    by_run = quality_client.get("/results", params={"run_id": seeded_run.run_id,
                                                    "retailer": "*"}).json()
    assert [r["check_name"] for r in by_run["results"]] == ["dates_complete_by_deadline"]

    result_id = next(r["result_id"] for r in failed["results"]
                     if r["check_name"] == "reconcile_line_count")
    one = quality_client.get(f"/results/{result_id}").json()
    assert one["sample"][0]["difference"] == -1
    assert one["severity"] == "critical" and "control line count" in one["description"]


def test_errors_have_one_shape(quality_client) -> None:
    missing = quality_client.get("/results/999999")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "detail": "no result 999999"}
    bad = quality_client.get("/results", params={"date": "yesterday"})
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_request"
    wrong_retailer = quality_client.get("/results", params={"retailer": "retailer9"})
    assert wrong_retailer.status_code == 422
    assert quality_client.get("/nowhere").json()["error"] == "not_found"


def test_rerunning_checks_needs_the_token(quality_client, seeded_run) -> None:
    body = {"date": seeded_run.run_date.isoformat()}
    none = quality_client.post("/checks/run", json=body)
    assert none.status_code == 401 and none.json()["error"] == "unauthorized"
    wrong = quality_client.post("/checks/run", json=body,
                                headers={"Authorization": "Bearer test-pipeline-tokem"})
    assert wrong.status_code == 401
    # authenticated, but the date's run is still running: its own quality step judges it
    busy = quality_client.post("/checks/run", json=body, headers=AUTH)
    assert busy.status_code == 409 and busy.json()["error"] == "active_run_exists"
    assert busy.json()["run_id"] == seeded_run.run_id
    unknown = quality_client.post("/checks/run", json={"date": "2019-01-01"}, headers=AUTH)
    assert unknown.status_code == 404


def test_dashboard_feeds_the_page(quality_client, quality_db, seeded_run) -> None:
    break_reconciliation(quality_db, seeded_run)
    judge_run(seeded_run.run_id, seeded_run.run_date)
    data = quality_client.get("/api/dashboard").json()
    assert data["runs"][0]["run_id"] == seeded_run.run_id
    assert data["runs"][0]["status"] == "failed" and data["runs"][0]["fail"] == 2
    day = seeded_run.run_date.isoformat()
    grid = data["grid"]
    assert [c["retailer_id"] for c in grid["columns"]] == [*RETAILER_IDS, "*"]
    assert grid["cells"]["reconcile_line_count"][f"{day}|retailer2"]["status"] == "fail"
    assert grid["cells"]["reconcile_line_count"][f"{day}|retailer1"]["status"] == "pass"
    series = data["series"]
    assert len(series["dates"]) == 30 and series["dates"][-1] == day
    lines = seeded_run.partitions["retailer1"].lines
    assert series["lines"]["retailer1"][-1] == lines
    assert series["revenue_usd"]["retailer1"][-1] == float(
        seeded_run.partitions["retailer1"].amount)
    assert series["rejected_share"]["retailer1"][-1] > 0
    # no run that day: a gap, not a zero
    assert series["rejected_share"]["retailer1"][0] is None
    assert series["lines"]["retailer1"][0] is None
    page = quality_client.get("/")
    assert page.status_code == 200 and '<table id="grid"' in page.text
    assert '<script src="/static/app.js"' in page.text
    assert "lineChart" in quality_client.get("/static/app.js").text


def test_health_shows_the_stream_consumers_lag(quality_client, engine):
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("insert into ops.stream_consumer (consumer, retailer_id, stream, "
                          "lag_messages, pending_acks) values ('pipeline-retailer4', "
                          "'retailer4', 'RETAILER4', 42, 2)"))
    body = quality_client.get("/health").json()
    assert [(c["consumer"], c["lag_messages"]) for c in body["stream_consumers"]] == [
        ("pipeline-retailer4", 42)]
