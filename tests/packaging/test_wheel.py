"""The built wheel, installed outside the repo, carries everything its commands need.

The wheel is built from a copy of the project's files, installed without dependencies into
a fresh venv in a temporary folder, and run from there with the repo neither the working
directory nor on `sys.path`. Its dependencies come from the dev venv's site-packages, added
as a plain path (a `.pth` line): `.pth` files inside that folder are not processed, so the
editable install of the project that lives there stays invisible, and each test proves the
package's own files come from the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import psycopg2
import pytest

from suite.processes import ROOT
from tests.fixtures.core import SUFFIX

pytestmark = pytest.mark.slow

DB_NAME = f"retail_wheel_test{SUFFIX}"
DB_URL = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
RETAILER_DB_URL = f"postgresql://postgres@127.0.0.1:5432/retailer1_wheel_test{SUFFIX}"


def _drop(url: str) -> None:
    base, name = url.rsplit("/", 1)
    conn = psycopg2.connect(f"{base}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'drop database if exists "{name}" with (force)')
    conn.close()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built from a copy of its files (the worktree stays clean)."""
    src = tmp_path_factory.mktemp("src")
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    for rel in listed:
        if (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                    str(src)], check=True, capture_output=True, timeout=600)
    (built,) = out.glob("retail_pipeline-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed (no dependencies of its own; see the module)."""
    home = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(home)], check=True)
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(subprocess.run([str(home / "bin" / "python"), "-c", where],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "dev-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(home / "bin" / "python"),
                    "install", "--no-deps", "-q", str(wheel)], check=True,
                   capture_output=True, timeout=300)
    return home


def _env(**values: str) -> dict[str, str]:
    """Only what a command needs: no `.env`, no PYTHONPATH, no test variables."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
            "RETAIL_ENV_FILE": "", **values}


def _run(venv: Path, cmd: list[str], env: dict[str, str], cwd: Path,
         ) -> subprocess.CompletedProcess[str]:
    exe = venv / "bin" / cmd[0]
    return subprocess.run([str(exe), *cmd[1:]], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_the_wheel_carries_the_sql_and_the_static_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    sql = sorted(n for n in names if n.startswith("database/init/") and n.endswith(".sql"))
    assert [Path(n).name for n in sql] == sorted(
        p.name for p in (ROOT / "database" / "init").glob("[0-9][0-9]_*.sql"))
    # Every SQL file of the database package (init, marts models, their staging) ships.
    every_sql = {p.relative_to(ROOT).as_posix() for p in (ROOT / "database").rglob("*.sql")}
    assert every_sql and every_sql <= names, sorted(every_sql - names)
    for needed in ("services/quality/static/index.html", "services/quality/static/app.js",
                   "services/quality/static/style.css", "retailers/core/control.sql",
                   "retailers/retailer1/schema.sql", "retailers/retailer2/schema.sql",
                   "retailers/retailer3/schema.sql"):
        assert needed in names, needed


def test_the_package_comes_from_the_wheel_not_the_repo(venv, tmp_path):
    code = ("import sys, database, suite.dbinit, services.quality.api as q, retailers; "
            "print(database.__file__); print(suite.dbinit.INIT_DIR); print(q.STATIC); "
            "print(retailers.__file__); "
            f"print(any(p.rstrip('/') == {str(ROOT)!r} for p in sys.path))")
    env = _env(PIPELINE_API_TOKEN="wheel-test-token", DATABASE_URL=DB_URL)
    proc = _run(venv, ["python", "-c", code], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split("\n")
    for line in lines[:4]:
        assert line.startswith(str(venv)), line
    assert lines[4] == "False"


def test_db_init_from_the_wheel_builds_the_whole_warehouse(venv, tmp_path):
    _drop(DB_URL)
    try:
        proc = _run(venv, ["retail", "db-init"], _env(DATABASE_URL=DB_URL), tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        applied = [line.split()[-1] for line in proc.stdout.splitlines()
                   if line.startswith("applied ")]
        assert applied == sorted(p.name for p in (ROOT / "database" / "init").glob("*.sql"))
        conn = psycopg2.connect(DB_URL)
        try:
            with conn.cursor() as cur:
                cur.execute("select nspname from pg_namespace where nspname = any(%s) "
                            "order by 1", (["marts", "ops", "quality", "warehouse"],))
                assert [r[0] for r in cur.fetchall()] == ["marts", "ops", "quality",
                                                          "warehouse"]
                cur.execute("select rolname from pg_roles where rolname in "
                            "('bi_reader', 'retail_pipeline') order by 1")
                assert [r[0] for r in cur.fetchall()] == ["bi_reader", "retail_pipeline"]
                cur.execute("select count(*), min(full_date), max(full_date), "
                            "count(distinct full_date) from warehouse.dim_date")
                count, first, last, distinct = cur.fetchone()
                assert count == distinct == (last - first).days + 1
                assert count >= 4 * 365
                cur.execute("select has_schema_privilege('bi_reader', 'marts', 'usage'), "
                            "has_schema_privilege('bi_reader', 'ops', 'usage')")
                assert cur.fetchone() == (True, False)
        finally:
            conn.close()
        # Safe to run twice.
        again = _run(venv, ["retail", "db-init"], _env(DATABASE_URL=DB_URL), tmp_path)
        assert again.returncode == 0, again.stdout + again.stderr
    finally:
        _drop(DB_URL)


def test_every_console_entry_point_starts_and_reads_its_settings(venv, tmp_path):
    scripts = {line.split("=")[0].strip() for line in
               (ROOT / "pyproject.toml").read_text().split("[project.scripts]")[1]
               .split("\n\n")[0].splitlines()[1:] if "=" in line}
    assert scripts == {"retail", "retailers"}
    # retail: the settings check of a process, with exactly that process's variables.
    ok = _run(venv, ["retail", "settings", "quality-worker", "--check"],
              _env(DATABASE_URL=DB_URL), tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "QUALITY_CHECK_TIMEOUT_SECONDS" in ok.stdout and "settings ok" in ok.stdout
    missing = _run(venv, ["retail", "settings", "ingestion-worker", "--check"], _env(),
                   tmp_path)
    assert missing.returncode == 2
    assert "RETAILER1_API_KEY: Field required" in missing.stdout
    # retailers: create retailer1's database from the wheel's SQL, with only its URL.
    _drop(RETAILER_DB_URL)
    try:
        made = _run(venv, ["retailers", "init-db", "--retailers", "retailer1"],
                    _env(RETAILER1_DATABASE_URL=RETAILER_DB_URL), tmp_path)
        assert made.returncode == 0, made.stdout + made.stderr
        assert "retailer1: applied control.sql, schema.sql" in made.stdout
    finally:
        _drop(RETAILER_DB_URL)


def test_db_init_without_its_sql_fails_loudly(venv, tmp_path):
    site = Path(subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import database; print(database.__file__)"],
        env=_env(), cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip())
    init = site.parent / "init"
    hidden = tmp_path / "hidden"
    shutil.move(init, hidden)
    try:
        proc = _run(venv, ["retail", "db-init"], _env(DATABASE_URL=DB_URL), tmp_path)
    finally:
        shutil.move(hidden, init)
        _drop(DB_URL)
    assert proc.returncode != 0
    assert "no NN_*.sql file" in proc.stdout + proc.stderr
