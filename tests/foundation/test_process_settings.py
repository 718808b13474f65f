"""Each process reads only its own variables, and starts with only those set.

The lists come from the settings classes (`settings_env_names`); the real processes below
are started with an environment holding exactly their class's variables (plus PATH), and
`/proc/<pid>/environ` proves nothing else reached them.
"""

from __future__ import annotations

import ast
import datetime as dt
import os
from pathlib import Path

import httpx
import pytest

from shared.settings import settings_env_names
from suite.processes import ROOT, VENV_BIN, ManagedProcess, free_port
from suite.settings import PROCESS_SETTINGS, process_env
from tests.fixtures.core import LOG_DIR, celery_worker, purge_queues

# What a child gets besides its settings: where programs are, and that it reads no `.env`.
PLUMBING = {"PATH", "RETAIL_ENV_FILE", "RETAIL_PROCESS_NAME", "PYTHONUNBUFFERED"}
PIPELINE_ONLY = {"DATABASE_URL", "REDIS_URL", "PIPELINE_API_TOKEN", "S3_SECRET_ACCESS_KEY"}


def names(process: str) -> set[str]:
    return set(settings_env_names(PROCESS_SETTINGS[process]))


def only_env(process: str) -> dict[str, str]:
    """Exactly the variables of `process`'s class that the test environment sets."""
    env = {n: os.environ[n] for n in names(process) if n in os.environ}
    return {**env, "PATH": os.environ["PATH"], "RETAIL_ENV_FILE": ""}


def environ_of(pid: int) -> set[str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return {item.split(b"=", 1)[0].decode() for item in raw if item}


# --- what each class reads -----------------------------------------------------------------

def test_a_retailer_reads_its_own_variables_and_nothing_of_the_pipeline():
    for rid in ("retailer1", "retailer2", "retailer3"):
        own = names(rid)
        others = {n for n in own if n.startswith("RETAILER") and n[8:9].isdigit()
                  and not n.startswith(rid.upper() + "_")}
        assert not others, f"{rid} reads another retailer's variables: {others}"
        assert not own & PIPELINE_ONLY, rid
        assert f"{rid.upper()}_DATABASE_URL" in own and "RETAILER_ADMIN_TOKEN" in own
    assert "RETAILER3_TOKEN_SIGNING_KEY" in names("retailer3")


def test_only_the_ingestion_worker_knows_the_retailers_credentials():
    secrets = {"RETAILER1_API_KEY", "RETAILER2_PASSWORD", "RETAILER3_CLIENT_SECRET"}
    holders = {p for p in PROCESS_SETTINGS if names(p) & secrets}
    assert holders == {"ingestion-worker", "retailer1", "retailer2", "retailer3"}
    # The pipeline never holds what only a retailer needs.
    assert "RETAILER3_TOKEN_SIGNING_KEY" not in names("ingestion-worker")
    assert not {n for n in names("ingestion-worker") if n.endswith("_DATABASE_URL")
                and n.startswith("RETAILER")}


def test_the_token_is_read_by_the_apis_only_and_beat_reads_no_database():
    holders = {p for p in PROCESS_SETTINGS if "PIPELINE_API_TOKEN" in names(p)}
    assert holders == {"ingestion-api", "transformation-api", "quality-api"}
    assert names("beat") == {"BI_GUARD_INTERVAL_SECONDS", "INBOX_SCAN_SECONDS", "LOG_FORMAT",
                             "LOG_LEVEL",
                             "REDIS_URL", "SCHEDULE_HOUR_UTC",
                             "SCHEDULE_MINUTE", "SWEEPER_INTERVAL_SECONDS",
                             "TASK_VISIBILITY_TIMEOUT_SECONDS"}
    quality = names("quality-worker")
    assert not {n for n in quality if n.startswith(("S3_", "RETAILER", "INGESTION_"))}


def test_the_operator_cli_reads_no_secret_it_does_not_use():
    from suite.settings import DbInitSettings, OperatorSettings

    assert set(settings_env_names(DbInitSettings)) == {"DATABASE_URL", "BI_READER_PASSWORD",
                                                        "LOG_FORMAT", "LOG_LEVEL"}
    operator = set(settings_env_names(OperatorSettings))
    assert not {n for n in operator if n.startswith(("S3_", "RETAILER", "QUALITY_"))}
    assert "PIPELINE_API_TOKEN" not in operator
    assert {"INGESTION_MAX_BACKFILL_DAYS", "TRANSFORMATION_REPLAY_WAIT_SECONDS"} <= operator


def test_the_stack_hands_a_process_only_its_own_variables(monkeypatch):
    monkeypatch.setenv("SOMETHING_ELSE", "kept")
    env = process_env(PROCESS_SETTINGS["retailer2"])
    ours = {k for k in env if k in names("retailer2")}
    assert "RETAILER2_PASSWORD" in ours and env["SOMETHING_ELSE"] == "kept"
    assert not set(env) & (PIPELINE_ONLY | {"RETAILER1_API_KEY", "RETAILER3_CLIENT_SECRET"})
    assert env["RETAIL_ENV_FILE"] == ""


def test_the_retailers_import_nothing_of_the_pipeline():
    offenders = []
    for path in (ROOT / "retailers").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(ROOT)}: {m}" for m in mods
                          if m.split(".")[0] in ("shared", "services", "suite", "bench")]
    assert offenders == []


