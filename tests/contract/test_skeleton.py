"""shared/api_app.py: the one skeleton of the three APIs (settings at start, one readiness
probe, the same error body), in-process."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from suite.processes import ROOT

SERVICES = ("ingestion", "transformation", "quality")


def test_importing_an_api_reads_no_settings():
    """uvicorn --factory builds the app at start: the modules import without any secret."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIPELINE_", "RETAILER"))}
    env["RETAIL_ENV_FILE"] = ""
    code = "; ".join(f"import services.{s}.api" for s in SERVICES)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    built = subprocess.run([sys.executable, "-c", code + "; services.quality.api.create_app()"],
                           env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert built.returncode == 2 and "PIPELINE_API_TOKEN: Field required" in built.stderr


@pytest.fixture
def clients(engine, s3, redis_db, settings):
    apps = {s: importlib.import_module(f"services.{s}.api").create_app(settings)
            for s in SERVICES}
    with TestClient(apps["ingestion"]) as i, TestClient(apps["transformation"]) as t, \
            TestClient(apps["quality"]) as q:
        yield {"ingestion": i, "transformation": t, "quality": q}


def test_the_three_probes_answer_alike(clients, settings, monkeypatch):
    ready = {s: c.get("/readyz") for s, c in clients.items()}
    assert {s: r.status_code for s, r in ready.items()} == dict.fromkeys(SERVICES, 200)
    shared = {"postgresql": "ok", "redis": "ok", "s3": "ok"}
    assert ready["ingestion"].json() == {"status": "ready", "checks": shared}
    # transformation adds its own: the marts' SQL is installed
    assert ready["transformation"].json() == {"status": "ready",
                                              "checks": {**shared, "marts": "ok"}}
    assert ready["quality"].json() == {"status": "ready",
                                       "checks": {"postgresql": "ok", "redis": "ok"}}
    # the app holds the settings it was built with: break Redis in them
    monkeypatch.setattr(settings, "redis_url", "redis://127.0.0.1:1/0")
    down = {s: c.get("/readyz") for s, c in clients.items()}
    for service, resp in down.items():
        body = resp.json()
        assert resp.status_code == 503, service
        assert set(body) == {"error", "detail", "checks"}, service
        assert body["error"] == "not_ready" and body["detail"].startswith(
            "not reachable: redis (ConnectionError"), service
        assert body["checks"]["postgresql"] == "ok", service
    assert all(c.get("/livez").json() == {"status": "ok"} for c in clients.values())


def test_the_app_uses_the_settings_it_was_given(engine, settings):
    """The token and the body limit come from the settings object the app was built with,
    not from a process-wide read."""
    from services.transformation.api import create_app

    new = settings.model_copy(update={"api_max_body_bytes": 2048,
                                      "pipeline_api_token": SecretStr("another-token")})
    with TestClient(create_app(new)) as client:
        old_token = client.post("/replays", json={"date": "2024-01-15"},
                                headers={"Authorization": "Bearer test-pipeline-token"})
        assert old_token.status_code == 401
        big = client.post("/replays", content=b" " * 3000,
                          headers={"Authorization": "Bearer another-token",
                                   "Content-Type": "application/json"})
        assert big.status_code == 413 and "at most 2048" in big.json()["detail"]
