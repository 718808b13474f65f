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
