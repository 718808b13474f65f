"""How a test talks to a running suite as a user does: POST /runs, then poll GET /runs/{id}
until the run ends. Shared by the end-to-end tests, the fault suite and the container test.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import httpx
import pytest

SUCCESS = ("succeeded", "succeeded_with_warnings")
FINAL = (*SUCCESS, "failed", "canceled")
# Pipeline-wide ceiling of one test's run, a fault scenario included.
RUN_TIMEOUT = 240


@dataclass
class RunClient:
    """The ingestion API of a running suite, with the pipeline token. `retailers`: the
    retailers every run asks for (default: the API's, every retailer)."""

    api_url: str
    token: str
    retailers: Sequence[str] = ()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def post_runs(self, body: Mapping) -> httpx.Response:
        if self.retailers:
            body = {"retailers": list(self.retailers), **body}
        return httpx.post(f"{self.api_url}/runs", json=dict(body), headers=self.headers,
                          timeout=60)

    def post_run(self, day: dt.date) -> str:
        """Start a run of `day`; its run id."""
        resp = self.post_runs({"date": day.isoformat()})
        assert resp.status_code == 202, resp.text
        return resp.json()["runs"][0]["run_id"]

    def get_run(self, run_id: str) -> dict:
        resp = httpx.get(f"{self.api_url}/runs/{run_id}", timeout=30)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def wait(self, run_id: str, timeout: float = RUN_TIMEOUT,
             meanwhile: Callable[[], None] | None = None) -> dict:
        """Poll until the run ends; its last state. `meanwhile` runs between polls (a test
        without beat sweeps there). The API itself may be riding out a fault: a failed
        request is retried until the timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                run = self.get_run(run_id)
            except httpx.HTTPError:
                time.sleep(0.5)
                continue
            if run["status"] in FINAL:
                return run
            if meanwhile:
                meanwhile()
            time.sleep(0.5)
        pytest.fail(f"run {run_id} did not end in {timeout:.0f}s: {self.get_run(run_id)}")