# --- real processes with only their own variables -------------------------------------------

@pytest.mark.parametrize("retailer_id", ["retailer1", "retailer3"])
def test_a_retailer_serves_with_only_its_own_variables(retailer_apps, retailer_id):
    port = free_port()
    env = only_env(retailer_id)
    assert not set(env) & PIPELINE_ONLY
    proc = ManagedProcess(
        f"{retailer_id}-own-env",
        [str(VENV_BIN / "gunicorn"), "-w", "1", "-k", "gthread", "--threads", "2", "-b",
         f"127.0.0.1:{port}", f'retailers.wsgi:create_app("{retailer_id}")'],
        env=env, inherit_env=False, port=port, health_url=f"http://127.0.0.1:{port}/health",
        log_dir=LOG_DIR)
    try:
        proc.start().wait_healthy(60)
        assert proc.proc is not None
        assert environ_of(proc.proc.pid) <= names(retailer_id) | PLUMBING
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
        assert health.json() == {"status": "ok", "retailer": retailer_id}
        if retailer_id == "retailer1":
            key = retailer_apps.credentials["retailer1"]["api_key"]
            url = f"http://127.0.0.1:{port}/api/v1/order-lines"
            day = dt.date(2024, 1, 15).isoformat()
            assert httpx.get(url, params={"date": day}, timeout=30).status_code == 401
            ok = httpx.get(url, params={"date": day}, headers={"X-API-Key": key}, timeout=30)
            assert ok.status_code == 200 and ok.json()["total"] > 0
    finally:
        proc.stop()


@pytest.mark.parametrize(("process", "app"), [
    ("quality-worker", "services.quality.tasks"),
    ("ingestion-worker", "services.ingestion.tasks"),
])
def test_a_worker_reaches_ready_with_only_its_own_variables(redis_db, warehouse_db, process,
                                                            app):
    purge_queues()
    queue = process.split("-")[0]
    worker = celery_worker(app, [queue], name=f"{process}-own-env")
    worker.env, worker.inherit_env = only_env(process), False
    assert "PIPELINE_API_TOKEN" not in worker.env
    try:
        worker.start().wait_healthy(60)
        assert worker.proc is not None
        assert environ_of(worker.proc.pid) <= names(process) | PLUMBING
    finally:
        worker.stop()


def test_a_worker_missing_its_own_variable_names_it(redis_db):
    env = only_env("ingestion-worker")
    del env["RETAILER2_PASSWORD"]
    worker = celery_worker("services.ingestion.tasks", ["ingestion"], name="ingestion-no-r2")
    worker.env, worker.inherit_env = env, False
    worker.start()
    assert worker.proc is not None
    assert worker.proc.wait(60) == 2
    assert "RETAILER2_PASSWORD: Field required" in worker.log_path.read_text()


def test_the_quality_api_answers_with_only_its_own_variables(warehouse_db, redis_db):
    port = free_port()
    proc = ManagedProcess(
        "quality-api-own-env",
        [str(VENV_BIN / "uvicorn"), "services.quality.api:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port)],
        env=only_env("quality-api"), inherit_env=False, port=port,
        health_url=f"http://127.0.0.1:{port}/livez", log_dir=LOG_DIR)
    try:
        proc.start().wait_healthy(60)
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"postgresql": "ok", "redis": "ok"}
        assert proc.proc is not None
        assert environ_of(proc.proc.pid) <= names("quality-api") | PLUMBING
    finally:
        proc.stop()
