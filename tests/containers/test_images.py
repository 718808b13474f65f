"""Our images, built and run for real with Podman (`make test-containers`, not `make test`).

Every image of ./Dockerfile is built on the local base image; each service of
docker-compose.yml then runs in its own container (host networking) with exactly the
variable names compose gives it, against this machine's PostgreSQL and Redis and an S3
server on a private port, on databases, ports and a Redis database of its own:

1. the setup one-shot runs `retail db-init` from the wheel against an empty database;
2. the retailers' seed one-shot runs compose's own seed command (yesterday, UTC);
3. three retailers, the ingestion API and worker, beat, the transformation API and
   worker, the quality API and worker and Flower start and pass their healthchecks;
4. `POST /runs` for the seeded date reaches its verdict, and fact_sales and the marts
   equal what the retailers' own databases say (tests/e2e/truth.py).

It also reads each running container's environment and installed packages, and prints each
image's size and build time.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata as md
import json
import os
import time
from collections.abc import Iterator

import httpx
import psycopg2
import pytest
from packaging.requirements import Requirement

from suite.processes import ManagedProcess, port_open
from tests.containers import compose
from tests.containers.engine import TARGETS, Build, Container, build, image_env, normalize
from tests.e2e.client import SUCCESS, RunClient
from tests.e2e.truth import assert_marts_match, source_rows
from tests.fixtures.core import LOG_DIR

pytestmark = [pytest.mark.containers, pytest.mark.timeout(1500)]

NS = int(os.environ.get("TEST_NS", "0"))
# Ports, databases and a Redis database apart from `make test`'s (same NS) and a dev stack.
BASE_PORT = 26000 + 20 * NS
PORTS = {"retailer1": BASE_PORT + 1, "retailer2": BASE_PORT + 2, "retailer3": BASE_PORT + 3,
         "ingestion": BASE_PORT + 4, "transformation": BASE_PORT + 5, "quality": BASE_PORT + 6,
         "flower": BASE_PORT + 7, "s3": BASE_PORT + 8, "retailer4": BASE_PORT + 9}
REDIS_DB = 6 - NS % 7
PG = "postgresql://postgres@127.0.0.1:5432"
WAREHOUSE = f"{PG}/retail_analytics_ctr{NS}"
RETAILER_DBS = {rid: f"{PG}/{rid}_ctr{NS}" for rid in ("retailer1", "retailer2", "retailer3")}
TAG = f"test-ns{NS}"

# Values for compose's variable names on this machine. A name compose gives a service and
# that is not here takes compose's own value (its default, or a literal).
VALUES: dict[str, str] = {
    "DATABASE_URL": WAREHOUSE,
    "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
    "S3_ENDPOINT_URL": f"http://127.0.0.1:{PORTS['s3']}",
    "S3_BUCKET": "retail-lake-containers",
    "S3_ACCESS_KEY_ID": "containers",
    "S3_SECRET_ACCESS_KEY": "containers-s3-secret",
    "PIPELINE_API_TOKEN": "containers-pipeline-token",
    "BI_READER_PASSWORD": "containers-bi-reader",
    "RETAILER_ADMIN_TOKEN": "containers-admin-token",
    "RETAILER1_API_KEY": "containers-r1-key",
    "RETAILER2_PASSWORD": "containers-r2-password",
    "RETAILER3_CLIENT_SECRET": "containers-r3-secret",
    "RETAILER3_TOKEN_SIGNING_KEY": "containers-r3-signing",
    # retailer4 and the stream consumer on the machine's NATS, on a stream of this session's
    "RETAILER4_API_TOKEN": "containers-r4-token",
    "RETAILER4_URL": f"http://127.0.0.1:{PORTS['retailer4']}",
    "RETAILER4_NATS_URL": "nats://127.0.0.1:4222",
    "STREAM_NATS_URL": "nats://127.0.0.1:4222",
    "RETAILER4_STREAM": f"RETAILER4_CTR{NS}",
    "RETAILER4_SUBJECT_PREFIX": f"retailer4ctr{NS}",
    "STREAM_DURABLE": f"pipeline-retailer4-ctr{NS}",
    # Two cores for the whole machine: one gunicorn process per retailer, a small day.
    "RETAILER_WORKERS": "1",
    "RETAILER_ORDERS_PER_DAY": "150",
    # compose interpolation only (not a variable of any container): seed yesterday alone.
    "SEED_DAYS": "1",
    "INGESTION_PORT": str(PORTS["ingestion"]),
    "TRANSFORMATION_PORT": str(PORTS["transformation"]),
    "QUALITY_PORT": str(PORTS["quality"]),
    **{f"{rid.upper()}_URL": f"http://127.0.0.1:{PORTS[rid]}" for rid in RETAILER_DBS},
    **{f"{rid.upper()}_DATABASE_URL": url for rid, url in RETAILER_DBS.items()},
}
# Per service: values that differ between services of one name (which retailer, its port).
PER_SERVICE = {rid: {"RETAILER_PORT": str(PORTS[rid])} for rid in (*RETAILER_DBS, "retailer4")}
# What may be in a container's environment besides compose's names and its image's ENV.
# (PWD and SHLVL: set by the `sh -c` that execs a retailer's or an API's server.)
ENGINE_VARIABLES = {"PATH", "HOSTNAME", "HOME", "TERM", "container", "PWD", "SHLVL"}
# Packaging tools every venv has; not dependencies of anything.
VENV_TOOLS = {"pip", "setuptools", "wheel"}
# What an image must not hold, whatever its dependency group says (issue #11).
FORBIDDEN = {
    "retailers": {"celery", "boto3", "fastapi", "sqlalchemy", "moto", "redis"},
    **{t: {"flask", "moto", "gunicorn"} for t in
       ("ingestion", "stream-consumer", "beat", "transformation", "quality", "setup", "flower")},
}


def extra_closure(extra: str, python_version: str) -> set[str]:
    """Every distribution `pip install retail-pipeline[extra]` brings, by name (from the
    project's metadata and its dependencies' metadata in this venv), on the image's Python
    (markers such as `python_full_version < "3.11.3"` decide by it)."""
    python = {"python_full_version": python_version,
              "python_version": ".".join(python_version.split(".")[:2])}
    seen: set[str] = {"retail-pipeline"}
    todo: list[tuple[str, set[str]]] = [("retail-pipeline", {extra})]
    while todo:
        name, extras = todo.pop()
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            # Only the image's older Python needs it (a backport): its own requirements are
            # not known here, so it counts as a leaf.
            continue
        for text in requires:
            req = Requirement(text)
            wanted = any(req.marker is None or req.marker.evaluate({**python, "extra": e})
                         for e in (extras or {""}))
            if not wanted:
                continue
            dep = normalize(req.name)
            if dep == "retail-pipeline":
                todo.append((dep, set(req.extras)))
                continue
            if dep not in seen or req.extras:
                seen.add(dep)
                todo.append((dep, set(req.extras)))
    return seen


def report(config: pytest.Config, line: str) -> None:
    """Print a line now, past pytest's capture (sizes and times belong in the CI log)."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        config.pluginmanager.get_plugin("terminalreporter").write_line(line)


