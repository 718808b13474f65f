"""The local stack without Docker: `retail up`, `down`, `status`, `logs`.

`up` reuses PostgreSQL and Redis when they answer (else starts private ones under `.data/`),
starts the S3 server (the lake on disk under `.data/lake`), the retailers and every service
process that exists, waits for each
health check and prints where each one is. Every process it starts is recorded in
`.data/run/<name>.pid`, so `down` stops exactly those and nothing it found running.

Each process gets only the variables its own settings class reads (`suite.settings.
PROCESS_SETTINGS`), not the operator's whole environment or `.env`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from suite import servers
from suite.processes import (
    DATA_DIR,
    ManagedProcess,
    celery_worker_command,
    celery_worker_ready,
    port_open,
    stop_group,
)
from suite.s3server import s3_server
from suite.settings import PROCESS_SETTINGS, StackSettings, all_setting_names, process_env

RUN_DIR = DATA_DIR / "run"
LOG_DIR = DATA_DIR / "logs"
LAKE_DIR = DATA_DIR / "lake"


@dataclass(frozen=True)
class Service:
    name: str
    module: str            # the process exists once this module does
    cmd: tuple[str, ...]
    port: int | None = None
    health_path: str | None = None
    url: str | None = None  # what a person opens
    env: tuple[tuple[str, str], ...] = ()  # for values kept off the command line
    # Healthy when this says so (a Celery worker: once it answers a ping, it consumes).
    health: Callable[[], bool] | None = None

    def process(self) -> ManagedProcess:
        health_url = f"http://127.0.0.1:{self.port}{self.health_path}" if self.health_path else None
        settings = PROCESS_SETTINGS.get(self.name)
        # A process of ours gets its own variables only; the S3 server gets none of them.
        env = process_env(settings) if settings is not None else process_env_without_settings()
        env = {**env, **dict(self.env)}
        return ManagedProcess(self.name, self.cmd, env=env, inherit_env=False, port=self.port,
                              health_url=health_url, health=self.health, log_dir=LOG_DIR)


def process_env_without_settings() -> dict[str, str]:
    known = all_setting_names()
    return {k: v for k, v in os.environ.items() if k not in known} | {"RETAIL_ENV_FILE": ""}


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def _celery_worker(service: str, concurrency: int, broker_url: str) -> Service:
    app = f"services.{service}.tasks"
    return Service(f"{service}-worker", app,
                   celery_worker_command(app, [service], service, concurrency),
                   health=celery_worker_ready(broker_url, service))


def services(s: StackSettings) -> list[Service]:
    """Every process of the suite, in start order."""
    s3_url = s.ingestion_worker.s3_endpoint_url
    s3_port = _port(s3_url or "http://x:9000")
    # The lake lives on disk under .data/lake, so `down` then `up` keeps every object.
    lake = s3_server("s3", s3_port, LAKE_DIR, access_key=s.ingestion_worker.s3_access_key_id,
                     secret_key=s.ingestion_worker.s3_secret_access_key.get_secret_value(),
                     log_dir=LOG_DIR)
    out = [Service("s3", "suite.s3server", tuple(lake.cmd), port=s3_port, url=s3_url,
                   env=tuple(lake.env.items()))]
    for rid in s.retailer_ids:
        url = s.retailer_url(rid)
        port = _port(url)
        out.append(Service(
            rid, "retailers.wsgi",
            ("gunicorn", "-w", str(s.retailers[rid].retailer.workers), "-k", "gthread",
             "--threads", "4", "-b", f"127.0.0.1:{port}", "--access-logfile", "-",
             f'retailers.wsgi:create_app("{rid}")'),
            port=port, health_path="/health", url=url))
    r4_url = str(s.ingestion_worker.retailer4.url)
    r4_port = _port(r4_url)
    out.append(Service(
        "retailer4", "retailers.retailer4.api",
        ("gunicorn", "-w", "1", "-k", "gthread", "--threads", "4", "-b",
         f"127.0.0.1:{r4_port}", "--access-logfile", "-", 'retailers.wsgi:create_app("retailer4")'),
        port=r4_port, health_path="/health", url=r4_url))
    apis = [("ingestion", s.ingestion_api.ingestion.port, "/docs"),
            ("transformation", s.transformation.transformation.port, "/docs"),
            ("quality", s.quality.quality.port, "/")]
    for name, port, page in apis:
        out.append(Service(
            f"{name}-api", f"services.{name}.api",
            # --factory: the app (and its settings) is built when the process starts
            ("uvicorn", f"services.{name}.api:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--no-access-log"),
            port=port, health_path="/livez", url=f"http://127.0.0.1:{port}{page}"))
    out += [
        _celery_worker("ingestion", s.ingestion_worker.ingestion.worker_concurrency,
                       s.redis_url),
        _celery_worker("transformation", s.transformation.transformation.worker_concurrency,
                       s.redis_url),
        _celery_worker("quality", s.quality.quality.worker_concurrency, s.redis_url),
        # retailer4's events: NATS JetStream -> lake -> (transformation) -> warehouse.
        Service("stream-consumer", "services.ingestion.stream.consumer",
                (sys.executable, "-m", "services.ingestion.stream.consumer")),
        Service("beat", "services.ingestion.schedule",
                ("celery", "-A", "services.ingestion.schedule:celery_app", "beat", "-s",
                 str(DATA_DIR / "celerybeat-schedule"), "-l", "INFO")),
        Service("flower", "flower",
                ("celery", "-A", "shared.celery_app:celery_app", "flower",
                 f"--port={s.flower.flower_port}", "--address=127.0.0.1"),
                port=s.flower.flower_port, url=f"http://127.0.0.1:{s.flower.flower_port}"),
    ]
    return [svc for svc in out if _exists(svc.module)]


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _pidfile(name: str) -> Path:
    return RUN_DIR / f"{name}.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def running_pid(name: str) -> int | None:
    path = _pidfile(name)
    if not path.exists():
        return None
    pid = int(path.read_text().strip() or 0)
    return pid if pid and _alive(pid) else None


def prepare_databases(s: StackSettings) -> None:
    """The warehouse schema, and each retailer's own database and schema."""
    from suite.dbinit import init_warehouse

    init_warehouse(s.database_url)
    prepare_retailer_databases()


