"""The one retailer client interface and the HTTP machinery every adapter shares.

An adapter says how to authenticate, which resources a day has and how each is paged
(offset, cursor or page number), and how records map to the canonical model. Everything
else is written once here: an httpx client with explicit timeouts, retries on transport
errors, 429 and 5xx with exponential backoff and jitter (a server's Retry-After wins when
it asks for longer), one re-authentication on a 401, a retry budget per partition, and page
iterators that hold one page at a time.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
import orjson

from services.ingestion.settings import IngestionSettings

if TYPE_CHECKING:
    from services.ingestion.normalize import Normalizer

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Page:
    """One page of one resource, parsed; `number` counts from 1 within the resource."""

    resource: str
    number: int
    records: list[dict[str, Any]]
    nbytes: int


@dataclass(frozen=True)
class ControlTotals:
    """A retailer's own totals for a day: order lines of orders created that day."""

    line_count: int
    amount: str
    currency: str
    raw: dict[str, Any] = field(default_factory=dict)

    def as_manifest(self) -> dict[str, Any]:
        return {"line_count": self.line_count, "amount": self.amount,
                "currency": self.currency, "raw": self.raw}


@dataclass(frozen=True)
class Reply:
    """A retailer's answer: status, headers and the body's bytes.

    Bodies are read through httpx's streaming API into bytes owned here: an
    `httpx.Response` sits in a reference cycle with its stream, so a response that kept its
    body would hold a page's megabytes until the cyclic garbage collector ran, and a long
    day's RSS would climb page after page.
    """

    status_code: int
    headers: httpx.Headers
    content: bytes

    def json(self) -> Any:
        return orjson.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


class RetailerError(Exception):
    """A retailer call that failed for good; `detail` says where (for ops.run_step)."""

    def __init__(self, message: str, *, retailer_id: str, resource: str | None,
                 page: int | None, status: int | None = None) -> None:
        super().__init__(message)
        self.retailer_id = retailer_id
        self.resource = resource
        self.page = page
        self.status = status

    @property
    def detail(self) -> dict[str, Any]:
        return {"retailer_id": self.retailer_id, "resource": self.resource, "page": self.page,
                "status": self.status, "error": str(self)}


class RetailerUnavailable(RetailerError):
    """Transport errors, 429s or 5xx past the retry budget or the attempts per request."""


