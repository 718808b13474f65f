"""GET /metrics on each API: Prometheus' text format that `promtool check metrics` accepts,
request counts by route template, and the pipeline's figures equal to the ops tables."""

from __future__ import annotations

import subprocess
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

PROMTOOL = "promtool"


def promtool_check(exposition: str) -> None:
    """`promtool check metrics` on an exposition: it must pass with no lint problem."""
    done = subprocess.run([PROMTOOL, "check", "metrics"], input=exposition, text=True,
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr


def samples(exposition: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(exposition) for s in family.samples}


def test_the_quality_api_exposes_the_pipeline_figures(quality_client, seeded_run):
    body = quality_client.get("/metrics")
    assert body.status_code == 200
    assert body.headers["content-type"].startswith("text/plain")
    promtool_check(body.text)
    got = samples(body.text)
    assert got[("retail_ops_scrape_success", frozenset())] == 1.0
    assert got[("retail_runs", frozenset({("status", "running")}))] >= 0


def test_the_ended_steps_sums_count_each_step_once_as_history_settles(quality_db, due_date):
    """The sums kept in the process (settled history) plus what ended since equal the
    table's, scrape after scrape, whether a step's end is settled or still recent."""
    import datetime as dt

    from services.quality.metrics import EndedSteps
    from tests.quality.seed import create_run

    def from_table(conn) -> dict:
        rows = conn.execute(text(
            "select step, status, retailer_id, count(*) as n from ops.run_step "
            "where status in ('succeeded', 'failed', 'dead', 'skipped') group by 1, 2, 3"))
        return {(r.step, r.status, r.retailer_id): r.n for r in rows}

    settling = EndedSteps(settle_seconds=0.5)
    recent = EndedSteps()  # nothing settles within the test: all is re-read each time
    for n in range(3):
        with quality_db.begin() as conn:
            run_id = create_run(conn, due_date - dt.timedelta(days=n), status="succeeded")
            conn.execute(text("update ops.run_step set status = 'dead', started_at = "
                              "finished_at - interval '2 seconds' where run_id = :r "
                              "and step = 'transform' and retailer_id = 'retailer2'"),
                         {"r": run_id})
        with quality_db.connect() as conn:
            want = from_table(conn)
            for _ in range(2):
                for sums in (settling, recent):
                    got = {k: t.count for k, t in sums.read(conn).items()}
                    assert got == want
        time.sleep(0.6)
    with quality_db.connect() as conn:
        dead = settling.read(conn)[("transform", "dead", "retailer2")]
    assert dead.count == 3 and dead.seconds == pytest.approx(6.0)
    assert dead.buckets[2] == 3  # [1 s, 2.5 s)
    assert settling.settled, "nothing settled: the test did not exercise the kept sums"


def test_metrics_name_the_route_template_never_the_path(quality_client):
    quality_client.get("/results/123456")
    quality_client.get("/no/such/path/42")
    got = samples(quality_client.get("/metrics").text)
    routes = {dict(k[1]).get("route") for k in got if k[0] == "retail_http_requests_total"}
    assert "/results/{result_id}" in routes and "<unmatched>" in routes
    assert not [r for r in routes if r and ("123456" in r or "42" in r)]
