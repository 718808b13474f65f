"""docker-compose.yml and the Dockerfiles, checked without a Docker engine.

Each compose service must build or pull an image, have a healthcheck (its own or its
Dockerfile's) unless it is a one-shot, wait for its dependencies' health, receive only
variables the settings object knows, and run only commands that exist in the project.
"""

from __future__ import annotations

import importlib
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

from suite.settings import all_setting_names

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]
THIRD_PARTY_IMAGES = ("postgres:", "redis:", "minio/", "metabase/")
# Variables our images read that are not settings: which retailer a container serves.
IMAGE_VARIABLES = {"RETAILER_ID", "RETAILER_PORT"}


def settings_variables() -> set[str]:
    """Every environment variable name a settings class of the suite reads."""
    return all_setting_names()


def ours(name: str) -> bool:
    return "build" in SERVICES[name]


def dockerfile(name: str) -> Path:
    build = SERVICES[name]["build"]
    return ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")


def one_shot(name: str) -> bool:
    return SERVICES[name].get("restart") == "no"


def command_of(name: str) -> list[str]:
    svc = SERVICES[name]
    if "command" in svc:
        cmd = svc["command"]
        return cmd if isinstance(cmd, list) else shlex.split(cmd)
    text = dockerfile(name).read_text()
    cmd = re.search(r"^CMD (\[.*\])$", text, re.M)
    assert cmd, f"{dockerfile(name)} has no CMD"
    return yaml.safe_load(cmd.group(1))


def test_every_service_builds_or_pulls_an_image():
    for name, svc in SERVICES.items():
        assert ("build" in svc) != ("image" in svc), f"{name}: exactly one of build/image"
        if "image" in svc:
            assert svc["image"].startswith(THIRD_PARTY_IMAGES), name
        else:
            assert dockerfile(name).exists(), f"{name}: {dockerfile(name)} is missing"


def test_every_long_running_service_has_a_healthcheck():
    for name, svc in SERVICES.items():
        if one_shot(name):
            continue
        has = "healthcheck" in svc or (ours(name) and "HEALTHCHECK" in dockerfile(name).read_text())
        assert has, f"{name} has no healthcheck"


def test_dependencies_wait_for_health_or_completion():
    for name, svc in SERVICES.items():
        deps = svc.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on must say a condition"
        for dep, spec in deps.items():
            assert dep in SERVICES, f"{name} depends on unknown {dep}"
            cond = spec["condition"]
            if cond == "service_healthy":
                assert not one_shot(dep), f"{name} waits for health of one-shot {dep}"
            else:
                assert cond == "service_completed_successfully" and one_shot(dep), (name, dep)


def test_environment_matches_the_settings_object():
    known = settings_variables() | IMAGE_VARIABLES
    required = {"PIPELINE_API_TOKEN", "RETAILER_ADMIN_TOKEN", "RETAILER1_API_KEY",
                "RETAILER2_PASSWORD", "RETAILER3_CLIENT_SECRET", "RETAILER3_TOKEN_SIGNING_KEY",
                "DATABASE_URL", "REDIS_URL", "S3_ENDPOINT_URL", "S3_BUCKET"}
    for name, svc in SERVICES.items():
        if not ours(name):
            continue
        env = svc.get("environment", {})
        unknown = set(env) - known
        assert not unknown, f"{name} passes variables no setting reads: {sorted(unknown)}"
        assert required <= set(env), f"{name} lacks {sorted(required - set(env))}"


def test_every_interpolated_variable_is_in_env_example():
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^([A-Z0-9_]+)=", example, re.M))
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", (ROOT / "docker-compose.yml").read_text()))
    assert used <= listed, f"not in .env.example: {sorted(used - listed)}"
    assert settings_variables() <= listed, (
        f"settings missing from .env.example: {sorted(settings_variables() - listed)}")


def _check_import(target: str) -> None:
    module, _, attr = target.partition(":")
    mod = importlib.import_module(module)
    if attr:
        attr_name = attr.split("(")[0]
        assert hasattr(mod, attr_name), f"{module} has no {attr_name}"


def _check_command(cmd: list[str]) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    exe = cmd[0]
    if exe == "sh":
        inner = shlex.split(cmd[-1].replace('"', ""))
        return _check_command([w for w in inner if w != "exec"])
    if exe == "celery":
        _check_import(cmd[cmd.index("-A") + 1])
    elif exe in ("uvicorn", "gunicorn"):
        target = next(a for a in cmd[1:] if ":" in a and not a.startswith(("-", "0.0", "127")))
        _check_import(target.strip("'\""))
    elif exe in scripts:
        module, _, func = scripts[exe].partition(":")
        _check_import(f"{module}:{func}")
        typer_app = importlib.import_module(module).app
        names = {c.name or c.callback.__name__.replace("_", "-")
                 for c in typer_app.registered_commands}
        assert cmd[1] in names, f"`{exe} {cmd[1]}` is not a command (has {sorted(names)})"
    else:
        pytest.fail(f"unknown executable {exe!r} in {cmd}")


def test_every_command_exists_in_the_project():
    for name in SERVICES:
        if ours(name):
            _check_command(command_of(name))
        hc = SERVICES[name].get("healthcheck", {}).get("test", [])
        if ours(name) and hc and hc[0] == "CMD-SHELL" and hc[1].startswith("celery"):
            _check_command(shlex.split(hc[1]))


def test_dockerfiles_copy_what_exists_and_run_as_non_root():
    for path in [*ROOT.glob("services/*/Dockerfile"), ROOT / "retailers" / "Dockerfile"]:
        text = path.read_text()
        assert re.search(r"^FROM python:3\.11-slim", text, re.M), path
        assert re.search(r"^USER (?!root)\w+", text, re.M), f"{path} runs as root"
        assert "requirements.lock" in text and (ROOT / "requirements.lock").exists()
        for src in re.findall(r"^COPY (\S+) ", text, re.M):
            assert (ROOT / src).exists(), f"{path}: COPY {src} does not exist"


def test_transformation_workers_can_scale():
    worker = SERVICES["transformation-worker"]
    assert "container_name" not in worker and "ports" not in worker


def test_optional_tools_sit_behind_profiles():
    assert SERVICES["metabase"]["profiles"] == ["bi"]
    assert "profiles" in SERVICES["flower"]
