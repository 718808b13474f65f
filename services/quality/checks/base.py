"""What a check is: a named value with a severity, a scope and a body (SQL or a function).

Checks are data, in the spirit of dbt's `not_null` / `unique` / `relationships` tests: a
check module declares values, the registry collects them, the runner evaluates whatever the
registry holds. Adding a check never means adding a branch anywhere else.

Status semantics, used everywhere (runner, verdict, page):
- `pass`  the rule holds;
- `warn`  the rule is broken, but the run may still succeed (amber);
- `fail`  the rule is broken and the run fails (red) - only critical checks fail;
- `error` the check could not be evaluated (its SQL raised, its input is missing).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import text
from sqlalchemy.engine import Connection

from services.quality.settings import QualitySettings

Number = Decimal | int | float


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"


class Scope(StrEnum):
    RETAILER_DATE = "retailer_date"  # evaluated once per retailer of the run, for its date
    RUN = "run"                      # evaluated once per run (stored with retailer_id '*')


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"


@dataclass(frozen=True)
class CheckContext:
    """Everything a check may look at; checks read the database through `conn` only."""

    conn: Connection
    run_id: str
    run_date: dt.date
    retailer_id: str            # '*' for run-wide checks
    retailer_key: int | None    # warehouse.dim_retailer key; None for run-wide checks
    settings: QualitySettings
    now: dt.datetime            # injected so deadlines are testable

    def params(self) -> dict[str, Any]:
        """The bind parameters every SQL check may use."""
        return {"run_id": self.run_id, "run_date": self.run_date,
                "retailer_id": self.retailer_id, "retailer_key": self.retailer_key}


@dataclass(frozen=True)
class Outcome:
    """What one evaluation found. `observed` is compared with `threshold` (largest passing)."""

    status: Status
    observed: Number | None
    threshold: Number | None
    message: str
    sample: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Check(ABC):
    """A named rule. Subclasses say how it is evaluated (SQL or Python)."""

    name: str
    kind: str          # reconciliation | completeness | uniqueness | integrity | ...
    description: str   # what it measures, for a person
    severity: Severity
    scope: Scope
    threshold: str     # the rule as a person reads it ("0 lines", "share <= 5%")

    body_kind: ClassVar[str]

    @property
    @abstractmethod
    def body(self) -> str:
        """The SQL, or the Python function's source: shown on the page and stored."""

    @abstractmethod
    def evaluate(self, ctx: CheckContext) -> Outcome:
        """Measure the rule for one context. May raise: the runner turns that into `error`."""

    def definition(self) -> dict[str, Any]:
        """The row stored in quality.check_definition."""
        row = {"check_name": self.name, "kind": self.kind, "description": self.description,
               "severity": str(self.severity), "scope": str(self.scope),
               "threshold": self.threshold, "body_kind": self.body_kind, "body": self.body}
        digest = hashlib.sha256("\x1f".join(str(v) for v in row.values()).encode())
        return {**row, "definition_hash": digest.hexdigest()}


@dataclass(frozen=True)
class SqlCheck(Check):
    """A check whose SQL selects the failing rows (each row a failing key, dbt-style).

    The observed value is the number of failing rows, or, with `population_sql`, their share
    of the population. Binds: :run_id, :run_date, :retailer_id, :retailer_key.
    """

    sql: str = ""
    what: str = "failing rows"              # the failing rows, for the message
    max_failing: Number = 0                 # largest count (or share) that passes
    population_sql: str | None = None       # a `select count(...)` giving the denominator

    body_kind: ClassVar[str] = "sql"

    @property
    def body(self) -> str:
        if self.population_sql:
            return f"{self.sql.strip()}\n\n-- population\n{self.population_sql.strip()}"
        return self.sql.strip()

    def evaluate(self, ctx: CheckContext) -> Outcome:
        params = {**ctx.params(), "_sample": ctx.settings.sample_size}
        # One statement gives both the count and the sample: the window runs before LIMIT.
        # The check's own query is a materialized CTE so it is planned for all its rows: as a
        # subquery under LIMIT it was planned to find the first rows fast (nested loops, 5x
        # slower when, as usual, nothing fails).
        rows = ctx.conn.execute(
            text(f"with f as materialized ({self.sql}) "
                 "select f.*, count(*) over () as _failing from f limit :_sample"),
            params,
        ).mappings().all()
        failing = int(rows[0]["_failing"]) if rows else 0
        sample = [{k: v for k, v in r.items() if k != "_failing"} for r in rows]
        if self.population_sql is None:
            status = Status.FAIL if failing > self.max_failing else Status.PASS
            return Outcome(status, failing, self.max_failing, f"{failing} {self.what}", sample)
        population = int(ctx.conn.execute(text(self.population_sql), params).scalar_one() or 0)
        share = Decimal(failing) / population if population else Decimal(0)
        status = Status.FAIL if share > Decimal(str(self.max_failing)) else Status.PASS
        message = f"{failing} of {population} {self.what} ({float(share):.2%})"
        return Outcome(status, round(share, 6), self.max_failing, message, sample)


@dataclass(frozen=True)
class PythonCheck(Check):
    """A check written as a function of the context, for rules SQL alone says badly."""

    func: Callable[[CheckContext], Outcome] | None = None

    body_kind: ClassVar[str] = "python"

    @property
    def body(self) -> str:
        assert self.func is not None
        try:
            return inspect.getsource(self.func)
        except (OSError, TypeError):  # no source on disk (e.g. a frozen build)
            return f"{self.func.__module__}.{self.func.__qualname__}"

    def evaluate(self, ctx: CheckContext) -> Outcome:
        assert self.func is not None
        return self.func(ctx)


def python_check(*, name: str, kind: str, description: str, severity: Severity,
                 scope: Scope, threshold: str) -> Callable[[Callable[[CheckContext], Outcome]],
                                                            PythonCheck]:
    """Declare a function as a check: the decorated name becomes the PythonCheck value."""

    def wrap(func: Callable[[CheckContext], Outcome]) -> PythonCheck:
        return PythonCheck(name=name, kind=kind, description=description, severity=severity,
                           scope=scope, threshold=threshold, func=func)

    return wrap


class CheckRegistry:
    """The named checks the service runs, in declaration order."""

    def __init__(self, checks: Iterable[Check] = ()) -> None:
        self._checks: dict[str, Check] = {}
        for check in checks:
            self.add(check)

    def add(self, check: Check) -> Check:
        """Register a check. Names are unique: they key definitions and results."""
        if check.name in self._checks:
            raise ValueError(f"a check named {check.name!r} is already registered")
        self._checks[check.name] = check
        return check

    def get(self, name: str) -> Check:
        return self._checks[name]

    def for_scope(self, scope: Scope) -> list[Check]:
        return [c for c in self._checks.values() if c.scope == scope]

    def names(self) -> list[str]:
        return list(self._checks)

    def __iter__(self) -> Iterator[Check]:
        return iter(self._checks.values())

    def __len__(self) -> int:
        return len(self._checks)

    def __contains__(self, name: object) -> bool:
        return name in self._checks
