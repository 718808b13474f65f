"""The errors the suite's HTTP APIs report, and the one place their handlers are registered.

Every error answers `{"error": "<code>", "detail": "<for a person>"}` with its status code,
plus any fields an error adds (an active run's id on a 409). A service subclasses these for
its own cases and calls `register_error_handlers(app)` once.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """Base of the errors a service reports to its callers; subclasses set the status."""

    status_code = 500
    error = "internal_error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "detail": self.detail, **self.extra}


class InvalidRequest(ServiceError):
    status_code = 422
    error = "invalid_request"


class Unauthorized(ServiceError):
    status_code = 401
    error = "unauthorized"


class NotFound(ServiceError):
    status_code = 404
    error = "not_found"


class Conflict(ServiceError):
    status_code = 409
    error = "conflict"


class NotReady(ServiceError):
    status_code = 503
    error = "not_ready"


def json_response(content: Any, status_code: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    """A JSON response serialized by orjson (datetimes, UUIDs and dates included)."""
    return Response(orjson.dumps(content), status_code=status_code, headers=headers,
                    media_type="application/json")


def validation_message(exc: RequestValidationError) -> str:
    """`field: what is wrong` for each problem, without pydantic's plumbing words."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "invalid request"


def register_error_handlers(app: FastAPI) -> None:
    """Map every error to `{"error", "detail"}` with its status code."""

    @app.exception_handler(ServiceError)
    async def _service_error(_request: Request, exc: ServiceError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
        return json_response(exc.body(), exc.status_code, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        return json_response({"error": "invalid_request", "detail": validation_message(exc)},
                             422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return json_response({"error": code, "detail": str(exc.detail)}, exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return json_response({"error": "internal_error", "detail": type(exc).__name__}, 500)