class RetailerRejectedRequest(RetailerError):
    """A 4xx that retrying cannot fix: bad credentials (after one re-authentication), bad
    parameters. Like RetailerUnavailable it ends the partition as failed."""


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often one partition may retry a retailer."""

    budget_seconds: float
    max_attempts: int
    base_delay: float
    max_delay: float

    @classmethod
    def from_settings(cls, s: IngestionSettings) -> RetryPolicy:
        return cls(s.retry_budget_seconds, s.retry_max_attempts, s.retry_base_delay_seconds,
                   s.retry_max_delay_seconds)

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random, so retries of
        many workers spread out without ever collapsing to zero."""
        delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return delay / 2 + random.uniform(0, delay / 2)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A Retry-After header as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class RetailerClient(ABC):
    """One retailer's API for one partition (one retailer, one day).

    Adapters implement `authenticate`/`auth_headers`, `iter_pages`, `control_totals` and
    `normalizer`; they page with `offset_pages`, `cursor_pages` or `numbered_pages`.
    Not thread-safe: one thread makes the calls (the prefetch thread while landing).
    """

    retailer_id: ClassVar[str]
    # The resources of a day, in fetch order (reference data before orders).
    resources: ClassVar[tuple[str, ...]]

    def __init__(self, base_url: str, settings: IngestionSettings, *,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.page_size = settings.page_size
        self.policy = RetryPolicy.from_settings(settings)
        timeout = settings.http_timeout_seconds
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "retail-ingestion"},
        )
        self._sleep = sleep
        self.retry_seconds = 0.0  # spent waiting on failed calls, against the budget
        self.retries = 0
        self.requests = 0
        self.reauthentications = 0  # 401s answered by authenticating again

    # -- what an adapter provides -----------------------------------------------------------

    @abstractmethod
    def authenticate(self, *, force: bool = False) -> None:
        """Obtain or renew credentials (a no-op for static keys)."""

    @abstractmethod
    def auth_headers(self) -> Mapping[str, str]:
        """Headers that authenticate one request (may refresh a token about to expire)."""

    @abstractmethod
    def iter_pages(self, resource: str, day: dt.date) -> Iterator[Page]:
        """Every page of `resource` for `day`, in the retailer's stable order."""

    @abstractmethod
    def control_totals(self, day: dt.date) -> ControlTotals:
        """The retailer's own line count and money total for `day`."""

    @abstractmethod
    def normalizer(self, day: dt.date) -> Normalizer:
        """A fresh normalizer for one partition's pages (it keeps per-partition state)."""

    # -- shared machinery -------------------------------------------------------------------

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RetailerClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def iter_day(self, day: dt.date) -> Iterator[Page]:
        """Every page of every resource of the day, resource after resource."""
        for resource in self.resources:
            yield from self.iter_pages(resource, day)

    def get_json(self, path: str, params: Mapping[str, Any] | None = None, *,
                 resource: str | None, page: int | None = None) -> tuple[Any, int]:
        """GET a JSON document with retries. Returns (parsed body, body size in bytes)."""
        resp = self.request("GET", path, params=params, resource=resource, page=page)
        try:
            return resp.json(), len(resp.content)
        except orjson.JSONDecodeError as exc:
            raise RetailerRejectedRequest(
                f"{path} answered with a body that is not JSON: {exc}",
                retailer_id=self.retailer_id, resource=resource, page=page,
                status=resp.status_code) from None

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                data: Mapping[str, str] | None = None, authenticated: bool = True,
                auth: httpx.Auth | None = None, resource: str | None = None,
                page: int | None = None) -> Reply:
        """One HTTP call, retried on transport errors, 429 and 5xx within the budget.

        A 401 on an authenticated call re-authenticates once and repeats the call (a token
        that expired in flight); a second 401 or any other 4xx raises
        RetailerRejectedRequest. Running out of attempts or budget raises
        RetailerUnavailable naming the resource and page.
        """
        attempt = 0
        reauthenticated = False
        while True:
            attempt += 1
            started = time.monotonic()
            headers = self.auth_headers() if authenticated else None
            self.requests += 1
            wait_hint: float | None = None
            try:
                with self.http.stream(method, path, params=params, data=data,
                                      headers=headers, auth=auth) as streamed:
                    resp = Reply(streamed.status_code, streamed.headers,
                                 b"".join(streamed.iter_bytes()))
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                status = None
            else:
                if resp.status_code < 400:
                    return resp
                status = resp.status_code
                problem = f"HTTP {status}: {resp.text[:200]}"
                if status == 401 and authenticated and not reauthenticated:
                    log.info("retailer answered 401; re-authenticating once",
                             extra={"resource": resource, "page": page})
                    reauthenticated = True
                    self.reauthentications += 1
                    self.authenticate(force=True)
                    attempt -= 1  # an expired token is not the retailer failing
                    continue
                if status not in RETRYABLE_STATUS:
                    raise RetailerRejectedRequest(
                        f"{method} {path} failed: {problem}", retailer_id=self.retailer_id,
                        resource=resource, page=page, status=status)
                wait_hint = retry_after_seconds(resp.headers.get("Retry-After"))
            delay = max(self.policy.backoff(attempt), wait_hint or 0.0)
            self.retry_seconds += time.monotonic() - started
            if attempt >= self.policy.max_attempts or \
                    self.retry_seconds + delay > self.policy.budget_seconds:
                raise RetailerUnavailable(
                    f"{method} {path} still failing after {attempt} attempts and "
                    f"{self.retry_seconds:.1f}s of retries: {problem}",
                    retailer_id=self.retailer_id, resource=resource, page=page, status=status)
            log.debug("retrying %s %s in %.2fs after %s", method, path, delay, problem)
            self.retries += 1
            self.retry_seconds += delay
            self._sleep(delay)

    # -- the three pagination styles ---------------------------------------------------------

    def offset_pages(self, resource: str, path: str, params: Mapping[str, Any], *,
                     items_key: str, total_key: str = "total", offset_param: str = "offset",
                     limit_param: str = "limit") -> Iterator[Page]:
        """Offset/limit paging, until `total` records were read or a page comes back empty."""
        offset, number = 0, 0
        while True:
            number += 1
            body, nbytes = self.get_json(
                path, {**params, offset_param: offset, limit_param: self.page_size},
                resource=resource, page=number)
            records = _items(body, items_key, self.retailer_id, resource, number)
            if records:
                yield Page(resource, number, records, nbytes)
            offset += len(records)
            total = body.get(total_key)
            if not records or (isinstance(total, int) and offset >= total):
                return

    def cursor_pages(self, resource: str, path: str, params: Mapping[str, Any], *,
                     items_key: str, cursor_param: str = "cursor",
                     next_key: str = "next_cursor",
                     size_param: str = "page_size") -> Iterator[Page]:
        """Keyset paging with an opaque cursor, until the next cursor is null."""
        cursor: str | None = None
        number = 0
        while True:
            number += 1
            query = {**params, size_param: self.page_size}
            if cursor is not None:
                query[cursor_param] = cursor
            body, nbytes = self.get_json(path, query, resource=resource, page=number)
            records = _items(body, items_key, self.retailer_id, resource, number)
            if records:
                yield Page(resource, number, records, nbytes)
            cursor = body.get(next_key)
            if not cursor:
                return

    def numbered_pages(self, resource: str, path: str, params: Mapping[str, Any], *,
                       items_key: str = "items", page_param: str = "page",
                       size_param: str = "per_page",
                       pages_key: str = "total_pages") -> Iterator[Page]:
        """1-based page numbers, until `total_pages` pages were read."""
        number = 0
        while True:
            number += 1
            body, nbytes = self.get_json(
                path, {**params, page_param: number, size_param: self.page_size},
                resource=resource, page=number)
            records = _items(body, items_key, self.retailer_id, resource, number)
            if records:
                yield Page(resource, number, records, nbytes)
            total_pages = body.get(pages_key)
            if not records or not isinstance(total_pages, int) or number >= total_pages:
                return

    def single_page(self, resource: str, path: str, params: Mapping[str, Any] | None = None,
                    *, items_key: str) -> Iterator[Page]:
        """A resource served whole in one answer (a short list such as channels)."""
        body, nbytes = self.get_json(path, params, resource=resource, page=1)
        records = _items(body, items_key, self.retailer_id, resource, 1)
        if records:
            yield Page(resource, 1, records, nbytes)


def _items(body: Any, items_key: str, retailer_id: str, resource: str,
           page: int) -> list[dict[str, Any]]:
    """The list of records in a page body; a body of another shape is the retailer's bug."""
    items = body.get(items_key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise RetailerRejectedRequest(
            f"page body has no list under {items_key!r}", retailer_id=retailer_id,
            resource=resource, page=page)
    return items
