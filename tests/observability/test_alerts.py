"""The alert rules and the scrape config, checked and unit-tested by promtool (Debian's
`prometheus` package; `make test` installs it when missing)."""

from __future__ import annotations

import subprocess

import yaml

from suite.processes import ROOT

PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"


def promtool(*args: str) -> str:
    done = subprocess.run(["promtool", *args], cwd=PROMETHEUS_DIR, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_alert_rules_pass_their_unit_tests():
    assert "SUCCESS" in promtool("test", "rules", "alerts_test.yml")


def test_every_alert_rule_is_unit_tested_and_the_config_is_valid():
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert {"RetailRunFailed", "RetailDateLate", "RetailStepDead", "RetailRejectsAboveShare",
            "RetailStreamConsumerLagging", "RetailServiceDown"} <= names
    tests = yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text())
    tested = {case["alertname"] for t in tests["tests"] for case in t["alert_rule_test"]
              if case.get("exp_alerts")}
    assert names <= tested, f"alerts never seen firing in alerts_test.yml: {names - tested}"
    promtool("check", "rules", "alerts.yml")
    promtool("check", "config", "--syntax-only", "prometheus.yml")


def test_the_dashboard_is_provisioned_on_the_prometheus_data_source():
    import json

    grafana = ROOT / "deploy" / "grafana"
    source = yaml.safe_load((grafana / "provisioning" / "datasources" /
                             "prometheus.yml").read_text())["datasources"][0]
    board = json.loads((grafana / "dashboards" / "retail-pipeline.json").read_text())
    assert board["uid"] == "retail-pipeline" and board["panels"]
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == source["uid"], panel["title"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    # Compose mounts the dashboards where the provider reads them, and Prometheus's config.
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    provider = yaml.safe_load((grafana / "provisioning" / "dashboards" /
                               "dashboards.yml").read_text())["providers"][0]
    assert (f"./deploy/grafana/dashboards:{provider['options']['path']}:ro"
            in compose["grafana"]["volumes"])
    assert compose["prometheus"]["profiles"] == compose["grafana"]["profiles"] == ["ops"]
    assert source["url"] == "http://prometheus:9090"
