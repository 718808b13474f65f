"""A real run watched the way an operator watches it: a real Prometheus (Debian's package, on a
private port, with the project's scrape config and alert rules) scrapes the three APIs while
a date goes through every real process; the figures read back through Prometheus' HTTP API
equal the ops tables; every PromQL expression of the Grafana dashboard returns data; and every
OpenLineage event the workers wrote (file transport) is valid against the OpenLineage schema.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from sqlalchemy import text

from shared.settings import RETAILER_IDS
from suite.processes import ROOT, ManagedProcess, free_port
from tests.e2e.client import RunClient
from tests.fixtures.core import (
    LOG_DIR,
    SUFFIX,
    api_process,
    celery_worker,
    purge_queues,
    truncate_pipeline_tables,
)
from tests.observability.openlineage_schema import validate_run_event
from tests.observability.test_metrics import promtool_check

DAY = dt.date(2024, 1, 15)
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "retail-pipeline.json"
WORK_DIR = ROOT / ".data" / f"test-observability{SUFFIX}"
SERVICES = ("ingestion", "transformation", "quality")
pytestmark = pytest.mark.slow


@dataclass
class Observed:
    run_id: str
    run: dict[str, Any]
    apis: dict[str, str]
    prometheus: str
    lineage_file: Path

    def query(self, promql: str) -> list[dict[str, Any]]:
        resp = httpx.get(f"{self.prometheus}/api/v1/query", params={"query": promql},
                         timeout=10)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["status"] == "success", body
        return body["data"]["result"]

    def values(self, promql: str, *labels: str) -> dict[tuple[str, ...], float]:
        return {tuple(r["metric"].get(k, "") for k in labels): float(r["value"][1])
                for r in self.query(promql)}


def prometheus_config(ports: dict[str, int]) -> dict[str, Any]:
    """The project's scrape config with the test's targets, a 1 s interval, and the alert
    rules by absolute path (jobs of services the test does not run are left out)."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(PROMETHEUS_DIR / f) for f in config["rule_files"]]
    jobs = []
    for job in config["scrape_configs"]:
        service = job["job_name"].removeprefix("retail-")
        if service in ports:
            job["static_configs"] = [{"targets": [f"127.0.0.1:{ports[service]}"]}]
            jobs.append(job)
    config["scrape_configs"] = jobs
    return config


def wait_until(predicate, timeout: float, message: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f}s: {message} (last: {last})")


