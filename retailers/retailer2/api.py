"""retailer2's routes: `/v2/...`, opaque keyset cursors, nested orders."""

from __future__ import annotations

import orjson
from flask import Blueprint, Response

from retailers.core.context import current
from retailers.core.params import cursor_page, day_param, encode_cursor
from retailers.core.responses import json_response
from retailers.retailer2 import queries as q


def routes() -> Blueprint:
    bp = Blueprint("retailer2", __name__, url_prefix="/v2")

    @bp.get("/orders")
    def orders() -> Response:
        """Purchases placed or changed on `day`, with items and status history."""
        ctx = current()
        day = day_param("day")
        after, size = cursor_page("orders", day.date, ctx.config.max_page_size)
        # One row more than the page tells whether another page follows.
        rows = ctx.db.rows(q.ORDERS_PAGE, {**day.sql(), "after": after, "n": size + 1})
        docs = [orjson.Fragment(r["doc"]) for r in rows[:size]]
        return json_response({"orders": docs,
                              "next_cursor": _next(rows, size, "orders", day.date, "id")})

    @bp.get("/catalog")
    def catalog() -> Response:
        """Every product with its price as of the end of `day`."""
        ctx = current()
        day = day_param("day")
        after, size = cursor_page("catalog", day.date, ctx.config.max_page_size)
        rows = ctx.db.rows(q.CATALOG_PAGE, {**day.sql(), "after": after, "n": size + 1})
        return json_response({"products": rows[:size],
                              "next_cursor": _next(rows, size, "catalog", day.date, "code")})

    @bp.get("/customers")
    def customers() -> Response:
        """Customers registered, changed or buying on `day`, as of its end."""
        ctx = current()
        day = day_param("day")
        after, size = cursor_page("customers", day.date, ctx.config.max_page_size)
        rows = ctx.db.rows(q.CUSTOMERS_PAGE, {**day.sql(), "after": after, "n": size + 1})
        return json_response({"customers": rows[:size],
                              "next_cursor": _next(rows, size, "customers", day.date, "id")})

    @bp.get("/channels")
    def channels() -> Response:
        """Every sales channel."""
        return json_response({"channels": current().db.rows(q.CHANNELS)})

    @bp.get("/reports/daily")
    def daily_report() -> Response:
        """Item count and revenue in cents of the purchases placed on `day`."""
        day = day_param("day")
        items, revenue = current().db.one(q.DAILY_REPORT, day.sql())
        return json_response({"day": day.date.isoformat(), "items": items,
                              "revenue_cents": revenue})

    return bp


def _next(rows: list[dict], size: int, resource: str, day, key: str) -> str | None:
    if len(rows) <= size:
        return None
    return encode_cursor(resource, day, rows[size - 1][key])
