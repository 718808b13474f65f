"""Endpoints every retailer has, outside auth and chaos: /health and /admin/chaos."""

from __future__ import annotations

import hmac

import orjson
import psycopg2
from flask import Blueprint, Response, request

from retailers.core.context import current
from retailers.core.errors import ApiError, bad_request, unauthorized
from retailers.core.responses import json_response


def ops_blueprint() -> Blueprint:
    bp = Blueprint("ops", __name__)

    @bp.get("/health")
    def health() -> Response:
        """Liveness plus a check that the retailer's database answers."""
        ctx = current()
        try:
            ctx.db.one("select data_version from sim.generator where id = 1")
        except (ApiError, psycopg2.Error) as exc:
            detail = exc.detail if isinstance(exc, ApiError) else str(exc).strip()
            return json_response({"status": "unavailable", "retailer": ctx.spec.retailer_id,
                                  "detail": detail}, 503)
        return json_response({"status": "ok", "retailer": ctx.spec.retailer_id})

    @bp.get("/admin/chaos")
    def get_chaos() -> Response:
        """The chaos values in force, their version and the oldest one still applied."""
        _require_admin()
        return json_response(current().state.status())

    @bp.post("/admin/chaos")
    def set_chaos() -> Response:
        """Change some chaos values for every worker (the others keep their value)."""
        _require_admin()
        try:
            body = orjson.loads(request.get_data() or b"{}")
        except orjson.JSONDecodeError:
            raise bad_request("the body must be JSON") from None
        state = current().state
        state.set_chaos(state.snapshot().chaos.updated(body))
        return json_response(state.status())

    @bp.post("/admin/chaos/reset")
    def reset_chaos() -> Response:
        """Back to the values the server started with."""
        _require_admin()
        state = current().state
        state.set_chaos(state.startup)
        return json_response(state.status())

    return bp


def _require_admin() -> None:
    token = request.headers.get("X-Admin-Token")
    expected = current().config.common.admin_token.get_secret_value()
    if not token:
        raise unauthorized("missing X-Admin-Token header")
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise unauthorized("invalid admin token")
