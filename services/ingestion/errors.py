"""The ingestion service's own errors; their shape and handlers are in shared/api_errors.py."""

from __future__ import annotations

from shared.api_errors import ActiveRunConflict, InvalidRequest, NotFound, ServiceError

__all__ = ["ActiveRunConflict", "IngestionError", "InvalidRequest", "RunNotFound"]

IngestionError = ServiceError


class RunNotFound(NotFound):
    """No run has that id."""
