"""The API contract of issue #14 on the three real uvicorn processes: one test per defect
(1, 4, 5, 7), each failing on the code before the fix, and the parts of the contract the
fuzzer does not look at (body limits, security headers, the page's policy)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx
import pytest

from shared.settings import RETAILER_IDS

# The write route of each service, with a body it would accept.
WRITES = {
    "ingestion": ("/runs", {"date": "2024-01-15"}),
    "transformation": ("/replays", {"date": "2024-01-15"}),
    "quality": ("/checks/run", {"date": "2024-01-15"}),
}
FIFTY_MB = 50 * 1024 * 1024


def raw_exchange(base_url: str, head: str, body_parts: list[bytes]) -> tuple[str, int]:
    """Send a request head and some body bytes over a plain socket, then read the answer
    without sending the rest. Returns (status code, body bytes the server was sent)."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.encode())
        sent = 0
        try:
            for part in body_parts:
                sock.sendall(part)
                sent += len(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking everything: fine
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0].decode().split(" ")[1], sent


def post_head(path: str, *, length: int | None, token: str | None = None) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines.append(f"Content-Length: {length}" if length is not None
                 else "Transfer-Encoding: chunked")
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return "\r\n".join(lines) + "\r\n\r\n"


# -- defect 1 -------------------------------------------------------------------------------

def test_defect1_a_nul_byte_in_a_query_is_422_not_500(apis):
    quality = apis["quality"]
    nul = httpx.get(f"{quality}/results?check=%00")
    assert nul.status_code == 422
    assert nul.json()["error"] == "invalid_request" and "check" in nul.json()["detail"]
    # a real check name still filters
    named = httpx.get(f"{quality}/results", params={"check": "reconcile_amount"}).json()
    assert named["count"] == len(RETAILER_IDS)
    assert {r["check_name"] for r in named["results"]} == {"reconcile_amount"}


# -- defect 4 -------------------------------------------------------------------------------

@pytest.mark.parametrize("service", list(WRITES))
def test_defect4_the_token_is_checked_before_the_body(apis, settings, service):
    base, (path, _) = apis[service], WRITES[service]
    # malformed JSON without a token: 401, not 422
    malformed = httpx.post(f"{base}{path}", content=b'{"date": ',
                           headers={"Content-Type": "application/json"})
    assert malformed.status_code == 401 and malformed.json()["error"] == "unauthorized"
    # 50 MB declared, 64 KiB sent: the 401 comes without the server waiting for the rest
    status, sent = raw_exchange(base, post_head(path, length=FIFTY_MB), [b"x" * 65536])
    assert status == "401" and sent == 65536
    # with the token, a declared 50 MB body is refused before it is read
    token = settings.pipeline_api_token.get_secret_value()
    status, _ = raw_exchange(base, post_head(path, length=FIFTY_MB, token=token), [])
    assert status == "413"