def prepare_retailer_databases() -> None:
    """Each retailer's own database and schema, at its RETAILERn_DATABASE_URL."""
    if _exists("retailers.db"):
        from retailers.db import database_url, init_db
        from retailers.settings import RETAILER_IDS

        for rid in RETAILER_IDS:
            init_db(rid, database_url(rid))


def clear_queue_bindings(redis_url: str) -> None:
    """Forget the queue bindings recorded in Redis. Workers declare theirs again when they
    start; bindings of an older queue layout would otherwise keep routing messages."""
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter("_kombu.binding*"):
        client.delete(key)


def up(s: StackSettings, *, echo=print) -> list[tuple[Service, str]]:
    """Start what is not running; returns each service with 'started' or 'running'."""
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    echo(f"postgres  {servers.ensure_postgres()} on 127.0.0.1:5432")
    how, redis = servers.ensure_redis()
    if redis is not None and redis.proc is not None:
        _pidfile("redis").write_text(str(redis.proc.pid))
    echo(f"redis     {how} on 127.0.0.1:6379")
    how, nats = servers.ensure_nats(_port(s.stream.stream.nats_url))
    if nats is not None and nats.proc is not None:
        _pidfile("nats").write_text(str(nats.proc.pid))
    echo(f"nats      {how} on {s.stream.stream.nats_url}")
    prepare_databases(s)
    if not any(running_pid(svc.name) for svc in services(s) if "worker" in svc.name):
        clear_queue_bindings(s.redis_url)
    results: list[tuple[Service, str]] = []
    pending: list[tuple[Service, ManagedProcess]] = []
    for svc in services(s):
        if running_pid(svc.name):
            results.append((svc, "running"))
            continue
        if svc.port and port_open(svc.port):
            raise RuntimeError(f"port {svc.port} for {svc.name} is taken by another process; "
                               "stop it or change the port in .env")
        proc = svc.process().start()
        assert proc.proc is not None
        _pidfile(svc.name).write_text(str(proc.proc.pid))
        pending.append((svc, proc))
        if svc.name == "s3":  # everything after it may create the bucket at start
            proc.wait_healthy(60)
    for svc, proc in pending:
        try:
            proc.wait_healthy(90)
        except (RuntimeError, TimeoutError) as exc:
            echo(f"{svc.name} failed to start:\n{exc}")
            raise
        results.append((svc, "started"))
    start_supervisor(echo)
    return results


