"""docker-compose.yml read as the one table of our containers: image target, command,
healthcheck and the names of the variables each gets.

The static test (test_compose.py) checks that table against the settings classes; the
container test (test_images.py) runs our images with exactly those variable names, their
values pointed at this machine's servers instead of compose's hostnames.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
# `${NAME}`, `${NAME:-default}`, `${NAME:?message}` (compose's interpolation).
_INTERPOLATION = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def ours() -> list[str]:
    """The compose services built from our Dockerfile."""
    return [name for name, svc in SERVICES.items() if "build" in svc]


def target(service: str) -> str:
    return SERVICES[service]["build"]["target"]


def one_shot(service: str) -> bool:
    return SERVICES[service].get("restart") == "no"


def env_names(service: str) -> set[str]:
    return set(SERVICES[service].get("environment") or {})


def interpolate(text: str, values: dict[str, str]) -> str:
    """Compose's `${...}` interpolation with `values` as the .env; `$$` is a literal `$`."""

    def sub(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if name in values:
            return values[name]
        if op and op.endswith("-"):
            return arg
        raise KeyError(f"{name} has no value and no default")

    return _INTERPOLATION.sub(sub, text).replace("$$", "$")


def environment(service: str, values: dict[str, str]) -> dict[str, str]:
    """The service's variables: each from `values` when given there (this machine's
    servers, ports and test secrets), else compose's own value interpolated."""
    env = SERVICES[service].get("environment") or {}
    return {name: values[name] if name in values else interpolate(str(raw), values)
            for name, raw in env.items()}


def command(service: str, values: dict[str, str]) -> list[str]:
    """The service's command as compose would run it (empty: the image's default)."""
    cmd = SERVICES[service].get("command")
    if cmd is None:
        return []
    words = cmd if isinstance(cmd, list) else shlex.split(cmd)
    return [interpolate(str(w), values) for w in words]


def health_cmd(service: str) -> str | None:
    """The compose healthcheck's shell command (None: the image's own HEALTHCHECK)."""
    test = (SERVICES[service].get("healthcheck") or {}).get("test")
    if not test:
        return None
    if test[0] == "CMD-SHELL":
        return str(test[1]).replace("$$", "$")
    return shlex.join(test[1:])
