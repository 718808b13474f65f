"""docker-compose.yml and ./Dockerfile, checked without an engine (part of `make test`).

What the container test cannot see on a machine without a registry (the third-party
images, compose's own dependency graph) and what must hold for every service whether or not
it was started: each container gets only variables its process's settings class reads and
every secret that class requires; third-party images are pinned; long-running services have
a healthcheck; one-shots are waited for by completion.
"""

from __future__ import annotations

import re
import tomllib

from pydantic_settings import BaseSettings

from tests.containers.compose import ROOT, SERVICES, command, env_names, one_shot, ours, target

DOCKERFILE = (ROOT / "Dockerfile").read_text()
# Variables our images' commands read themselves, not a settings class: which retailer a
# container serves and on which port gunicorn listens.
IMAGE_VARIABLES = {"RETAILER_ID", "RETAILER_PORT"}
PIPELINE_VARIABLES = {"DATABASE_URL", "PIPELINE_API_TOKEN", "REDIS_URL", "S3_ENDPOINT_URL",
                      "S3_SECRET_ACCESS_KEY", "BI_READER_PASSWORD"}


def settings_of(service: str) -> list[type[BaseSettings]]:
    """The settings classes the process of a compose service builds."""
    # Imported here, not at the top: the other checks of this file stand without them.
    from retailers.settings import DATABASES, GeneratorSettings
    from suite.settings import PROCESS_SETTINGS, DbInitSettings

    if service == "warehouse-setup":
        return [DbInitSettings]
    if service == "retailers-seed":
        return [GeneratorSettings, *DATABASES.values()]
    return [PROCESS_SETTINGS[service]]


