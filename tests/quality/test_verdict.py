"""The verdict rules: which results and step states give which final status."""

from __future__ import annotations

import pytest

from services.quality.verdict import Judged, decide, tally


def judged(severity: str, status: str, name: str = "c", retailer: str = "retailer1") -> Judged:
    return Judged(name, retailer, severity, status)


@pytest.mark.parametrize("results, steps, expected", [
    ([judged("critical", "pass"), judged("warning", "pass")], [], "succeeded"),
    ([judged("critical", "pass"), judged("warning", "warn")], [], "succeeded_with_warnings"),
    # a critical check over its soft threshold (rejected share 5-20%) only warns
    ([judged("critical", "warn")], [], "succeeded_with_warnings"),
    # a warning-level check that cannot be evaluated does not fail the run
    ([judged("warning", "error")], [], "succeeded_with_warnings"),
    ([judged("critical", "fail"), judged("warning", "warn")], [], "failed"),
    ([judged("critical", "error")], [], "failed"),
    ([judged("critical", "pass")],
     [{"step": "ingest", "retailer_id": "retailer3", "status": "dead", "error": "HTTP 500"}],
     "failed"),
    ([], [], "succeeded"),
])
def test_decide(results, steps, expected) -> None:
    assert decide(results, steps).status == expected


def test_failed_verdict_says_why() -> None:
    verdict = decide(
        [judged("critical", "fail", "reconcile_amount", "retailer2"),
         judged("warning", "warn", "customer_email_present")],
        [{"step": "ingest", "retailer_id": "retailer3", "status": "dead", "error": "HTTP 500"}])
    assert verdict.reasons == ["step ingest retailer3 dead: HTTP 500",
                               "critical check reconcile_amount (retailer2) fail"]
    assert verdict.error == "step ingest retailer3 dead: HTTP 500; " \
                            "critical check reconcile_amount (retailer2) fail"
    assert decide([judged("warning", "warn")], []).error is None


def test_tally_counts_every_status() -> None:
    results = [judged("critical", s) for s in ("pass", "pass", "warn", "fail", "error")]
    assert tally(results) == {"pass": 2, "warn": 1, "fail": 1, "error": 1}
