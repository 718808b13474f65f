"""retailer1's routes: `/api/v1/...`, offset/limit pages with a `total`, flat order lines."""

from __future__ import annotations

from flask import Blueprint, Response

from retailers.core.context import current
from retailers.core.params import day_param, offset_limit
from retailers.core.responses import json_response
from retailers.retailer1 import queries as q


def routes() -> Blueprint:
    bp = Blueprint("retailer1", __name__, url_prefix="/api/v1")

    @bp.get("/order-lines")
    def order_lines() -> Response:
        """Lines of the orders created or changed on `date`, lifecycle as of its end."""
        ctx = current()
        day = day_param("date")
        offset, limit = offset_limit(ctx.config.max_page_size)
        keys = ctx.day_keys("order-lines", day, q.LINE_KEYS)
        page = keys[offset:offset + limit].tolist()
        data = ctx.db.rows(q.LINES_PAGE, {**day.sql(), "ids": page}) if page else []
        return _page(data, offset, limit, len(keys))

    @bp.get("/products")
    def products() -> Response:
        """The whole catalog as of the end of `date`."""
        ctx = current()
        day = day_param("date")
        offset, limit = offset_limit(ctx.config.max_page_size)
        total = ctx.db.one(q.PRODUCTS_COUNT, day.sql())[0]
        data = ctx.db.rows(q.PRODUCTS_PAGE, {**day.sql(), "offset": offset, "limit": limit})
        return _page(data, offset, limit, total)

    @bp.get("/customers")
    def customers() -> Response:
        """Customers created, changed or ordering on `date`, as of its end."""
        ctx = current()
        day = day_param("date")
        offset, limit = offset_limit(ctx.config.max_page_size)
        keys = ctx.day_keys("customers", day, q.CUSTOMER_KEYS)
        page = keys[offset:offset + limit].tolist()
        data = ctx.db.rows(q.CUSTOMERS_PAGE, {**day.sql(), "ids": page}) if page else []
        return _page(data, offset, limit, len(keys))

    @bp.get("/stores")
    def stores() -> Response:
        """Every store."""
        ctx = current()
        offset, limit = offset_limit(ctx.config.max_page_size)
        total = ctx.db.one("select count(*) from store")[0]
        data = ctx.db.rows(q.STORES_PAGE, {"offset": offset, "limit": limit})
        return _page(data, offset, limit, total)

    @bp.get("/control-totals")
    def control_totals() -> Response:
        """Line count and gross amount of the orders created on `date`."""
        day = day_param("date")
        count, gross = current().db.one(q.CONTROL_TOTALS, day.sql())
        return json_response({"date": day.date.isoformat(), "line_count": count,
                              "gross_amount": gross, "currency": "USD"})

    return bp


def _page(data: list, offset: int, limit: int, total: int) -> Response:
    return json_response({"data": data, "offset": offset, "limit": limit, "total": total})
