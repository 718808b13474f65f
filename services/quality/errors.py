"""The quality service's errors; their shape and handlers are in shared/api_errors.py."""

from __future__ import annotations

from shared.api_errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    Unauthorized,
    register_error_handlers,
)

__all__ = ["Conflict", "InvalidRequest", "NotFound", "Unauthorized", "register_error_handlers"]
