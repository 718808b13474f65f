"""The replay API's errors: the shared shape (shared/api_errors.py) plus the mapping of the
two domain exceptions its routes let through."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from services.transformation.replay import NoStoredPartition
from shared import api_errors
from shared.api_errors import NotReady, Unauthorized, json_response
from shared.ops import ActiveRunExists

__all__ = ["NotReady", "Unauthorized", "register_error_handlers"]


def register_error_handlers(app: FastAPI) -> None:
    """The shared handlers, and a 409 / 404 for an active run / nothing stored to replay."""
    api_errors.register_error_handlers(app)

    @app.exception_handler(ActiveRunExists)
    async def _active_run(_: Request, exc: ActiveRunExists) -> Response:
        return json_response({"error": "active_run", "detail": str(exc),
                              "run_id": exc.run_id}, 409)

    @app.exception_handler(NoStoredPartition)
    async def _no_partition(_: Request, exc: NoStoredPartition) -> Response:
        return json_response({"error": "no_stored_partition", "detail": str(exc),
                              "missing": exc.missing}, 404)
