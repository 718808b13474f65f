"""The ingestion service's own errors; their shape and handlers are in shared/api_errors.py."""

from __future__ import annotations

from shared.api_errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    NotReady,
    ServiceError,
    Unauthorized,
    json_response,
    register_error_handlers,
)

__all__ = ["ActiveRunConflict", "IngestionError", "InvalidRequest", "NotReady", "RunNotFound",
           "Unauthorized", "json_response", "register_error_handlers"]

IngestionError = ServiceError


class RunNotFound(NotFound):
    """No run has that id."""


class ActiveRunConflict(Conflict):
    """The date already has an active run; `run_id` names it."""

    error = "active_run_exists"
