"""Start, health-check and stop local processes; used by `make up` and by the tests."""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
# Where the local stack keeps pid files, logs and private servers. A second stack (the
# stack's own test) sets RETAIL_DATA_DIR so it never touches the developer's one.
DATA_DIR = Path(os.environ.get("RETAIL_DATA_DIR") or ROOT / ".data")


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.3) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        return httpx.get(url, timeout=timeout).status_code < 500
    except httpx.HTTPError:
        return False


def celery_worker_answers(broker_url: str, node: str, timeout: float = 0.5) -> bool:
    """Whether the Celery worker `node` (`name@host`) on `broker_url` answers a
    remote-control ping.

    A worker's process is alive seconds before it consumes (imports, pool start), so a
    message sent meanwhile waits for it; its ping reply says it consumes."""
    try:
        return bool(_control_app(broker_url).control.ping(destination=[node], timeout=timeout))
    except Exception:  # noqa: BLE001 - the broker not answering yet is "not ready"
        return False


@functools.cache
def _control_app(broker_url: str) -> Any:
    """A bare Celery app on a broker, only to ping workers."""
    from celery import Celery

    return Celery("control", broker=broker_url)


def celery_node(name: str) -> str:
    """The node name `celery worker -n {name}@%h` takes on this machine."""
    return f"{name}@{socket.gethostname()}"


def celery_worker_command(app: str, queues: Sequence[str], name: str,
                          concurrency: int) -> tuple[str, ...]:
    """`celery worker` for `app` (a tasks module) on `queues`, as node `{name}@<host>`."""
    return ("celery", "-A", f"{app}:celery_app", "worker", "-Q", ",".join(queues),
            "-c", str(concurrency), "-n", f"{name}@%h", "--without-gossip",
            "--without-mingle", "-l", "INFO")


def celery_worker_ready(broker_url: str, name: str) -> Callable[[], bool]:
    """The health check of a worker started by `celery_worker_command(..., name, ...)`:
    it answers a ping on its broker."""
    return lambda: celery_worker_answers(broker_url, celery_node(name))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ManagedProcess:
    """One child process in its own process group, logging to a file."""

    name: str
    cmd: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    # False: the child gets `env` alone (and PATH), not this process's environment.
    inherit_env: bool = True
    port: int | None = None
    health_url: str | None = None
    health: Callable[[], bool] | None = None
    log_dir: Path = DATA_DIR / "logs"
    cwd: Path = ROOT
    proc: subprocess.Popen | None = None

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def start(self) -> ManagedProcess:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        base = os.environ if self.inherit_env else {}
        env = {**base, "RETAIL_PROCESS_NAME": self.name, "PYTHONUNBUFFERED": "1", **self.env}
        env["PATH"] = f"{VENV_BIN}:{env.get('PATH') or os.environ.get('PATH', '')}"
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its life
        self.proc = subprocess.Popen(
            list(self.cmd), cwd=self.cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        return self

    def is_healthy(self) -> bool:
        if self.health is not None:
            return self.health()
        if self.health_url is not None:
            return http_ok(self.health_url)
        if self.port is not None:
            return port_open(self.port)
        return self.proc is not None and self.proc.poll() is None

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; "
                                   f"last log lines:\n{self.tail()}")
            if self.is_healthy():
                return
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not healthy after {timeout:.0f}s; log:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        stop_group(self.proc.pid, timeout)


def stop_group(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM a process group, then SIGKILL whatever is left after `timeout`."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        try:  # reap it if it is our child
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