@pytest.fixture(scope="module")
def observed(retailer_apps, engine, s3, redis_db, settings) -> Iterator[Observed]:
    truncate_pipeline_tables(engine)
    purge_queues()
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    WORK_DIR.mkdir(parents=True)
    lineage_file = WORK_DIR / "lineage.jsonl"
    lineage_env = {"LINEAGE_TRANSPORT": "file", "LINEAGE_FILE": str(lineage_file)}
    ports = {s: free_port() for s in (*SERVICES, "flower")}
    procs = [api_process(s, ports[s], name=f"obs-{s}-api") for s in SERVICES]
    # Flower, the workers' view (its own /metrics, built from the workers' task events).
    procs.append(ManagedProcess(
        "obs-flower", ["celery", "-A", "shared.celery_app:celery_app", "flower",
                       f"--port={ports['flower']}", "--address=127.0.0.1"],
        port=ports["flower"], health_url=f"http://127.0.0.1:{ports['flower']}/metrics",
        log_dir=LOG_DIR))
    procs += [celery_worker(f"services.{s}.tasks", [s], name=f"obs-{s}", env=lineage_env)
              for s in SERVICES]
    prom_port = free_port()
    config = WORK_DIR / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(ports)))
    prometheus = ManagedProcess(
        "obs-prometheus",
        [shutil.which("prometheus") or "prometheus", f"--config.file={config}",
         f"--storage.tsdb.path={WORK_DIR / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        health_url=f"http://127.0.0.1:{prom_port}/-/ready", log_dir=LOG_DIR)
    procs.append(prometheus)
    try:
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.wait_healthy(90)
        apis = {s: f"http://127.0.0.1:{ports[s]}" for s in SERVICES}
        # The seeded REST retailers (retailer5's files and retailer4's stream have their own
        # tests; their steps are observed by the same code).
        client = RunClient(apis["ingestion"], settings.pipeline_api_token.get_secret_value(),
                           retailers=sorted(retailer_apps.database_urls))
        run_id = client.post_run(DAY)
        run = client.wait(run_id, timeout=180)
        yield Observed(run_id, run, apis, f"http://127.0.0.1:{prom_port}", lineage_file)
    finally:
        for proc in procs:
            proc.stop()
        purge_queues()


def ops_figures(engine, run_id: str) -> dict[str, Any]:
    """The run's figures, straight from the ops and quality tables."""
    with engine.connect() as conn:
        steps = conn.execute(text(
            "select step, retailer_id, status, counts, "
            "extract(epoch from finished_at - started_at)::float8 as seconds "
            "from ops.run_step where run_id = :r"), {"r": run_id}).all()
        runs = dict(conn.execute(text(
            "select status, count(*) from ops.run group by status")).all())
        checks = Counter((c, s) for c, s in conn.execute(text(
            "select check_name, status from quality.check_result where run_id = :r"),
            {"r": run_id}))
    lines: dict[tuple[str, str], float] = {}
    for s in steps:
        if s.step == "ingest" and s.status == "succeeded":
            for phase in ("received", "normalized", "rejected"):
                lines[(s.retailer_id, phase)] = s.counts["order_lines"][phase]
        if s.step == "transform" and s.status == "succeeded":
            fact = s.counts["fact_sales"]
            lines[(s.retailer_id, "loaded")] = (fact["inserted"] + fact["updated"]
                                                + fact["unchanged"])
    return {"steps": steps, "runs": runs, "checks": checks, "lines": lines}


def test_prometheus_reads_the_runs_figures_equal_to_the_ops_tables(observed, engine,
                                                                  settings):
    run_status = observed.run["status"]
    assert run_status in ("succeeded", "succeeded_with_warnings"), observed.run
    # Wait for a scrape after the run ended (its final status shows in Prometheus).
    wait_until(lambda: observed.values(f'retail_runs{{status="{run_status}"}}', "status")
               == {(run_status,): 1.0}, 30, "a scrape of the final run")
    expected = ops_figures(engine, observed.run_id)
    retailers = sorted(observed.run["retailers"])
    assert len(retailers) >= 3
    assert len(expected["lines"]) == 4 * len(retailers)  # 4 phases each

    got = observed.values("retail_partition_lines", "retailer", "phase")
    assert got == {k: float(v) for k, v in expected["lines"].items()}
    # One run: the counters over every step equal its figures too.
    assert observed.values("retail_lines_total", "retailer", "phase") == got
    assert all(got[(r, "received")] == got[(r, "normalized")] + got[(r, "rejected")]
               for r in retailers)

    runs = observed.values("retail_runs", "status")
    assert {k[0]: v for k, v in runs.items() if v} == {
        k: float(v) for k, v in expected["runs"].items()}

    steps = observed.values("retail_steps", "stage", "status")
    assert {k: v for k, v in steps.items() if v} == {
        k: float(v) for k, v in Counter((s.step, s.status) for s in expected["steps"]).items()}
    ended = Counter((s.step, s.status) for s in expected["steps"]
                    if s.status in ("succeeded", "failed", "dead"))
    assert observed.values("retail_step_duration_seconds_count", "stage", "status") == {
        k: float(v) for k, v in ended.items()}
    durations = observed.values("retail_step_duration_seconds_sum", "stage", "status")
    for key in ended:
        want = sum(s.seconds for s in expected["steps"] if (s.step, s.status) == key)
        assert durations[key] == pytest.approx(want, rel=1e-6, abs=1e-6)

    checks = observed.values("retail_check_results", "check", "status")
    assert {k: v for k, v in checks.items() if v} == {
        k: float(v) for k, v in expected["checks"].items()}
    assert sum(expected["checks"].values()) > 20

    latest = observed.values("retail_run_latest_status == 1", "retailer", "status")
    assert latest == {(r, run_status): 1.0 for r in retailers}
    # The pipeline's first run was created today: the first date owed is the first whose
    # deadline comes after it (as GET /health counts), so nothing is late yet.
    from services.quality.deadlines import deadline, latest_due_date

    with engine.connect() as conn:
        first = conn.execute(text("select min(created_at) from ops.run")).scalar_one()
    owed = deadline(latest_due_date(first, settings.quality) + dt.timedelta(days=1),
                    settings.quality)
    # Owed by every retailer the pipeline expects (retailer5 too: its file is owed whether
    # or not this run asked for it).
    assert observed.values("retail_freshness_deadline_timestamp_seconds", "retailer") == {
        (r,): owed.timestamp() for r in RETAILER_IDS}
    ages = observed.values("retail_freshness_age_seconds", "retailer")
    end_of_day = dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(), dt.UTC)
    assert all(abs(age - (time.time() - end_of_day.timestamp())) < 120
               for age in ages.values()) and len(ages) == len(retailers)
    assert observed.values("retail_ops_scrape_success", "job") == {("retail-quality",): 1.0}

    # Process metrics of each API, by route template (the test polled GET /runs/{run_id}).
    polled = observed.values('retail_http_requests_total{job="retail-ingestion",'
                             'route="/runs/{run_id}",code="200"}', "method")
    assert polled[("GET",)] >= 1
    assert observed.values("up", "job") == {("retail-ingestion",): 1.0,
                                            ("retail-transformation",): 1.0,
                                            ("retail-quality",): 1.0, ("flower",): 1.0}
    # Flower saw the run's tasks succeed (the workers send task events): one per step. The
    # quality task's event leaves after its verdict commits, so Flower's scrape may show it
    # a scrape later than the quality API's.
    def flower_succeeded() -> dict[tuple[str, ...], float]:
        return observed.values('sum by (task) (flower_events_total{type="task-succeeded"})',
                               "task")

    succeeded = wait_until(
        lambda: (seen := flower_succeeded()).get(("quality.run_checks",)) == 1.0 and seen,
        30, "Flower's scrape of the quality task's success")
    assert sum(succeeded.values()) == sum(1 for s in expected["steps"]
                                          if s.status == "succeeded")


def test_every_metrics_page_passes_promtool(observed):
    for service, url in observed.apis.items():
        resp = httpx.get(f"{url}/metrics", timeout=10)
        assert resp.status_code == 200, service
        promtool_check(resp.text)
        assert "retail_http_requests_total" in resp.text, service
        assert ("retail_runs{" in resp.text) == (service == "quality"), service


def firing(observed, name: str) -> list[dict[str, Any]]:
    alerts = httpx.get(f"{observed.prometheus}/api/v1/alerts", timeout=10).json()
    return [a for a in alerts["data"]["alerts"]
            if a["labels"]["alertname"] == name and a["state"] == "firing"]


def test_prometheus_evaluates_the_alert_rules(observed, engine):
    resp = httpx.get(f"{observed.prometheus}/api/v1/rules", timeout=10).json()
    names = {r["name"] for g in resp["data"]["groups"] for r in g["rules"]}
    assert {"RetailRunFailed", "RetailDateLate", "RetailStepDead", "RetailRejectsAboveShare",
            "RetailStreamConsumerLagging", "RetailServiceDown"} <= names
    assert not firing(observed, "RetailDateLate") and not firing(observed, "RetailRunFailed")
    # A run created three days ago (canceled): from then on every date is owed, and the
    # days since are not complete, so each retailer is late.
    with engine.begin() as conn:
        conn.execute(text(
            "insert into ops.run (run_id, run_date, status, retailers, created_at) values "
            "(gen_random_uuid(), '2020-01-01', 'canceled', array['retailer1'], "
            "now() - interval '3 days')"))
    try:
        late = wait_until(lambda: firing(observed, "RetailDateLate"), 30,
                          "RetailDateLate to fire")
        assert {a["labels"]["retailer"] for a in late} == set(RETAILER_IDS)
    finally:
        with engine.begin() as conn:
            conn.execute(text("delete from ops.run where run_date = '2020-01-01'"))


def dashboard_expressions() -> list[tuple[str, str]]:
    board = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in board["panels"]
            for target in panel.get("targets", []) if target.get("expr")]


