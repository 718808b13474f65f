"""`retailers init-db` / `retailers seed` on a scratch database, and the servers' refusal to
start without their secrets."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from suite.processes import ROOT, VENV_BIN
from tests.retailers.dbutil import drop_database, query


@pytest.fixture
def scratch_url(settings):
    url = settings.retailer1.database_url + "_cli"
    yield url
    drop_database(url)


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_init_db_and_seed(scratch_url):
    env = {**os.environ, "RETAILER1_DATABASE_URL": scratch_url}
    cli = str(VENV_BIN / "retailers")
    init = _run([cli, "init-db", "--retailers", "retailer1", "--drop"], env)
    assert init.returncode == 0, init.stderr
    assert "retailer1: applied control.sql, schema.sql" in init.stdout
    seed = _run([cli, "seed", "--start", "2024-01-15", "--end", "2024-01-16",
                 "--orders-per-day", "20", "--retailers", "retailer1"], env)
    assert seed.returncode == 0, seed.stderr
    assert "retailer1: master data loaded" in seed.stdout
    written = dict(re.findall(r"retailer1 (2024-01-1[56]): (\d+) orders", seed.stdout))
    stored = dict(query(scratch_url, "select order_ts::date::text, count(*)::text "
                                     "from sales_order group by 1"))
    assert written == stored and len(written) == 2
    assert re.search(r"total: \d+ orders, \d+ lines in [\d.]+s", seed.stdout)


def test_cli_refuses_a_date_outside_the_calendar(scratch_url):
    env = {**os.environ, "RETAILER1_DATABASE_URL": scratch_url}
    out = _run([str(VENV_BIN / "retailers"), "seed", "--start", "2031-01-01",
                "--retailers", "retailer1"], env)
    assert out.returncode == 2 and "outside the simulated calendar" in out.stderr


def test_server_stops_on_a_missing_secret():
    env = {k: v for k, v in os.environ.items() if k != "RETAILER1_API_KEY"}
    out = _run([sys.executable, "-c",
                "from retailers.wsgi import create_app; create_app('retailer1')"], env)
    assert out.returncode == 2
    assert "RETAILER1_API_KEY" in out.stderr
