"""Each retailer refuses missing and wrong credentials its own way, always with a 401 and
the JSON error body; bad parameters are 400s."""

from __future__ import annotations

import time

import httpx
import pytest
from itsdangerous import URLSafeSerializer

from retailers.retailer3.auth import SALT

DAY = "2024-01-15"


def assert_error(resp: httpx.Response, status: int, error: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error", "detail"} and body["detail"]
    if error:
        assert body["error"] == error
    return body


def test_retailer1_api_key(retailer_apps):
    url = retailer_apps.urls["retailer1"] + "/api/v1/order-lines"
    assert_error(httpx.get(url, params={"date": DAY}), 401, "unauthorized")
    assert_error(httpx.get(url, params={"date": DAY}, headers={"X-API-Key": "wrong"}), 401,
                 "unauthorized")
    ok = httpx.get(url, params={"date": DAY},
                   headers={"X-API-Key": retailer_apps.credentials["retailer1"]["api_key"]})
    assert ok.status_code == 200 and ok.json()["total"] > 0


def test_retailer2_basic_auth(retailer_apps):
    url = retailer_apps.urls["retailer2"] + "/v2/orders"
    creds = retailer_apps.credentials["retailer2"]
    missing = httpx.get(url, params={"day": DAY})
    assert_error(missing, 401, "unauthorized")
    assert missing.headers["WWW-Authenticate"].startswith("Basic")
    assert_error(httpx.get(url, params={"day": DAY}, auth=(creds["username"], "wrong")), 401)
    assert_error(httpx.get(url, params={"day": DAY}, auth=("someone", creds["password"])), 401)
    assert_error(httpx.get(url, params={"day": DAY},
                           headers={"X-API-Key": creds["password"]}), 401)
    ok = httpx.get(url, params={"day": DAY}, auth=(creds["username"], creds["password"]))
    assert ok.status_code == 200 and ok.json()["orders"]


def test_retailer3_token_endpoint(retailer_apps):
    url = retailer_apps.urls["retailer3"] + "/oauth/token"
    creds = retailer_apps.credentials["retailer3"]
    good = {"grant_type": "client_credentials", **creds}
    assert_error(httpx.post(url, data={**good, "client_secret": "wrong"}), 401, "invalid_client")
    assert_error(httpx.post(url, data={"grant_type": "client_credentials"}), 401,
                 "invalid_client")
    assert_error(httpx.post(url, data={**good, "grant_type": "password"}), 400,
                 "unsupported_grant_type")
    by_form = httpx.post(url, data=good)
    assert by_form.status_code == 200
    body = by_form.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 300
    by_basic = httpx.post(url, data={"grant_type": "client_credentials"},
                          auth=(creds["client_id"], creds["client_secret"]))
    assert by_basic.status_code == 200


def _forge(signing_key: str, issued: float, ttl: int) -> str:
    return URLSafeSerializer(signing_key, salt=SALT).dumps(
        {"sub": "pipeline", "iat": issued, "exp": issued + ttl})


def test_retailer3_bearer_tokens(retailer_apps, settings):
    url = retailer_apps.urls["retailer3"] + "/api/orders"
    params = {"date": DAY}
    creds = retailer_apps.credentials["retailer3"]
    token = retailer_apps.token(creds["client_id"], creds["client_secret"])

    def call(tok: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {tok}"} if tok else {}
        return httpx.get(url, params=params, headers=headers)

    assert call(token).status_code == 200
    assert_error(call(None), 401, "unauthorized")
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert_error(call(tampered), 401, "invalid_token")
    assert_error(call("not-a-token"), 401, "invalid_token")
    key = settings.retailer3.token_signing_key.get_secret_value()
    # Properly signed but issued 10 minutes ago with a 5-minute lifetime.
    expired = call(_forge(key, time.time() - 600, 300))
    assert_error(expired, 401, "token_expired")
    assert 'error="token_expired"' in expired.headers["WWW-Authenticate"]
    assert call(_forge(key, time.time(), 300)).status_code == 200
    # Signed with another key: refused as invalid, not as expired.
    assert_error(call(_forge("another-key", time.time(), 300)), 401, "invalid_token")


@pytest.mark.parametrize("retailer_id", ["retailer1", "retailer2", "retailer3"])
def test_admin_requires_its_token(retailer_apps, retailer_id):
    url = retailer_apps.urls[retailer_id] + "/admin/chaos"
    assert_error(httpx.get(url), 401, "unauthorized")
    assert_error(httpx.post(url, json={"error_rate": 1}, headers={"X-Admin-Token": "x"}), 401)
    shown = httpx.get(url, headers={"X-Admin-Token": retailer_apps.admin_token})
    assert shown.status_code == 200 and shown.json()["error_rate"] == 0


@pytest.mark.parametrize("retailer_id", ["retailer1", "retailer2", "retailer3"])
def test_health_needs_no_credentials(retailer_apps, retailer_id):
    resp = httpx.get(retailer_apps.urls[retailer_id] + "/health")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "retailer": retailer_id}


BAD_PARAMS = [
    ("retailer1", "/api/v1/order-lines", {"date": "2024-02-30"}),
    ("retailer1", "/api/v1/order-lines", {}),
    ("retailer1", "/api/v1/order-lines", {"date": DAY, "limit": 5001}),
    ("retailer1", "/api/v1/order-lines", {"date": DAY, "limit": 0}),
    ("retailer1", "/api/v1/customers", {"date": DAY, "offset": -1}),
    ("retailer1", "/api/v1/stores", {"limit": "ten"}),
    ("retailer2", "/v2/orders", {"day": "15.01.2024"}),
    ("retailer2", "/v2/orders", {"day": DAY, "page_size": 5001}),
    ("retailer2", "/v2/orders", {"day": DAY, "cursor": "not-a-cursor"}),
    ("retailer2", "/v2/catalog", {"day": DAY, "cursor": "WyJvcmRlcnMiLCIyMDI0LTAxLTE2IiwiIl0"}),
    ("retailer3", "/api/orders", {"date": DAY, "page": 0}),
    ("retailer3", "/api/order-items", {"date": DAY, "per_page": 5001}),
    ("retailer3", "/api/order-events", {"date": "yesterday"}),
]


@pytest.mark.parametrize(("retailer_id", "path", "params"), BAD_PARAMS)
def test_bad_parameters_are_400(retailer_apps, retailer_id, path, params):
    with retailer_apps.client(retailer_id) as client:
        assert_error(client.get(path, params=params), 400, "bad_request")


def test_unknown_path_is_json_404(retailer_apps):
    with retailer_apps.client("retailer1") as client:
        assert_error(client.get("/api/v1/nothing"), 404)


# Every endpoint that takes a day, by retailer, with the name of its day parameter.
DAY_ENDPOINTS = [
    ("retailer1", "/api/v1/order-lines", "date"), ("retailer1", "/api/v1/products", "date"),
    ("retailer1", "/api/v1/customers", "date"), ("retailer1", "/api/v1/control-totals", "date"),
    ("retailer2", "/v2/orders", "day"), ("retailer2", "/v2/catalog", "day"),
    ("retailer2", "/v2/customers", "day"), ("retailer2", "/v2/reports/daily", "day"),
    ("retailer3", "/api/orders", "date"), ("retailer3", "/api/order-items", "date"),
    ("retailer3", "/api/order-events", "date"), ("retailer3", "/api/products", "date"),
    ("retailer3", "/api/customers", "date"), ("retailer3", "/api/reports/control-totals", "date"),
]
HUGE = "99999999999999999999"  # beyond a 64-bit integer


@pytest.mark.parametrize(("retailer_id", "path", "name"), DAY_ENDPOINTS)
def test_days_out_of_range_are_400_not_500(retailer_apps, retailer_id, path, name):
    """Issue #14 defect 3: 9999-12-31 overflowed computing the day's end (a 500)."""
    from retailers.core.params import FIRST_DAY, LAST_DAY

    with retailer_apps.client(retailer_id) as client:
        for day in ("9999-12-31", "0001-01-01"):
            body = assert_error(client.get(path, params={name: day}), 400, "bad_request")
            assert "out of range" in body["detail"] and day in body["detail"]
        # the first and last days served answer normally: nothing sold then
        for day in (FIRST_DAY, LAST_DAY):
            resp = client.get(path, params={name: day.isoformat()})
            assert resp.status_code == 200, resp.text


OFFSET_ENDPOINTS = [
    ("retailer1", "/api/v1/order-lines", {"date": DAY}, "offset"),
    ("retailer1", "/api/v1/stores", {}, "offset"),
    ("retailer3", "/api/orders", {"date": DAY}, "page"),
    ("retailer3", "/api/order-items", {"date": DAY}, "page"),
    ("retailer3", "/api/stores", {}, "page"),
]


@pytest.mark.parametrize(("retailer_id", "path", "params", "name"), OFFSET_ENDPOINTS)
def test_positions_out_of_range_are_400_not_500(retailer_apps, retailer_id, path, params, name):
    """Issue #14 defect 3: an offset or page beyond 64 bits was a TypeError (a 500)."""
    from retailers.core.params import MAX_POSITION

    with retailer_apps.client(retailer_id) as client:
        body = assert_error(client.get(path, params={**params, name: HUGE}), 400, "bad_request")
        assert f"{name} must be at most {MAX_POSITION}" in body["detail"]
        # the largest position allowed is served: past the end, no records
        last = client.get(path, params={**params, name: MAX_POSITION})
        assert last.status_code == 200, last.text
        data = last.json()
        assert (data.get("data") if "data" in data else data.get("items")) == []
