"""The verdict: how check results and step states become a run's final status.

- `failed`: a critical check failed or could not be evaluated (error), or a step of the
  run failed or is dead;
- `succeeded_with_warnings`: otherwise, when any check warned (a warning-level check that
  broke its rule, a critical check over its soft threshold) or a warning-level check erred;
- `succeeded`: every check passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.engine import Connection

from shared.ops import RUN_WIDE, failed_partitions

STATUSES = ("pass", "warn", "fail", "error")


@dataclass(frozen=True)
class Judged:
    """The part of a result the verdict looks at."""

    check_name: str
    retailer_id: str
    severity: str
    status: str


class Graded(Protocol):
    """Anything with a result status: a stored row or a fresh CheckResult."""

    @property
    def status(self) -> str: ...


@dataclass(frozen=True)
class Verdict:
    status: str               # succeeded | succeeded_with_warnings | failed
    reasons: list[str]

    @property
    def error(self) -> str | None:
        """What ops.run.error records: why the run failed (nothing when it did not)."""
        return "; ".join(self.reasons)[:4000] if self.status == "failed" else None


def _where(retailer_id: str) -> str:
    return "run-wide" if retailer_id == RUN_WIDE else retailer_id


def decide(results: Iterable[Judged], failed_steps: Sequence[Mapping[str, Any]]) -> Verdict:
    """Apply the verdict rules to results and the run's failed or dead steps."""
    results = list(results)
    failures = [f"step {s['step']} {_where(s['retailer_id'])} {s['status']}"
                + (f": {s['error']}" if s.get("error") else "") for s in failed_steps]
    failures += [f"critical check {r.check_name} ({_where(r.retailer_id)}) {r.status}"
                 for r in results if r.severity == "critical" and r.status in ("fail", "error")]
    if failures:
        return Verdict("failed", failures)
    warnings = [f"{r.check_name} ({_where(r.retailer_id)}) {r.status}"
                for r in results if r.status != "pass"]
    if warnings:
        return Verdict("succeeded_with_warnings", warnings)
    return Verdict("succeeded", [])


def tally(results: Iterable[Graded]) -> dict[str, int]:
    """Results per status, as the quality step's counts: {"pass", "warn", "fail", "error"}."""
    counts = dict.fromkeys(STATUSES, 0)
    for r in results:
        counts[str(r.status)] += 1
    return counts


def stored_results(conn: Connection, run_id: str,
                   retailer_id: str | None = None) -> list[Judged]:
    """The run's stored results (one retailer's and the run-wide ones, when given)."""
    rows = conn.execute(
        text("select check_name, retailer_id, severity, status from quality.check_result "
             "where run_id = :r and (cast(:ret as text) is null or retailer_id in (:ret, :all))"),
        {"r": run_id, "ret": retailer_id, "all": RUN_WIDE},
    ).all()
    return [Judged(*row) for row in rows]


def failed_steps(conn: Connection, run_id: str,
                 retailer_id: str | None = None) -> list[dict[str, Any]]:
    """The run's failed or dead steps (one retailer's and run-wide ones, when given)."""
    steps = failed_partitions(conn, run_id)
    if retailer_id is None:
        return steps
    return [s for s in steps if s["retailer_id"] in (retailer_id, RUN_WIDE)]


def stored_verdict(conn: Connection, run_id: str, retailer_id: str | None = None) -> Verdict:
    """The verdict the stored results and step states give (for a run or one retailer)."""
    return decide(stored_results(conn, run_id, retailer_id),
                  failed_steps(conn, run_id, retailer_id))
