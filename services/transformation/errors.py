"""The API's one error base class and the one place that maps errors to responses.

Every error answers `{"error": "<code>", "detail": "<text>"}` with its status.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.transformation.replay import NoStoredPartition
from shared.ops import ActiveRunExists


class ApiError(Exception):
    status = 400
    error = "bad_request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class Unauthorized(ApiError):
    status = 401
    error = "unauthorized"


class NotReady(ApiError):
    status = 503
    error = "not_ready"


def error_response(status: int, error: str, detail: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": error, "detail": detail, **extra}, status_code=status,
                          headers=headers)


def register_error_handlers(app: FastAPI) -> None:
    """Map every error the routes can raise to the `{"error", "detail"}` shape."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.detail, **exc.extra)

    @app.exception_handler(ActiveRunExists)
    async def _active_run(_: Request, exc: ActiveRunExists) -> JSONResponse:
        return error_response(409, "active_run", str(exc), run_id=exc.run_id)

    @app.exception_handler(NoStoredPartition)
    async def _no_partition(_: Request, exc: NoStoredPartition) -> JSONResponse:
        return error_response(404, "no_stored_partition", str(exc), missing=exc.missing)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        return error_response(422, "invalid_request", problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, "http_error", str(exc.detail))
