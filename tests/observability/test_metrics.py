"""GET /metrics on each API: Prometheus' text format that `promtool check metrics` accepts,
request counts by route template, and the pipeline's figures equal to the ops tables."""

from __future__ import annotations

import subprocess

from prometheus_client.parser import text_string_to_metric_families

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
