"""retailer3's routes: `/api/...`, page numbers, orders, items and events apart."""

from __future__ import annotations

import math

from flask import Blueprint, Response

from retailers.core.context import RetailerContext, current
from retailers.core.params import Day, day_param, page_number
from retailers.core.responses import json_response
from retailers.retailer3 import queries as q


def routes() -> Blueprint:
    bp = Blueprint("retailer3", __name__, url_prefix="/api")

    @bp.get("/orders")
    def orders() -> Response:
        """Orders created on `date`, state as of its end."""
        return _keyed_page(current(), "orders", q.ORDER_KEYS, q.ORDERS_PAGE)

    @bp.get("/order-items")
    def order_items() -> Response:
        """Items of the orders created on `date`."""
        return _keyed_page(current(), "order-items", q.ITEM_KEYS, q.ITEMS_PAGE)

    @bp.get("/order-events")
    def order_events() -> Response:
        """Lifecycle events reported on `date` (late ones included)."""
        return _keyed_page(current(), "order-events", q.EVENT_KEYS, q.EVENTS_PAGE)

    @bp.get("/customers")
    def customers() -> Response:
        """Customers registered, changed or ordering on `date`, as of its end."""
        return _keyed_page(current(), "customers", q.CUSTOMER_KEYS, q.CUSTOMERS_PAGE)

    @bp.get("/products")
    def products() -> Response:
        """The whole catalog as of the end of `date`."""
        ctx = current()
        day = day_param("date")
        page, per_page = page_number(ctx.config.max_page_size)
        total = ctx.db.one(q.PRODUCTS_COUNT, day.sql())[0]
        items = ctx.db.rows(q.PRODUCTS_PAGE, {**day.sql(), "offset": (page - 1) * per_page,
                                              "limit": per_page})
        return _page(items, page, per_page, total)

    @bp.get("/stores")
    def stores() -> Response:
        """Every store."""
        ctx = current()
        page, per_page = page_number(ctx.config.max_page_size)
        total = ctx.db.one("select count(*) from outlet")[0]
        items = ctx.db.rows(q.STORES_PAGE, {"offset": (page - 1) * per_page, "limit": per_page})
        return _page(items, page, per_page, total)

    @bp.get("/reports/control-totals")
    def control_totals() -> Response:
        """Item count and amount of the orders created on `date`, as strings."""
        day = day_param("date")
        count, amount = current().db.one(q.CONTROL_TOTALS, day.sql())
        return json_response({"date": day.date.isoformat(), "lineCount": count,
                              "totalAmount": amount, "currency": "EUR"})

    return bp


def _keyed_page(ctx: RetailerContext, resource: str, keys_sql: str, page_sql: str) -> Response:
    """A page-number page over the day's cached key list."""
    day: Day = day_param("date")
    page, per_page = page_number(ctx.config.max_page_size)
    keys = ctx.day_keys(resource, day, keys_sql)
    start = (page - 1) * per_page
    ids = keys[start:start + per_page].tolist()
    items = ctx.db.rows(page_sql, {**day.sql(), "ids": ids}) if ids else []
    return _page(items, page, per_page, len(keys))


def _page(items: list, page: int, per_page: int, total: int) -> Response:
    return json_response({"items": items, "page": page, "per_page": per_page,
                          "total_pages": math.ceil(total / per_page), "total_items": total})
