"""Scenarios 7 and 9 of issue #14: retailers that fail, throttle and expire tokens, and ten
clients asking for overlapping dates at once."""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.faults.harness import SUCCESS, assert_exact, report, running_suite

pytestmark = [pytest.mark.faults, pytest.mark.slow]


@pytest.fixture(scope="module")
def suite(settings, empty_pipeline):
    with running_suite(settings, "faults-sources") as running:
        yield running


def test_retailers_failing_throttling_and_expiring_tokens(suite, retailer_chaos,
                                                          fresh_day) -> None:
    day = fresh_day(dt.date(2024, 3, 25))
    for rid in ("retailer1", "retailer2", "retailer3"):
        retailer_chaos.set_chaos(rid, wait=False, error_rate=0.2, throttle_rate=0.2,
                                 retry_after=1)
    retailer_chaos.set_chaos("retailer3", token_ttl=3)  # waits for every server worker
    started = time.monotonic()
    run_id = suite.post_run(day)
    run = suite.wait(run_id)
    took = time.monotonic() - started
    retailer_chaos.reset_chaos()
    totals = assert_exact(suite, retailer_chaos.database_urls, run_id, day)
    assert all(run["retailers"][r]["ingest"]["status"] == "succeeded" for r in totals)
    report("7 retailers at 20% 500s and 20% 429 (Retry-After 1 s), retailer3 tokens of 3 s",
           run_s=round(took, 1), status=run["status"],
           **{f"{rid}_lines": t["lines"] for rid, t in totals.items()})


# Ten clients at once, for overlapping dates and ranges of 2024-04-01..04.
DAYS = [dt.date(2024, 4, d) for d in (1, 2, 3, 4)]
REQUESTS = [
    {"date": "2024-04-01"}, {"date": "2024-04-01"},
    {"start": "2024-04-01", "end": "2024-04-02"}, {"start": "2024-04-02", "end": "2024-04-03"},
    {"date": "2024-04-03"}, {"start": "2024-04-03", "end": "2024-04-04"},
    {"date": "2024-04-04"}, {"date": "2024-04-02"},
    {"start": "2024-04-01", "end": "2024-04-04"}, {"date": "2024-04-04"},
]


def test_ten_concurrent_requests_for_overlapping_dates(suite, retailer_apps, fresh_day) -> None:
    for day in DAYS:
        fresh_day(day)
    with ThreadPoolExecutor(len(REQUESTS)) as pool:
        answers = list(pool.map(suite.post_runs, REQUESTS))
    codes = [a.status_code for a in answers]
    assert set(codes) <= {202, 409}, [a.text for a in answers]
    accepted = [run for a in answers if a.status_code == 202 for run in a.json()["runs"]]
    refused = [a.json() for a in answers if a.status_code == 409]
    assert all(r["error"] for r in refused)
    # One run per date: no date accepted twice, and every date accepted by someone.
    accepted_days = sorted(r["run_date"] for r in accepted)
    assert accepted_days == [d.isoformat() for d in DAYS], accepted_days
    started = time.monotonic()
    runs = {r["run_date"]: suite.wait(r["run_id"], timeout=360) for r in accepted}
    took = time.monotonic() - started
    assert all(run["status"] in SUCCESS for run in runs.values()), runs
    with suite.db() as cur:
        cur.execute("select run_date, count(*) from ops.run where run_date = any(%s) "
                    "group by run_date order by 1", (DAYS,))
        assert cur.fetchall() == [(d, 1) for d in DAYS], "each date ran exactly once"
    lines = 0
    for run in accepted:
        day = dt.date.fromisoformat(run["run_date"])
        totals = assert_exact(suite, retailer_apps.database_urls, run["run_id"], day,
                              known=DAYS[-1])
        lines += sum(t["lines"] for t in totals.values())
    report("9 ten concurrent POST /runs, overlapping", accepted=codes.count(202),
           refused_409=codes.count(409), dates=len(DAYS), all_runs_s=round(took, 1),
           lines=lines)
