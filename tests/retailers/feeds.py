"""Read whole resources from the retailers over HTTP, each in its own paging style."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import httpx


@dataclass
class Feed:
    """Every record of a resource, in order, and how it came: pages and the totals the
    pages announced."""

    records: list[dict]
    pages: int
    announced_total: int | None = None


def _get(client: httpx.Client, path: str, params: dict) -> dict:
    resp = client.get(path, params=params)
    assert resp.status_code == 200, f"{path} {params}: {resp.status_code} {resp.text[:300]}"
    return resp.json()


def offset_feed(client: httpx.Client, path: str, day: dt.date | None, limit: int) -> Feed:
    """retailer1: `offset`/`limit` until `total` is reached."""
    records: list[dict] = []
    pages, offset, total = 0, 0, None
    while total is None or offset < total:
        params = {"offset": offset, "limit": limit, **({"date": str(day)} if day else {})}
        body = _get(client, path, params)
        pages += 1
        assert body["offset"] == offset and body["limit"] == limit
        if total is not None:
            assert body["total"] == total, "total changed while paging"
        total = body["total"]
        records += body["data"]
        assert len(body["data"]) == min(limit, total - offset)
        offset += limit
    return Feed(records, pages, total)


def cursor_feed(client: httpx.Client, path: str, key: str, day: dt.date | None,
                page_size: int) -> Feed:
    """retailer2: follow `next_cursor` until it is null."""
    records: list[dict] = []
    pages, cursor = 0, None
    while True:
        params = {"page_size": page_size, **({"day": str(day)} if day else {}),
                  **({"cursor": cursor} if cursor else {})}
        body = _get(client, path, params)
        pages += 1
        assert len(body[key]) <= page_size
        records += body[key]
        cursor = body["next_cursor"]
        if cursor is None:
            return Feed(records, pages)
        assert len(body[key]) == page_size, "a short page must be the last"


def page_feed(client: httpx.Client, path: str, day: dt.date | None, per_page: int) -> Feed:
    """retailer3: pages 1..total_pages."""
    records: list[dict] = []
    page, total_pages, total_items = 1, None, None
    while total_pages is None or page <= total_pages:
        params = {"page": page, "per_page": per_page, **({"date": str(day)} if day else {})}
        body = _get(client, path, params)
        assert body["page"] == page and body["per_page"] == per_page
        if total_items is not None:
            assert body["total_items"] == total_items
        total_pages, total_items = body["total_pages"], body["total_items"]
        records += body["items"]
        page += 1
    return Feed(records, page - 1, total_items)
