"""Podman as this machine runs it: runc, cgroupfs, host networking, a local base image.

Our machines have no Docker engine and no image registry (docs/containers.md). Podman and
runc come from Debian's packages (`tests/containers/prepare.sh` installs them and builds the
base image once); this module builds our images from ./Dockerfile on that base and runs
them, each call a plain `podman` command whose failure carries podman's own words.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The project's engine settings: runc with cgroupfs and no default ulimits, which this
# sandbox needs (crun cannot set rlimits here, and the cgroup layout is hybrid).
CONTAINERS_CONF = Path(__file__).with_name("containers.conf")
RUNTIME = "/usr/sbin/runc"
# The local stand-in for python:3.11-slim (Debian bookworm minbase + python3, python3-venv).
BASE_IMAGE = os.environ.get("RETAIL_BASE_IMAGE", "localhost/retail-base:bookworm")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
# Every image target of ./Dockerfile.
TARGETS = ("retailers", "ingestion", "stream-consumer", "beat", "transformation", "quality",
           "setup", "flower")


def podman(*args: str, check: bool = True, timeout: float = 900,
           capture: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `podman <args>` with the project's engine settings."""
    env = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}
    proc = subprocess.run(["podman", "--runtime", RUNTIME, *args], env=env, text=True,
                          capture_output=capture, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args[:3])} ... exited {proc.returncode}:\n"
                           f"{(proc.stderr or '')[-4000:]}\n{(proc.stdout or '')[-2000:]}")
    return proc


def image_name(target: str, tag: str) -> str:
    return f"localhost/retail-{target}:{tag}"


@dataclass
class Build:
    target: str
    image: str
    seconds: float
    size_bytes: int


def build(target: str, tag: str, log_dir: Path) -> Build:
    """Build one target of ./Dockerfile on the local base image, with the host's CA for pip.

    Docker format, so the image keeps its HEALTHCHECK (the OCI format has none).
    """
    image = image_name(target, tag)
    log_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    args = ["build", "--network", "host", "--format", "docker", "--target", target,
            "--tag", image, "--build-arg", f"PYTHON_IMAGE={BASE_IMAGE}"]
    if HOST_CA.exists():
        args += ["--volume", f"{HOST_CA}:/host-ca.crt:ro", "--build-arg", "PIP_CERT=/host-ca.crt"]
    log = log_dir / f"build-{target}.log"
    # Streamed to a file, so a slow build can be followed (`tail -f`) while it runs.
    with log.open("w") as out:
        proc = subprocess.run(["podman", "--runtime", RUNTIME, *args, str(ROOT)],
                              env={**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)},
                              stdout=out, stderr=subprocess.STDOUT, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"building {target} failed:\n{log.read_text()[-4000:]}")
    seconds = time.monotonic() - t0
    size = int(podman("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())
    return Build(target, image, seconds, size)


@dataclass
class Container:
    """A running (or finished) container of ours."""

    name: str
    image: str
    env: dict[str, str]
    command: list[str] = field(default_factory=list)

    def start(self, health_cmd: str | None = None, detach: bool = True) -> Container:
        podman("rm", "--force", "--ignore", self.name)
        args = ["run", "--name", self.name, "--hostname", self.name, "--network", "host"]
        # The environment is exactly what we pass: no host variables leak in.
        for key, value in self.env.items():
            args += ["--env", f"{key}={value}"]
        if health_cmd:
            args += ["--health-cmd", health_cmd, "--health-interval", "disable"]
        args += ["--detach"] if detach else []
        podman(*args, self.image, *self.command, timeout=600)
        return self

    def run_to_end(self, timeout: float = 600) -> tuple[int, str, str]:
        """Run the container in the foreground until it exits: (exit code, stdout, stderr).
        Podman's own warnings go to stderr too, so only stdout is the container's alone."""
        podman("rm", "--force", "--ignore", self.name)
        args = ["run", "--name", self.name, "--hostname", self.name, "--network", "host"]
        for key, value in self.env.items():
            args += ["--env", f"{key}={value}"]
        proc = podman(*args, self.image, *self.command, check=False, timeout=timeout)
        podman("rm", "--force", "--ignore", self.name, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def healthy(self) -> bool:
        """Run the container's healthcheck once now (podman has no timer here)."""
        return podman("healthcheck", "run", self.name, check=False, timeout=60).returncode == 0

    def running(self) -> bool:
        out = podman("inspect", "--format", "{{.State.Running}}", self.name, check=False)
        return out.stdout.strip() == "true"

    def logs(self, tail: int = 60) -> str:
        out = podman("logs", "--tail", str(tail), self.name, check=False)
        return out.stdout + out.stderr

    def exec(self, *cmd: str) -> str:
        return podman("exec", self.name, *cmd, timeout=120).stdout

    def environment(self) -> dict[str, str]:
        """The environment the container's main process sees (from /proc/1/environ)."""
        raw = self.exec("cat", "/proc/1/environ")
        pairs = [item.split("=", 1) for item in raw.split("\0") if "=" in item]
        return {key: value for key, value in pairs}

    def remove(self) -> None:
        podman("rm", "--force", "--ignore", "--time", "5", self.name, check=False)


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return name.lower().replace("_", "-").replace(".", "-")


def image_env(image: str) -> dict[str, str]:
    """The ENV an image sets itself."""
    out = podman("image", "inspect", "--format", "{{json .Config.Env}}", image).stdout
    return dict(item.split("=", 1) for item in json.loads(out))