def required_names(cls: type[BaseSettings]) -> set[str]:
    """Variables `cls` cannot start without (fields with no default), nested included."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for name, field in cls.model_fields.items():
        sub = field.annotation
        if isinstance(sub, type) and issubclass(sub, BaseSettings):
            names |= required_names(sub)
        elif field.is_required():
            names.add((prefix + name).upper())
    return names


def stage(name: str) -> str:
    """The text of a Dockerfile stage, up to the next FROM."""
    m = re.search(rf"^FROM \S+ AS {re.escape(name)}\n(.*?)(?=^FROM |\Z)", DOCKERFILE, re.M | re.S)
    assert m, f"Dockerfile has no stage {name}"
    return m.group(1)


def test_each_container_gets_only_what_its_settings_read_and_every_required_secret():
    from shared.settings import settings_env_names

    for service in ours():
        classes = settings_of(service)
        readable = {n for cls in classes for n in settings_env_names(cls)} | IMAGE_VARIABLES
        given = env_names(service)
        assert given <= readable, f"{service} gets variables it never reads: " \
            f"{sorted(given - readable)}"
        required = {n for cls in classes for n in required_names(cls)}
        assert required <= given, f"{service} lacks {sorted(required - given)}"


def test_the_retailers_know_nothing_of_the_pipeline_nor_of_each_other():
    for rid in ("retailer1", "retailer2", "retailer3"):
        given = env_names(rid)
        assert not given & PIPELINE_VARIABLES, f"{rid} gets {sorted(given & PIPELINE_VARIABLES)}"
        others = {r.upper() + "_" for r in ("retailer1", "retailer2", "retailer3") if r != rid}
        assert not [n for n in given if n.startswith(tuple(others))], rid
    seed = env_names("retailers-seed")
    assert not seed & PIPELINE_VARIABLES
    assert not [n for n in seed if n.endswith(("_API_KEY", "_PASSWORD", "_SECRET"))], seed


def test_only_the_ingestion_worker_holds_the_retailers_credentials():
    for service in ours():
        creds = {n for n in env_names(service)
                 if n.startswith("RETAILER") and n.endswith(("_API_KEY", "_PASSWORD",
                                                             "_CLIENT_SECRET"))}
        if service == "ingestion-worker":
            assert creds == {"RETAILER1_API_KEY", "RETAILER2_PASSWORD",
                             "RETAILER3_CLIENT_SECRET"}
        elif not service.startswith("retailer"):
            assert not creds, f"{service} holds {sorted(creds)}"


def test_third_party_images_are_pinned():
    for name, svc in SERVICES.items():
        assert ("build" in svc) != ("image" in svc), f"{name}: exactly one of build/image"
        if "image" in svc:
            image, _, tag = svc["image"].partition(":")
            assert tag and tag != "latest" and re.search(r"\d", tag), f"{name}: {svc['image']}"
    images = {svc["image"].split(":")[0] for svc in SERVICES.values() if "image" in svc}
    assert {"postgres", "redis", "minio/minio", "minio/mc", "metabase/metabase",
            "nats"} <= images
    assert "-js" in SERVICES["nats"]["command"]


def test_every_long_running_service_has_a_healthcheck():
    for name, svc in SERVICES.items():
        if one_shot(name):
            continue
        has = "healthcheck" in svc or ("build" in svc and "HEALTHCHECK" in stage(target(name)))
        assert has, f"{name} has no healthcheck"
    # Beat's proves the schedule ticks, not that a file exists.
    assert "services.ingestion.beat" in stage("beat")
    assert "test -f" not in DOCKERFILE + (ROOT / "docker-compose.yml").read_text()


def test_dependencies_wait_for_health_or_completion():
    for name, svc in SERVICES.items():
        deps = svc.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on must say a condition"
        for dep, spec in deps.items():
            assert dep in SERVICES, f"{name} depends on unknown {dep}"
            if spec["condition"] == "service_healthy":
                assert not one_shot(dep), (name, dep)
            else:
                assert spec["condition"] == "service_completed_successfully" and one_shot(dep)
    # The services start on an initialized warehouse and seeded retailers.
    for name in ("ingestion-api", "ingestion-worker", "transformation-worker",
                 "quality-worker", "beat"):
        assert "warehouse-setup" in SERVICES[name]["depends_on"], name
    for rid in ("retailer1", "retailer2", "retailer3"):
        assert "retailers-seed" in SERVICES[rid]["depends_on"], rid


def test_the_one_shots_build_the_warehouse_and_seed_a_recent_range():
    assert command("warehouse-setup", {}) == ["retail", "db-init"]
    seed = " ".join(command("retailers-seed", {}))
    assert "retailers init-db" in seed and "retailers seed" in seed
    # Seven days up to yesterday unless SEED_DAYS says otherwise.
    assert "7 days ago" in seed and "yesterday" in seed
    assert "3 days ago" in " ".join(command("retailers-seed", {"SEED_DAYS": "3"}))


def test_every_interpolated_variable_is_in_env_example():
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", example, re.M))
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", (ROOT / "docker-compose.yml").read_text()))
    assert used <= listed, f"not in .env.example: {sorted(used - listed)}"
    from suite.settings import all_setting_names

    missing = all_setting_names() - listed
    assert not missing, f"settings missing from .env.example: {sorted(missing)}"


def test_the_dockerfile_builds_from_an_arg_base_installs_the_wheel_and_runs_as_non_root():
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", DOCKERFILE, re.M)
    assert re.search(r"^FROM \$\{PYTHON_IMAGE\} AS python$", DOCKERFILE, re.M)
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    # Every image stage builds on `runtime`, which switches to a user that is not root.
    assert re.search(r"^USER (?!root)\w+", stage("runtime"), re.M), "the images run as root"
    for name in {target(s) for s in ours()}:
        assert re.search(rf"^FROM runtime AS {name}$", DOCKERFILE, re.M), name
        text = stage(name)
        assert "USER" not in text, f"{name} changes the user"
        # Only its own venv, built from the wheel with its own dependency group.
        assert f"COPY --from=builder /opt/venvs/{name} " in text, name
        assert name in extras, f"pyproject.toml has no group {name}"
    assert "pip wheel --quiet --no-deps --wheel-dir /wheels ." in DOCKERFILE
    # No source tree in an image: only the builder copies it.
    for src in ("shared", "services", "retailers", "suite", "database"):
        assert len(re.findall(rf"^COPY {src} ", DOCKERFILE, re.M)) == 1


def test_the_retailers_group_has_no_pipeline_and_no_group_has_moto():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    names = {g: {re.split(r"[\[=<>]", d)[0] for d in deps} for g, deps in extras.items()}
    assert not names["retailers"] & {"celery", "boto3", "fastapi", "sqlalchemy"}
    for group in ("ingestion", "beat", "transformation", "quality", "setup", "flower"):
        assert not names[group] & {"flask", "moto", "gunicorn"}, group


def test_transformation_workers_can_scale_and_tools_sit_behind_profiles():
    worker = SERVICES["transformation-worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert SERVICES["metabase"]["profiles"] == ["bi"]
    assert SERVICES["flower"]["profiles"] == ["ops"]