SUPERVISOR = "supervisor"


def start_supervisor(echo=print) -> None:
    """Start the process that restarts a dead one (suite/supervisor.py), unless it runs."""
    if running_pid(SUPERVISOR):
        return
    proc = ManagedProcess(SUPERVISOR, (sys.executable, "-m", "suite.supervisor"),
                          log_dir=LOG_DIR).start()
    assert proc.proc is not None
    _pidfile(SUPERVISOR).write_text(str(proc.proc.pid))
    echo(f"supervisor restarts a process that dies (pid {proc.proc.pid})")


def down(*, echo=print) -> list[str]:
    """Stop every process `up` started (and a private PostgreSQL), nothing else."""
    stopped = []
    # The supervisor first, or it would start again what is being stopped.
    supervisor = _pidfile(SUPERVISOR)
    if supervisor.exists():
        pid = int(supervisor.read_text().strip() or 0)
        if pid and _alive(pid):
            stop_group(pid)
            stopped.append(SUPERVISOR)
        supervisor.unlink(missing_ok=True)
    if RUN_DIR.exists():
        for path in sorted(RUN_DIR.glob("*.pid")):
            pid = int(path.read_text().strip() or 0)
            if pid and _alive(pid):
                stop_group(pid)
                stopped.append(path.stem)
            path.unlink(missing_ok=True)
    if servers.stop_postgres():
        stopped.append("postgres")
    for name in stopped:
        echo(f"stopped {name}")
    return stopped


def status(s: StackSettings) -> list[tuple[str, str, str]]:
    """(name, state, where) for every process of the stack."""
    rows = []
    for svc in services(s):
        pid = running_pid(svc.name)
        if pid is None:
            state = "stopped"
        else:
            healthy = svc.process().is_healthy() if (svc.port or svc.health_path) else True
            state = f"running (pid {pid})" + ("" if healthy else ", not healthy")
        rows.append((svc.name, state, svc.url or ""))
    pid = running_pid(SUPERVISOR)
    rows.append((SUPERVISOR, f"running (pid {pid})" if pid else "stopped",
                 "restarts a process that dies"))
    return rows


def follow_logs(names: list[str] | None = None) -> None:
    """Print new lines of every log, prefixed with the process name, until interrupted."""
    colors = ["36", "32", "33", "35", "34", "31", "96", "92", "93", "95"]
    files: dict[str, object] = {}
    try:
        while True:
            for path in sorted(LOG_DIR.glob("*.log")):
                name = path.stem
                if names and name not in names:
                    continue
                if name not in files:
                    fh = open(path, errors="replace")  # noqa: SIM115 - kept open while following
                    fh.seek(0, os.SEEK_END)
                    files[name] = fh
            idle = True
            for i, (name, fh) in enumerate(sorted(files.items())):
                for line in fh.readlines():  # type: ignore[attr-defined]
                    idle = False
                    sys.stdout.write(f"\033[{colors[i % len(colors)]}m{name:>22} |\033[0m {line}")
            sys.stdout.flush()
            if idle:
                time.sleep(0.3)
    except KeyboardInterrupt:
        pass
