"""The quality service's errors; their shape and handlers are in shared/api_errors.py."""

from __future__ import annotations

from shared.api_errors import ActiveRunConflict, Conflict, InvalidRequest, NotFound

__all__ = ["ActiveRunConflict", "Conflict", "InvalidRequest", "NotFound"]