@pytest.fixture(scope="module")
def images(pytestconfig) -> dict[str, Build]:
    """Every target of ./Dockerfile, built (a cached layer is reused), sizes printed."""
    t0 = time.monotonic()
    built = {t: build(t, TAG, LOG_DIR / "containers") for t in TARGETS}
    report(pytestconfig, "")
    report(pytestconfig, f"{'image':<42} {'size':>9} {'build':>8}")
    for b in built.values():
        report(pytestconfig, f"{b.image:<42} {b.size_bytes / 1e6:>7.0f}MB {b.seconds:>7.1f}s")
    report(pytestconfig, f"all images built in {time.monotonic() - t0:.1f}s")
    return built


def connect(url: str) -> psycopg2.extensions.connection:
    """A connection to the shared PostgreSQL, waiting out a moment when every slot is taken
    (max_connections is shared by every test session on the machine)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return psycopg2.connect(url)
        except psycopg2.OperationalError as exc:
            if "too many clients" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(1)


def _drop_databases() -> None:
    conn = connect(f"{PG}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        for url in (WAREHOUSE, *RETAILER_DBS.values()):
            cur.execute(f'drop database if exists "{url.rsplit("/", 1)[1]}" with (force)')
    conn.close()


def container(service: str, images: dict[str, Build], **extra: str) -> Container:
    values = {**VALUES, **PER_SERVICE.get(service, {}), **extra}
    return Container(f"retail-ctr{NS}-{service}", images[compose.target(service)].image,
                     compose.environment(service, values), compose.command(service, values))


class Stack:
    def __init__(self, containers: dict[str, Container], one_shots: dict[str, str]):
        self.containers = containers
        self.one_shots = one_shots
        self.client = RunClient(f"http://127.0.0.1:{PORTS['ingestion']}",
                                VALUES["PIPELINE_API_TOKEN"], retailers=sorted(RETAILER_DBS))


def _wait_healthy(ctrs: list[Container], timeout: float) -> None:
    pending = {c.name: c for c in ctrs}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for name, ctr in list(pending.items()):
            if not ctr.running():
                pytest.fail(f"{name} exited:\n{ctr.logs()}")
            if ctr.healthy():
                del pending[name]
        time.sleep(1)
    if pending:
        pytest.fail("not healthy in time: " + "; ".join(
            f"{n}:\n{c.logs(30)}" for n, c in pending.items()))


@pytest.fixture(scope="module")
def stack(images, pytestconfig) -> Iterator[Stack]:
    """The one-shots run to their end, then every long-running service in a container."""
    import boto3
    import redis

    redis.Redis.from_url(VALUES["REDIS_URL"]).flushdb()
    _drop_databases()
    s3 = ManagedProcess("containers-s3", ["moto_server", "-H", "127.0.0.1", "-p",
                                          str(PORTS["s3"])], port=PORTS["s3"], log_dir=LOG_DIR)
    s3.start().wait_healthy(30)
    # What compose's minio-setup does: the lake bucket.
    boto3.client("s3", endpoint_url=VALUES["S3_ENDPOINT_URL"], region_name="us-east-1",
                 aws_access_key_id=VALUES["S3_ACCESS_KEY_ID"],
                 aws_secret_access_key=VALUES["S3_SECRET_ACCESS_KEY"]
                 ).create_bucket(Bucket=VALUES["S3_BUCKET"])
    one_shots: dict[str, str] = {}
    long_running = [s for s in compose.ours() if not compose.one_shot(s)]
    ctrs = {s: container(s, images) for s in long_running}
    ctrs["flower"].env["FLOWER_PORT"] = str(PORTS["flower"])
    try:
        for service in ("warehouse-setup", "retailers-seed"):
            t0 = time.monotonic()
            for _attempt in range(3):
                code, out, err = container(service, images).run_to_end()
                # The machine's PostgreSQL is shared by every session: a full server is
                # its moment, not the one-shot's fault.
                if code == 0 or "too many clients" not in out + err:
                    break
                time.sleep(5)
            assert code == 0, f"{service} exited {code}:\n{(out + err)[-3000:]}"
            one_shots[service] = out
            report(pytestconfig, f"{service}: done in {time.monotonic() - t0:.1f}s")
        t0 = time.monotonic()
        for service, ctr in ctrs.items():
            ctr.start(health_cmd=compose.health_cmd(service))
        _wait_healthy(list(ctrs.values()), timeout=180)
        report(pytestconfig, f"{len(ctrs)} containers healthy in {time.monotonic() - t0:.1f}s")
        yield Stack(ctrs, one_shots)
    finally:
        for ctr in ctrs.values():
            ctr.remove()
        s3.stop()


def test_the_setup_one_shot_built_the_warehouse_from_the_wheel(stack):
    conn = connect(WAREHOUSE)
    with conn, conn.cursor() as cur:
        cur.execute("select nspname from pg_namespace where nspname in "
                    "('warehouse', 'marts', 'ops', 'quality') order by 1")
        assert [r[0] for r in cur.fetchall()] == ["marts", "ops", "quality", "warehouse"]
        cur.execute("select count(*) from warehouse.dim_date")
        assert cur.fetchone()[0] > 365
        cur.execute("select rolname from pg_roles where rolname = 'bi_reader'")
        assert cur.fetchone() is not None
    conn.close()
    assert "bi_reader password set" in stack.one_shots["warehouse-setup"]


def test_the_seed_one_shot_seeded_yesterday_at_every_retailer(stack):
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    orders, lines = source_rows(RETAILER_DBS, yesterday, yesterday)
    per_retailer = {rid: sum(1 for o in orders if o["retailer_id"] == rid)
                    for rid in RETAILER_DBS}
    assert all(n > 50 for n in per_retailer.values()), per_retailer
    assert len(lines) > len(orders)


def test_each_container_sees_only_its_own_variables(stack, images):
    for service, ctr in stack.containers.items():
        env = ctr.environment()
        allowed = (compose.env_names(service) | set(image_env(ctr.image))
                   | ENGINE_VARIABLES | set(ctr.env))
        assert set(env) <= allowed, f"{service}: {sorted(set(env) - allowed)}"
        # What compose gives it arrived, with the value we meant.
        for name in compose.env_names(service):
            assert env[name] == ctr.env[name], (service, name)
        if compose.target(service) == "retailers":
            pipeline = {"DATABASE_URL", "PIPELINE_API_TOKEN", "REDIS_URL", "S3_ENDPOINT_URL"}
            assert not pipeline & set(env), f"{service} knows the pipeline"
            others = {r.upper() for r in RETAILER_DBS if r != service}
            leaked = [n for n in env if n.split("_", 1)[0] in others]
            assert not leaked, f"{service} sees another retailer's variables: {leaked}"


def test_each_image_holds_only_its_own_dependencies(images, pytestconfig):
    probe = ("id -un; python -c 'import platform; print(platform.python_version())'; "
             "pip list --format json 2>/dev/null")
    for tgt, b in images.items():
        # One throwaway container per image: who it runs as, its Python, its `pip list`.
        code, out, err = Container(f"retail-ctr{NS}-pip-{tgt}", b.image, {},
                                   ["sh", "-c", probe]).run_to_end(timeout=120)
        assert code == 0, out + err
        user, python, listing = out.strip().split("\n", 2)
        installed = {normalize(r["name"]): r["version"] for r in json.loads(listing)}
        expected = extra_closure(tgt, python.strip())
        assert set(installed) - VENV_TOOLS == expected, (
            f"{tgt}: extra {sorted(set(installed) - VENV_TOOLS - expected)}, "
            f"missing {sorted(expected - set(installed))}")
        assert not FORBIDDEN[tgt] & set(installed), f"{tgt} holds {FORBIDDEN[tgt] & set(installed)}"
        assert user != "root", f"{tgt} runs as root"
        report(pytestconfig, f"{b.image}: {len(installed)} distributions, user {user}")


def test_beat_proves_its_schedule_ticks(stack):
    beat = stack.containers["beat"]
    out = beat.exec("python", "-m", "services.ingestion.beat", "/tmp/celerybeat-schedule",
                    "--max-age", "30")
    assert "beat sent" in out
    # The schedule holds yesterday's daily run.
    assert "run-yesterday" in beat.exec(
        "python", "-c", "from services.ingestion.schedule import beat_schedule; "
        "print(sorted(beat_schedule()))")


def test_a_seeded_date_reaches_its_verdict_and_the_warehouse_equals_the_sources(stack):
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    # The seeded REST retailers (retailer5 drops files: its path runs in the same ingestion
    # and beat images, and is covered by tests/e2e and tests/ingestion/test_files.py).
    run = stack.client.wait(stack.client.post_run(day), timeout=300)
    assert run["status"] in SUCCESS, run

    conn = connect(WAREHOUSE)
    try:
        _, lines = source_rows(RETAILER_DBS, day, day)
        with conn.cursor() as cur:
            cur.execute("select r.retailer_id, count(*) from warehouse.fact_sales f "
                        "join warehouse.dim_retailer r using (retailer_key) "
                        "where f.order_date = %s group by 1", (day,))
            facts = dict(cur.fetchall())
        conn.rollback()
        for rid in RETAILER_DBS:
            want = sum(1 for ln in lines if ln["retailer_id"] == rid)
            assert facts.get(rid) == want, f"{rid}: fact_sales {facts.get(rid)} != source {want}"
        actual = assert_marts_match(conn, RETAILER_DBS, day, day)
        assert actual["daily_orders"]["ALL"]["orders_created"] > 100
    finally:
        conn.close()
    # The quality service in its container saw the verdict too.
    health = httpx.get(f"http://127.0.0.1:{PORTS['quality']}/readyz", timeout=10)
    assert health.status_code == 200, health.text
    assert port_open(PORTS["flower"])
