"""Schemathesis against each service's published OpenAPI, on the real uvicorn processes.

Bounded (`MAX_EXAMPLES` per operation, a fixed seed) so the three stay within a minute or
two (about 90 s here). Every phase runs: the schema's examples, its coverage cases (each
constraint broken on purpose: a date as a datetime or a number, an unknown field), random
fuzzing, and stateful sequences (a run POSTed, then read at its `Location`). It fails on
any 5xx and on any response that the OpenAPI does not describe: its status, content type,
headers or body; and on a 2xx for input the schema forbids, a missing `Allow` on 405, a
write route that answers without its token.
"""

from __future__ import annotations

import subprocess

import pytest

from suite.processes import VENV_BIN

MAX_EXAMPLES = 25
SEED = 20241
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_headers_conformance,response_schema_conformance,negative_data_rejection,"
          "missing_required_header,unsupported_method,allow_header_conformance,ignored_auth")


@pytest.mark.parametrize("service", ["ingestion", "transformation", "quality"])
def test_the_api_keeps_its_published_contract(apis, token, service, tmp_path):
    url = apis[service]
    # One worker: with two, Hypothesis describing its filters from two threads at once trips
    # CPython 3.11.7's "AST constructor recursion depth mismatch" (fixed in later releases).
    proc = subprocess.run(
        [str(VENV_BIN / "st"), "--no-color", "run", f"{url}/openapi.json", "--checks", CHECKS,
         "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--workers", "1",
         "--phases", "examples,coverage,fuzzing,stateful", "--request-timeout", "10",
         "-H", f"Authorization: {token['Authorization']}",
         "--generation-database", "none", "--report", "junit", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    print(proc.stdout[-6000:])
    assert proc.returncode == 0, proc.stdout[-12000:] + proc.stderr[-2000:]
