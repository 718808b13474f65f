"""Chaos set at run time through /admin/chaos reaches every server worker, and the observed
rates match the configured ones within tolerance."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.retailers.dbutil import query

CHEAP = {"retailer1": ("/api/v1/stores", {}), "retailer2": ("/v2/channels", {}),
         "retailer3": ("/api/stores", {})}
REQUESTS = 300


def _statuses(apps, retailer_id: str, n: int = REQUESTS) -> tuple[Counter, list]:
    path, params = CHEAP[retailer_id]
    with apps.client(retailer_id) as client:
        # Several threads, so requests spread over every worker of the server.
        with ThreadPoolExecutor(6) as pool:
            responses = list(pool.map(lambda _: client.get(path, params=params), range(n)))
    return Counter(r.status_code for r in responses), responses


@pytest.mark.parametrize("retailer_id", ["retailer1", "retailer2", "retailer3"])
def test_error_rate(retailer_chaos, retailer_id):
    shown = retailer_chaos.set_chaos(retailer_id, error_rate=0.3)
    assert shown["error_rate"] == 0.3
    counts, responses = _statuses(retailer_chaos, retailer_id)
    assert set(counts) == {200, 500}
    assert 0.2 * REQUESTS <= counts[500] <= 0.4 * REQUESTS, counts
    failed = next(r for r in responses if r.status_code == 500)
    assert failed.json()["error"] == "internal_error"


def test_throttle_rate_and_retry_after(retailer_chaos):
    retailer_chaos.set_chaos("retailer2", throttle_rate=0.3, retry_after=7)
    counts, responses = _statuses(retailer_chaos, "retailer2")
    assert set(counts) == {200, 429}
    assert 0.2 * REQUESTS <= counts[429] <= 0.4 * REQUESTS, counts
    throttled = [r for r in responses if r.status_code == 429]
    assert all(r.headers["Retry-After"] == "7" for r in throttled)
    assert throttled[0].json()["error"] == "rate_limited"


def test_slow_answers(retailer_chaos):
    retailer_chaos.set_chaos("retailer1", slow_rate=1.0, slow_seconds=0.4)
    with retailer_chaos.client("retailer1") as client:
        for _ in range(4):
            t0 = time.perf_counter()
            assert client.get("/api/v1/stores").status_code == 200
            assert time.perf_counter() - t0 >= 0.4
    retailer_chaos.set_chaos("retailer1", slow_rate=0.0)
    with retailer_chaos.client("retailer1") as client:
        t0 = time.perf_counter()
        assert client.get("/api/v1/stores").status_code == 200
        assert time.perf_counter() - t0 < 0.4


def test_chaos_spares_health_admin_and_token_endpoint(retailer_chaos):
    retailer_chaos.set_chaos("retailer3", error_rate=1.0)
    base = retailer_chaos.urls["retailer3"]
    creds = retailer_chaos.credentials["retailer3"]
    for _ in range(20):
        assert httpx.get(f"{base}/health").status_code == 200
        assert httpx.get(f"{base}/admin/chaos",
                         headers={"X-Admin-Token": retailer_chaos.admin_token}).status_code == 200
    token = retailer_chaos.token(creds["client_id"], creds["client_secret"])
    resp = httpx.get(f"{base}/api/stores", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 500
    # Credentials are checked before chaos: a refused client is refused, not failed.
    assert httpx.get(f"{base}/api/stores").status_code == 401


def test_token_ttl_expires_tokens_early(retailer_chaos):
    apps = retailer_chaos
    with apps.client("retailer3") as client:  # a token issued with the 300 s lifetime
        assert client.get("/api/stores").status_code == 200
        shown = apps.set_chaos("retailer3", token_ttl=1)
        assert shown["token_ttl"] == 1
        time.sleep(1.1)   # the client's token is now older than the new 1 s lifetime
        resp = client.get("/api/stores")
        assert resp.status_code == 401 and resp.json()["error"] == "token_expired"
    creds = apps.credentials["retailer3"]
    fresh = httpx.post(f"{apps.urls['retailer3']}/oauth/token",
                       data={"grant_type": "client_credentials", **creds}).json()
    assert fresh["expires_in"] == 1
    headers = {"Authorization": f"Bearer {fresh['access_token']}"}
    assert httpx.get(f"{apps.urls['retailer3']}/api/stores", headers=headers).status_code == 200
    time.sleep(1.1)
    expired = httpx.get(f"{apps.urls['retailer3']}/api/stores", headers=headers)
    assert expired.status_code == 401 and expired.json()["error"] == "token_expired"


def test_chaos_lives_in_the_retailers_database(retailer_chaos):
    retailer_chaos.set_chaos("retailer2", error_rate=0.25, wait=False)
    row = query(retailer_chaos.database_urls["retailer2"],
                "select error_rate, boot_id is not null from sim.chaos")
    assert row == [(0.25, True)]
    retailer_chaos.reset_chaos("retailer2", wait=False)
    row = query(retailer_chaos.database_urls["retailer2"], "select error_rate from sim.chaos")
    assert row == [(0.0,)]


@pytest.mark.parametrize("body", [{"error_rate": 1.5}, {"error_rate": 0.6, "throttle_rate": 0.6},
                                  {"nonsense": 1}, {"retry_after": "soon"}, [1, 2]])
def test_bad_chaos_values_are_refused(retailer_apps, body):
    resp = httpx.post(f"{retailer_apps.urls['retailer1']}/admin/chaos", json=body,
                      headers={"X-Admin-Token": retailer_apps.admin_token})
    assert resp.status_code == 400 and resp.json()["error"] == "bad_request"


def test_a_change_is_applied_by_every_worker_once_its_version_is(retailer_chaos):
    url = f"{retailer_chaos.urls['retailer1']}/admin/chaos"
    headers = {"X-Admin-Token": retailer_chaos.admin_token}
    before = httpx.get(url, headers=headers).json()["version"]
    shown = retailer_chaos.set_chaos("retailer1", error_rate=1.0)  # polls applied_version
    assert shown["version"] == before + 1
    assert httpx.get(url, headers=headers).json()["applied_version"] == before + 1
    counts, _ = _statuses(retailer_chaos, "retailer1", n=60)
    assert counts == Counter({500: 60})   # no worker still serves the old values
