"""The shared HTTP machinery of connectors/base.py against scripted answers (httpx
MockTransport): retries, Retry-After, the budget, re-authentication, the three pagings.
The real retailers are exercised in test_ingest_partition.py."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable

import httpx
import pytest

from services.ingestion.connectors import RetailerRejectedRequest, RetailerUnavailable, make_client
from services.ingestion.connectors.base import RetryPolicy, retry_after_seconds

DAY = dt.date(2024, 1, 15)


class Sleeps(list):
    """Records the delays a client asked for instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _client(retailer_id: str, handler: Callable[[httpx.Request], httpx.Response], settings,
            **overrides):
    s = settings.model_copy(deep=True)
    for name, value in overrides.items():
        setattr(s.ingestion, name, value)
    sleeps = Sleeps()
    client = make_client(retailer_id, s, transport=httpx.MockTransport(handler), sleep=sleeps)
    return client, sleeps


def _offset_handler(total: int, failures: dict[int, httpx.Response] | None = None):
    """retailer1's order lines: `total` records; the n-th request may fail as scripted."""
    counter = itertools.count(1)
    failures = failures or {}

    def handler(request: httpx.Request) -> httpx.Response:
        n = next(counter)
        if n in failures:
            return failures[n]
        assert request.headers["X-API-Key"] == "test-r1-api-key"
        offset = int(request.url.params["offset"])
        limit = int(request.url.params["limit"])
        data = [{"order_id": i, "line_no": 1} for i in range(offset, min(offset + limit, total))]
        return httpx.Response(200, json={"data": data, "offset": offset, "limit": limit,
                                         "total": total})
    return handler


def test_offset_pages_visit_every_record_once(settings):
    client, _ = _client("retailer1", _offset_handler(25), settings, page_size=10)
    pages = list(client.iter_pages("order-lines", DAY))
    assert [p.number for p in pages] == [1, 2, 3]
    assert [r["order_id"] for p in pages for r in p.records] == list(range(25))


def test_5xx_and_429_are_retried_and_retry_after_is_honoured(settings):
    failures = {1: httpx.Response(500, json={"error": "boom"}),
                2: httpx.Response(429, headers={"Retry-After": "3"}),
                4: httpx.Response(503)}
    client, sleeps = _client("retailer1", _offset_handler(25, failures), settings,
                             page_size=10, retry_base_delay_seconds=0.1)
    records = [r for p in client.iter_pages("order-lines", DAY) for r in p.records]
    assert len(records) == 25
    assert client.retries == 3 and len(sleeps) == 3
    assert sleeps[1] >= 3.0            # the server asked for 3 s
    assert sleeps[0] < 1 and sleeps[2] < 1


def test_transport_errors_are_retried(settings):
    calls = itertools.count(1)
    inner = _offset_handler(5)

    def handler(request):
        if next(calls) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return inner(request)

    client, sleeps = _client("retailer1", handler, settings)
    assert sum(len(p.records) for p in client.iter_pages("order-lines", DAY)) == 5
    assert len(sleeps) == 1


def test_a_retailer_down_past_max_attempts_names_resource_and_page(settings):
    def handler(request):
        if int(request.url.params["offset"]) == 0:
            return _offset_handler(30)(request)
        return httpx.Response(502, text="bad gateway")

    client, sleeps = _client("retailer1", handler, settings, page_size=10,
                             retry_max_attempts=4)
    with pytest.raises(RetailerUnavailable) as err:
        list(client.iter_pages("order-lines", DAY))
    assert len(sleeps) == 3
    assert err.value.detail == {"retailer_id": "retailer1", "resource": "order-lines",
                                "page": 2, "status": 502, "error": str(err.value)}


def test_the_retry_budget_bounds_the_time_spent(settings):
    def handler(_request):
        return httpx.Response(429, headers={"Retry-After": "10"})

    client, sleeps = _client("retailer1", handler, settings, retry_budget_seconds=25,
                             retry_max_attempts=100)
    with pytest.raises(RetailerUnavailable):
        list(client.iter_pages("products", DAY))
    assert len(sleeps) == 2 and sum(sleeps) <= 25