def test_every_dashboard_expression_returns_data(observed):
    expressions = dashboard_expressions()
    assert len(expressions) >= 10
    # Wait for a scrape after the run ended.
    wait_until(lambda: observed.query('retail_runs{status=~"succeeded.*"} > 0'), 30,
               "a scrape of the final run")
    empty = []
    for title, expr in expressions:
        # Grafana's $__rate_interval / $__range, as Grafana would fill them in.
        promql = expr.replace("$__rate_interval", "1m").replace("$__range", "1h")
        if not observed.query(promql):
            empty.append((title, expr))
    assert not empty, f"dashboard expressions without data: {empty}"


def lineage_events(observed) -> list[dict[str, Any]]:
    return [json.loads(line) for line in observed.lineage_file.read_text().splitlines()
            if line.strip()]


def test_every_step_has_valid_openlineage_start_and_complete_events(observed, engine):
    events = lineage_events(observed)
    for event in events:
        validate_run_event(event)
    with engine.connect() as conn:
        steps = conn.execute(text(
            "select step, retailer_id, status, counts from ops.run_step where run_id = :r"),
            {"r": observed.run_id}).all()
        results = conn.execute(text(
            "select count(*) from quality.check_result where run_id = :r"),
            {"r": observed.run_id}).scalar_one()
    by_job: dict[str, list[dict]] = {}
    for event in events:
        assert event["run"]["facets"]["parent"]["run"]["runId"] == observed.run_id
        by_job.setdefault(event["job"]["name"], []).append(event)
    assert len(steps) == 2 * len(observed.run["retailers"]) + 1
    for s in steps:
        job = s.step if s.retailer_id == "*" else f"{s.step}.{s.retailer_id}"
        kinds = [e["eventType"] for e in by_job[job]]
        assert kinds == ["START", "COMPLETE"], (job, kinds)
        assert len({e["run"]["runId"] for e in by_job[job]}) == 1
        complete = by_job[job][-1]
        outputs = {o["name"]: o for o in complete["outputs"]}
        if s.step == "ingest":
            assert {i["namespace"] for i in complete["inputs"]} == {
                f"retailer-api://{s.retailer_id}"}
            silver = outputs[f"silver/retailer={s.retailer_id}/entity=order_lines"]
            assert silver["outputFacets"]["outputStatistics"]["rowCount"] == \
                s.counts["order_lines"]["normalized"]
            assert [f["name"] for f in silver["facets"]["schema"]["fields"]][:3] == [
                "retailer_id", "order_id", "line_number"]
        if s.step == "transform":
            fact = next(o for n, o in outputs.items() if n.endswith(".warehouse.fact_sales"))
            written = s.counts["fact_sales"]["inserted"] + s.counts["fact_sales"]["updated"]
            assert fact["outputFacets"]["outputStatistics"]["rowCount"] == written
            assert "sale_key" in {f["name"] for f in fact["facets"]["schema"]["fields"]} or \
                fact["facets"]["schema"]["fields"]
            assert any(n.endswith(".marts.daily_orders") for n in outputs)
        if s.step == "quality":
            assertions = [a for i in complete["inputs"]
                          for a in i["inputFacets"]["dataQualityAssertions"]["assertions"]]
            assert len({a["name"] for a in assertions}) == results
            assert outputs[next(n for n in outputs if n.endswith("quality.check_result"))][
                "outputFacets"]["outputStatistics"]["rowCount"] == results


def test_the_schema_refuses_a_broken_event(observed):
    event = lineage_events(observed)[0]
    validate_run_event(event)
    broken = json.loads(json.dumps(event))
    broken["run"]["runId"] = "not-a-uuid"
    with pytest.raises(jsonschema.ValidationError):
        validate_run_event(broken)
    broken = {k: v for k, v in event.items() if k != "job"}
    with pytest.raises(jsonschema.ValidationError):
        validate_run_event(broken)
    broken = json.loads(json.dumps(event))
    broken["run"]["facets"]["parent"]["run"] = {}
    with pytest.raises(jsonschema.ValidationError):
        validate_run_event(broken)
