"""The errors the suite's HTTP APIs report, and the one place their handlers are registered.

Every error answers `{"error": "<code>", "detail": "<for a person>"}` with its status code,
plus any fields an error adds (an active run's id on a 409). A service subclasses these for
its own cases; `shared.api_app.create_app` registers the handlers once per app, and routes
declare what they can answer with `error_responses(...)`, so the OpenAPI documents the same
body the handlers send (FastAPI's default 422 `detail` array included: it is never sent).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from shared.ops import ActiveRunExists

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


class PayloadTooLarge(ServiceError):
    status_code = 413
    error = "payload_too_large"


class NotReady(ServiceError):
    status_code = 503
    error = "not_ready"


class ActiveRunConflict(Conflict):
    """The date already has an active run; `run_id` names it. One code in every service."""

    error = "active_run_exists"


class ErrorResponse(BaseModel):
    """The body of every error: a stable code for programs, a sentence for people."""

    # Some errors add context (the active run's id on a 409, the missing partitions on a 404).
    model_config = ConfigDict(extra="allow")

    error: str = Field(description="stable, snake_case code", examples=["not_found"])
    detail: str = Field(description="what went wrong, for a person")


class ActiveRunResponse(ErrorResponse):
    """409 `active_run_exists`: the run that holds the date."""

    run_id: str | None = Field(description="the active run of the date (null when it ended "
                                           "while the request was refused)")


# What each status means on this suite's APIs; `error_responses` puts them in the OpenAPI.
ERROR_MEANINGS: dict[int, str] = {
    400: "malformed request line or headers",
    401: "missing or wrong bearer token (`Authorization: Bearer <PIPELINE_API_TOKEN>`)",
    404: "no such resource",
    409: "the date already has an active run (`active_run_exists`, its `run_id` attached)",
    413: "request body larger than API_MAX_BODY_BYTES",
    422: "malformed input: a date not YYYY-MM-DD, an unknown field or retailer, a bad value",
    503: "a dependency is unreachable",
}


def error_responses(*codes: int, **meanings: str) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: each status with the error model and its meaning.

    Args:
        codes: the statuses the route can answer besides its success.
        meanings: a route's own wording for a status, keyed `s404="..."`.
    Returns:
        A dict for FastAPI's `responses` argument.
    """
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        model = ActiveRunResponse if code == 409 else ErrorResponse
        out[code] = {"model": model,
                     "description": meanings.get(f"s{code}", ERROR_MEANINGS[code])}
    return out


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


# Codes for the statuses Starlette raises itself (unknown path, wrong method, ...).
HTTP_ERROR_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
                    413: "payload_too_large"}


def allowed_methods(request: Request) -> list[str] | None:
    """The methods the app's OpenAPI documents on the request's path (None when the path
    is not in it)."""
    for template, operations in request.app.openapi()["paths"].items():
        if compile_path(template)[0].match(request.url.path):
            return sorted(method.upper() for method in operations)
    return None


def register_error_handlers(app: FastAPI) -> None:
    """Map every error to `{"error", "detail"}` with its status code."""

    @app.exception_handler(ServiceError)
    async def _service_error(_request: Request, exc: ServiceError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
        return json_response(exc.body(), exc.status_code, headers)

    @app.exception_handler(ActiveRunExists)
    async def _active_run(_request: Request, exc: ActiveRunExists) -> Response:
        conflict = ActiveRunConflict(f"{exc}; wait for it to end", run_id=exc.run_id)
        return json_response(conflict.body(), conflict.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        return json_response({"error": "invalid_request", "detail": validation_message(exc)},
                             422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = HTTP_ERROR_CODES.get(exc.status_code, "http_error")
        headers = dict(exc.headers) if exc.headers else {}
        allowed = allowed_methods(request) if exc.status_code == 405 else None
        if allowed:
            # Starlette names only the methods of the first route on the path; RFC 9110
            # wants every method the resource answers.
            headers["Allow"] = ", ".join(allowed)
        return json_response({"error": code, "detail": str(exc.detail)}, exc.status_code,
                             headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return json_response({"error": "internal_error", "detail": type(exc).__name__}, 500)
