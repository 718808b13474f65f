"""The quality tasks through a real Celery worker: the verdict lands in ops.run.status."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from shared.celery_app import celery_app
from tests.fixtures.core import wait_for
from tests.quality.seed import seed_run

AUTH = {"Authorization": "Bearer test-pipeline-token"}


def final_status(engine, run_id: str) -> str | None:
    with engine.connect() as conn:
        status = conn.execute(text("select status from ops.run where run_id = :r"),
                              {"r": run_id}).scalar_one()
    return status if status not in ("queued", "running") else None


def set_quantity(conn, run, quantity: int) -> None:
    conn.execute(text("update warehouse.fact_sales set quantity = :q where retailer_key = 1 "
                      "and order_id = :o and line_number = 1"),
                 {"q": quantity, "o": run.order("retailer1")})


def test_the_worker_judges_runs_and_rechecks_a_date(quality_worker, quality_client, quality_db,
                                                    seeded_run) -> None:
    day_before = seeded_run.run_date - dt.timedelta(days=1)
    with quality_db.begin() as conn:
        broken = seed_run(conn, day_before)
        set_quantity(conn, broken, -3)
    for run in (seeded_run, broken):
        celery_app.send_task("quality.run_checks", kwargs={
            "run_id": run.run_id, "run_date": run.run_date.isoformat()})

    assert wait_for(lambda: final_status(quality_db, seeded_run.run_id), 60,
                    message="the clean run's verdict") == "succeeded"
    assert wait_for(lambda: final_status(quality_db, broken.run_id), 60,
                    message="the broken run's verdict") == "failed"
    with quality_db.connect() as conn:
        step = conn.execute(text("select status, counts, task_id from ops.run_step "
                                 "where run_id = :r and step = 'quality'"),
                            {"r": broken.run_id}).one()
    assert step.status == "succeeded" and step.task_id
    assert step.counts["fail"] == 1 and sum(step.counts.values()) > 70

    # The row is repaired; a person asks for the date to be checked again.
    with quality_db.begin() as conn:
        set_quantity(conn, broken, 2)  # what the retailer sent
    response = quality_client.post("/checks/run", headers=AUTH,
                                   json={"date": day_before.isoformat()})
    assert response.status_code == 202
    assert response.json()["run_id"] == broken.run_id and response.json()["task_id"]

    def rejudged() -> bool:
        with quality_db.connect() as conn:
            return conn.execute(text(
                "select status from ops.run where run_id = :r"), {"r": broken.run_id}
            ).scalar_one() != "failed"

    wait_for(rejudged, 60, message="the re-check's verdict")
    assert final_status(quality_db, broken.run_id) == "succeeded"
    results = quality_client.get("/results", params={"run_id": broken.run_id,
                                                     "check": "quantity_positive"}).json()
    assert {(r["status"], r["evaluations"]) for r in results["results"]} == {("pass", 2)}