def test_a_bad_request_is_not_retried(settings):
    client, sleeps = _client(
        "retailer1", lambda r: httpx.Response(400, json={"error": "bad_request"}), settings)
    with pytest.raises(RetailerRejectedRequest) as err:
        list(client.iter_pages("products", DAY))
    assert err.value.status == 400 and not sleeps


class FakeOAuthRetailer:
    """retailer3's token endpoint and one paged resource; tokens expire when told to."""

    def __init__(self, pages: int = 4, expires_in: int = 300) -> None:
        self.pages, self.expires_in = pages, expires_in
        self.issued: list[str] = []
        self.revoked: set[str] = set()

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            body = dict(httpx.QueryParams(request.content.decode()))
            assert body == {"grant_type": "client_credentials", "client_id": "pipeline",
                            "client_secret": "test-r3-secret"}
            token = f"token-{len(self.issued) + 1}"
            self.issued.append(token)
            return httpx.Response(200, json={"access_token": token, "token_type": "bearer",
                                             "expires_in": self.expires_in})
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.issued or token in self.revoked:
            return httpx.Response(401, json={"error": "token_expired", "detail": "expired"})
        page = int(request.url.params["page"])
        if page == 2:  # the token lapses while the run is under way
            self.revoked.add(token)
        return httpx.Response(200, json={"items": [{"articleNumber": str(page)}], "page": page,
                                         "per_page": 1, "total_pages": self.pages,
                                         "total_items": self.pages})


def test_token_expiring_mid_run_is_renewed_once_and_the_run_goes_on(settings):
    fake = FakeOAuthRetailer()
    client, sleeps = _client("retailer3", fake.handler, settings)
    records = [r for p in client.iter_pages("products", DAY) for r in p.records]
    assert [r["articleNumber"] for r in records] == ["1", "2", "3", "4"]
    assert fake.issued == ["token-1", "token-2"] and client.reauthentications == 1
    assert not sleeps  # an expired token is not a failure to back off from


def test_a_token_is_renewed_before_it_expires(settings, monkeypatch):
    fake = FakeOAuthRetailer(expires_in=100)
    client, _ = _client("retailer3", fake.handler, settings, token_refresh_margin_seconds=30)
    clock = [1000.0]
    monkeypatch.setattr("services.ingestion.connectors.retailer3.time.monotonic",
                        lambda: clock[0])
    client.authenticate()
    assert client.auth_headers()["Authorization"] == "Bearer token-1"
    clock[0] += 69  # 31 s left: still good
    assert client.auth_headers()["Authorization"] == "Bearer token-1"
    clock[0] += 7   # 24 s left, inside the margin (25 s: a quarter of the token's life)
    assert client.auth_headers()["Authorization"] == "Bearer token-2"


def test_a_second_401_fails_the_partition(settings):
    def handler(request):
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 300})
        return httpx.Response(401, json={"error": "invalid_token"})

    client, _ = _client("retailer3", handler, settings)
    with pytest.raises(RetailerRejectedRequest) as err:
        list(client.iter_pages("products", DAY))
    assert err.value.status == 401


def test_cursor_pages_follow_next_cursor_until_null(settings):
    def handler(request):
        cursor = request.url.params.get("cursor")
        assert request.headers["Authorization"].startswith("Basic ")
        nxt = {None: "c1", "c1": "c2", "c2": None}[cursor]
        return httpx.Response(200, json={"products": [{"code": cursor or "c0"}],
                                         "next_cursor": nxt})

    client, _ = _client("retailer2", handler, settings)
    pages = list(client.iter_pages("catalog", DAY))
    assert [p.records[0]["code"] for p in pages] == ["c0", "c1", "c2"]


def test_retry_after_may_be_an_http_date():
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:05 GMT", now=1445412480.0) == \
        pytest.approx(5.0)
    assert retry_after_seconds("2") == 2.0 and retry_after_seconds("soon") is None


def test_backoff_grows_with_jitter_and_is_capped():
    policy = RetryPolicy(budget_seconds=60, max_attempts=10, base_delay=1, max_delay=8)
    for attempt, full in [(1, 1), (2, 2), (3, 4), (4, 8), (9, 8)]:
        delays = [policy.backoff(attempt) for _ in range(50)]
        assert all(full / 2 <= d <= full for d in delays)
        assert len(set(delays)) > 1
