"""The one skeleton of the suite's HTTP APIs (ingestion 8001, transformation 8002, quality
8003): `create_app(settings, service)` builds a FastAPI app from a service's routers.

Every app gets, from here and nowhere else:
- settings passed in at start (uvicorn `--factory` calls the service's `create_app`), kept
  on `app.state.settings` and handed to routes by the `SettingsDep` dependency;
- a lifespan that configures logging and runs the service's own start-up work;
- the error handlers of `shared.api_errors` (one body for every error);
- `GET /livez` and `GET /readyz` with the same keys, timeout and error body;
- `ContractRoute` on every route: the bearer token checked and the body size limited
  before the body is read;
- `X-Content-Type-Options: nosniff` on every response;
- `GET /metrics` (Prometheus) and the request counts and latencies behind it
  (`shared.metrics`), plus the service's own collectors (`ServiceApi.metrics`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from prometheus_client.registry import Collector
from pydantic import BaseModel, Field, SecretStr
from sqlalchemy.engine import Connection
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.api_auth import check_token, require_pipeline_token
from shared.api_errors import (
    ErrorResponse,
    InvalidRequest,
    NotReady,
    PayloadTooLarge,
    register_error_handlers,
)
from shared.db import get_engine
from shared.logging import configure_logging
from shared.metrics import HttpMetrics, metrics_router
from shared.readiness import ReadinessCheck, readiness
from shared.settings import load_settings_or_exit

# -- settings -------------------------------------------------------------------------------

class ApiSettings(Protocol):
    """What the skeleton reads of an API process's settings (each service's API settings
    class has it: ApiTokenSettings and LoggingSettings, plus its own)."""

    @property
    def pipeline_api_token(self) -> SecretStr: ...

    @property
    def api_max_body_bytes(self) -> int: ...

    @property
    def log_format(self) -> str: ...

    @property
    def log_level(self) -> str: ...


# -- dependencies ---------------------------------------------------------------------------

def app_settings(request: Request) -> Any:
    """The settings the app was created with (a service annotates them with its own class:
    `Annotated[IngestionApiSettings, Depends(app_settings)]`)."""
    return request.app.state.settings


def read_connection() -> Iterator[Connection]:
    """One pooled connection for the request; what it did is rolled back at the end."""
    with get_engine().connect() as conn:
        yield conn


ConnectionDep = Annotated[Connection, Depends(read_connection)]


# -- the route class: token and size before the body ----------------------------------------

async def read_body_within(request: Request, limit: int) -> None:
    """Read the request body, refusing it (413) as soon as it is longer than `limit`.

    The declared Content-Length is refused before a byte is read; a body without one
    (chunked) or lying about it is counted as it streams in, so it is never held whole.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is {int(declared)} bytes; at most {limit} "
                              "(API_MAX_BODY_BYTES)")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over {limit} bytes (API_MAX_BODY_BYTES)")
        chunks.append(chunk)
    body = b"".join(chunks)
    if body:
        # FastAPI answers 400 to bytes that are not text; every body here is JSON, and a
        # body that is not is malformed input like any other: 422.
        try:
            json.loads(body)
        except ValueError as exc:
            raise InvalidRequest(f"the body is not JSON: {exc}") from None
    # FastAPI reads the body through `request.body()`, which returns this cached value.
    request._body = body


class ContractRoute(APIRoute):
    """An APIRoute that checks, in this order, before FastAPI reads and parses the body:
    the bearer token (routes with `RequireToken`), then the body's size. So a malformed or
    huge body without a token is a 401 and is never read."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        needs_token = any(d.call is require_pipeline_token for d in self.dependant.dependencies)
        takes_body = self.body_field is not None

        async def contract_handler(request: Request) -> Response:
            settings = app_settings(request)
            if needs_token:
                check_token(request.headers.get("authorization"), settings.pipeline_api_token)
            if takes_body:
                await read_body_within(request, settings.api_max_body_bytes)
            return await handler(request)

        return contract_handler


def service_router() -> APIRouter:
    """The router a service declares its routes on."""
    return APIRouter(route_class=ContractRoute)


# -- headers on every response --------------------------------------------------------------

class NoSniff:
    """ASGI middleware: `X-Content-Type-Options: nosniff` on every response, so a browser
    never runs a JSON error body (which may echo input) as HTML or script."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"x-content-type-options"]
                message["headers"] = [*headers, (b"x-content-type-options", b"nosniff")]
            await send(message)

        await self.app(scope, receive, send_with_header)