@pytest.mark.parametrize("service", list(WRITES))
def test_defect4_a_long_chunked_body_is_413_while_it_streams(apis, settings, service):
    base, (path, _) = apis[service], WRITES[service]
    limit = settings.api_max_body_bytes
    token = settings.pipeline_api_token.get_secret_value()
    # no Content-Length: the server counts what arrives and stops past the limit; the
    # terminating chunk is never sent, so only a streamed count can answer
    chunk = b"x" * 8192
    chunks = [b"%x\r\n" % len(chunk) + chunk + b"\r\n"] * (limit // len(chunk) + 2)
    status, sent = raw_exchange(base, post_head(path, length=None, token=token), chunks)
    assert status == "413"
    assert sent < 2 * limit
    # the error body is the suite's
    big = httpx.post(f"{base}{path}", content=b" " * (limit + 1),
                     headers={"Authorization": f"Bearer {token}",
                              "Content-Type": "application/json"})
    assert big.status_code == 413
    assert big.json()["error"] == "payload_too_large"
    assert "API_MAX_BODY_BYTES" in big.json()["detail"]


# -- defect 5 -------------------------------------------------------------------------------

@pytest.mark.parametrize("service", list(WRITES))
@pytest.mark.parametrize("day", ["2026-11-28T00:00:00Z", 0, 20240115, "2024-1-5", "20240115"])
def test_defect5_a_body_date_is_yyyy_mm_dd_only(apis, token, service, day):
    base, (path, _) = apis[service], WRITES[service]
    resp = httpx.post(f"{base}{path}", json={"date": day}, headers=token)
    assert resp.status_code == 422
    assert resp.json()["error"] == "invalid_request"
    assert "YYYY-MM-DD" in resp.json()["detail"]


@pytest.mark.parametrize(("service", "path"), [("ingestion", "/runs"),
                                               ("quality", "/results")])
def test_defect5_a_query_date_is_yyyy_mm_dd_only(apis, seeded, service, path):
    base = apis[service]
    for day in ("0", "2026-11-28T00:00:00Z", "1700000000"):
        resp = httpx.get(f"{base}{path}", params={"date": day})
        assert resp.status_code == 422, day
        assert "YYYY-MM-DD" in resp.json()["detail"]
    ok = httpx.get(f"{base}{path}", params={"date": seeded.run_date.isoformat()})
    assert ok.status_code == 200
    listed = ok.json()["runs"] if service == "ingestion" else ok.json()["results"]
    assert listed and {r["run_id"] for r in listed} == {seeded.run_id}


@pytest.mark.parametrize("service", list(WRITES))
def test_defect5_unknown_body_fields_and_retailers_are_422(apis, token, service):
    base, (path, body) = apis[service], WRITES[service]
    extra = httpx.post(f"{base}{path}", json={**body, "retailer": "retailer1"}, headers=token)
    assert extra.status_code == 422 and "retailer: Extra inputs" in extra.json()["detail"]
    unknown = httpx.post(f"{base}{path}", json={**body, "retailers": ["retailer9"]},
                         headers=token)
    assert unknown.status_code == 422
    assert "unknown retailer 'retailer9'" in unknown.json()["detail"]


# -- defect 7 -------------------------------------------------------------------------------

@pytest.mark.parametrize("service", list(WRITES))
def test_defect7_the_openapi_documents_what_is_sent(apis, service):
    spec = httpx.get(f"{apis[service]}/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer",
        "description": "`Authorization: Bearer <PIPELINE_API_TOKEN>`"}
    error_refs = {"#/components/schemas/ErrorResponse",
                  "#/components/schemas/ActiveRunResponse",
                  "#/components/schemas/NotReadyResponse",
                  "#/components/schemas/HealthReport"}
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            success = [c for c in op["responses"] if c.startswith("2")]
            assert len(success) == 1, where
            assert op["responses"][success[0]]["content"]["application/json"]["schema"], where
            for code, response in op["responses"].items():
                if code.startswith(("4", "5")):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref in error_refs, (where, code)
            if method == "post":
                assert op["security"] == [{"bearer": []}], where
                assert {"401", "413", "422"} <= set(op["responses"]), where
    assert schemas["ErrorResponse"]["required"] == ["error", "detail"]
    assert schemas["ErrorResponse"]["properties"]["detail"]["type"] == "string"


@pytest.mark.parametrize("service", list(WRITES))
def test_defect7_responses_carry_the_contract(apis, token, service):
    base, (path, _) = apis[service], WRITES[service]
    invalid = httpx.post(f"{base}{path}", json={"date": "someday"}, headers=token)
    assert invalid.status_code == 422
    assert set(invalid.json()) == {"error", "detail"}
    assert isinstance(invalid.json()["detail"], str)
    wrong_method = httpx.delete(f"{base}{path}")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "method_not_allowed"
    expected_allow = "GET, POST" if service == "ingestion" else "POST"
    assert wrong_method.headers["Allow"] == expected_allow
    unauthorized = httpx.post(f"{base}{path}", json={"date": "2024-01-15"})
    assert unauthorized.headers["WWW-Authenticate"] == "Bearer"
    for resp in (invalid, wrong_method, unauthorized, httpx.get(f"{base}/livez"),
                 httpx.get(f"{base}/nowhere"), httpx.get(f"{base}/openapi.json")):
        assert resp.headers["X-Content-Type-Options"] == "nosniff", resp.url


def test_defect7_the_page_has_a_content_security_policy(apis):
    page = httpx.get(f"{apis['quality']}/")
    assert page.status_code == 200 and '<table id="grid"' in page.text
    policy = dict(part.strip().split(" ", 1)
                  for part in page.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
