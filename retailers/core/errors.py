"""One error type for the retailers' APIs and the handlers that render every error as
`{"error": "...", "detail": "..."}` with the right status."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from retailers.core.responses import json_response

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answer: status, a machine-readable code, a human-readable detail."""

    def __init__(self, status: int, error: str, detail: str,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = dict(headers or {})

    def response(self) -> Response:
        return json_response({"error": self.error, "detail": self.detail}, self.status,
                             self.headers)


def unauthorized(detail: str, error: str = "unauthorized",
                 headers: Mapping[str, str] | None = None) -> ApiError:
    return ApiError(401, error, detail, headers)


def bad_request(detail: str) -> ApiError:
    return ApiError(400, "bad_request", detail)


def register_error_handlers(app: Flask) -> None:
    """Render ApiError, HTTP errors (404, 405) and unexpected exceptions as JSON."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return exc.response()

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        return json_response({"error": code, "detail": exc.description or exc.name},
                             exc.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return json_response({"error": "internal_error", "detail": type(exc).__name__}, 500)
