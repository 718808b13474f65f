"""The checks the quality service runs, as data.

Each module declares its checks as values and lists them in `CHECKS`; `REGISTRY` collects
them in a fixed order (the order of the page's grid). To add a check, declare it in the
module of its kind and append it to that module's `CHECKS`.
"""

from __future__ import annotations

from services.quality.checks import (
    completeness,
    freshness,
    ingestion,
    integrity,
    reconciliation,
    rules,
    stream,
    uniqueness,
    volume,
)
from services.quality.checks.base import (
    Check,
    CheckContext,
    CheckRegistry,
    Outcome,
    PythonCheck,
    Scope,
    Severity,
    SqlCheck,
    Status,
    python_check,
)

REGISTRY = CheckRegistry([
    *freshness.CHECKS,
    *reconciliation.CHECKS,
    *ingestion.CHECKS,
    *uniqueness.CHECKS,
    *integrity.CHECKS,
    *rules.CHECKS,
    *completeness.CHECKS,
    *stream.CHECKS,
    *volume.CHECKS,
])

__all__ = ["REGISTRY", "Check", "CheckContext", "CheckRegistry", "Outcome", "PythonCheck",
           "Scope", "Severity", "SqlCheck", "Status", "python_check"]
