"""Prometheus metrics of the suite's HTTP APIs: request counts and latency, and `GET /metrics`.

`shared.api_app.create_app` adds `HttpMetrics` (an ASGI middleware) and `metrics_router` to
every API, so each process exposes, at `GET /metrics` in Prometheus' text format:
- `retail_http_requests_total{method, route, code}` and
  `retail_http_request_duration_seconds{method, route}` (a histogram), where `route` is the
  route's template (`/runs/{run_id}`), never the raw path, so a run id or a scanner's
  random paths never become a label (unmatched paths count as `route="<unmatched>"`);
- the process's own CPU, memory and open files (`process_*`) and Python's GC (`python_*`);
- whatever collectors the service adds (`ServiceApi.metrics`): the quality API adds the
  pipeline's figures computed from the ops and quality tables (services/quality/metrics.py).

`/metrics` answers without the bearer token, as every GET of the suite does: it is what a
Prometheus server scrapes, and it holds counts and timings, no data (docs/operations.md).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from fastapi import APIRouter
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "<unmatched>"

# Buckets from 5 ms to 10 s: the APIs answer in milliseconds; a slow /health or /metrics
# (a database under load) shows in the upper ones.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter("retail_http_requests", "HTTP requests answered, by route template and "
                   "status code.", ["method", "route", "code"])
LATENCY = Histogram("retail_http_request_duration_seconds", "Time to answer an HTTP request, "
                    "by route template.", ["method", "route"], buckets=LATENCY_BUCKETS)


def route_template(scope: Scope) -> str:
    """The template of the route that served the request (`/runs/{run_id}`), or
    `<unmatched>`: the path itself is never a label."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class HttpMetrics:
    """ASGI middleware: count and time every HTTP request by method, route template and code.

    It reads the route after the router matched it (Starlette writes it into the scope), so
    the label is the template; a request that raised before answering counts as 500.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_recording)
        finally:
            method, route = scope.get("method", "GET"), route_template(scope)
            REQUESTS.labels(method, route, str(status["code"])).inc()
            LATENCY.labels(method, route).observe(time.perf_counter() - started)


class _Together:
    """Several registries and collectors exposed as one (what `generate_latest` reads)."""

    def __init__(self, sources: Sequence[CollectorRegistry | Collector]) -> None:
        self.sources = sources

    def collect(self) -> Iterable:
        for source in self.sources:
            yield from source.collect()


def exposition(collectors: Sequence[Collector] = ()) -> bytes:
    """The process's metrics (the default registry: HTTP, process, GC) and `collectors`',
    in Prometheus' text format."""
    return generate_latest(_Together([REGISTRY, *collectors]))  # type: ignore[arg-type]


def metrics_router(collectors: Sequence[Collector] = ()) -> APIRouter:
    """`GET /metrics`: Prometheus' text format (no token: see the module's docstring)."""
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    def metrics(_request: Request) -> Response:
        """Prometheus metrics of this process (and of the pipeline, on the quality API)."""
        return Response(exposition(collectors), media_type=CONTENT_TYPE_LATEST)

    return router