# -- liveness and readiness -----------------------------------------------------------------

class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    checks: dict[str, str] = Field(description='each dependency: "ok" or why not')


class NotReadyResponse(ErrorResponse):
    checks: dict[str, str] = Field(description='each dependency: "ok" or why not')


def probes(depends_on: Sequence[str], extra: Mapping[str, ReadinessCheck]) -> APIRouter:
    """`GET /livez` and `GET /readyz` on the dependencies a service names."""
    router = service_router()

    @router.get("/livez", response_model=Liveness, tags=["probes"])
    def livez() -> Liveness:
        """Liveness: the process answers."""
        return Liveness()

    @router.get("/readyz", response_model=Readiness, tags=["probes"],
                responses={503: {"model": NotReadyResponse,
                                 "description": "a dependency is unreachable"}})
    def readyz(settings: Annotated[Any, Depends(app_settings)]) -> Readiness:
        """Readiness: every dependency answers (503 naming the ones that do not)."""
        checks = readiness(settings, depends_on, extra)
        down = [name for name, state in checks.items() if state != "ok"]
        if down:
            raise NotReady("not reachable: " + ", ".join(f"{n} ({checks[n]})" for n in down),
                           checks=checks)
        return Readiness(checks=checks)

    return router


# -- the app --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ServiceApi:
    """What makes one service's API: its routers and what it needs."""

    name: str
    description: str
    routers: Sequence[APIRouter]
    # Names from shared.readiness.CHECKS this service cannot work without.
    depends_on: Sequence[str]
    # Checks of the service's own (reported under their names beside the shared ones).
    extra_checks: Mapping[str, ReadinessCheck] = field(default_factory=dict)
    # Work at start (after logging is configured), with the app's settings.
    on_startup: Callable[[Any], None] | None = None
    static_dir: Path | None = None
    # Prometheus collectors of the service's own, built from the app's settings and exposed
    # at GET /metrics beside the process's metrics (the quality API: the pipeline's figures).
    metrics: Callable[[Any], Sequence[Collector]] | None = None


def create_app(settings: ApiSettings, service: ServiceApi) -> FastAPI:
    """Build a service's FastAPI app.

    Args:
        settings: read once at the process start by the caller (never at import).
        service: the service's routers and dependencies.
    Returns:
        The app, with the suite's lifespan, handlers, probes, route checks and headers.
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_format, settings.log_level)
        if service.on_startup is not None:
            service.on_startup(settings)
        yield

    app = FastAPI(title=f"Retail pipeline: {service.name}", version="1",
                  description=service.description, lifespan=lifespan)
    app.state.settings = settings
    register_error_handlers(app)
    app.add_middleware(NoSniff)
    app.add_middleware(HttpMetrics)
    app.include_router(probes(service.depends_on, service.extra_checks))
    app.include_router(metrics_router(service.metrics(settings) if service.metrics else ()))
    for router in service.routers:
        app.include_router(router)
    if service.static_dir is not None:
        app.mount("/static", StaticFiles(directory=service.static_dir), name="static")
    return app


def app_factory(service: ServiceApi,
                settings_class: type[Any]) -> Callable[[ApiSettings | None], FastAPI]:
    """A service's `create_app(settings=None)`, the target of `uvicorn --factory`: the
    process's settings (`settings_class`) are read when it is called, at the process start,
    unless a test passes them."""

    def create_service_app(settings: ApiSettings | None = None) -> FastAPI:
        return create_app(settings or load_settings_or_exit(settings_class), service)

    create_service_app.__doc__ = f"The {service.name} app, built with its settings."
    return create_service_app
