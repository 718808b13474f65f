"""retailer4's REST part: reference data snapshots, control totals, and re-publishing.

    GET  /v1/channels                          the sales channels (stores)
    GET  /v1/customers?as_of=YYYY-MM-DD        customers signed up by then, latest attributes
    GET  /v1/products?as_of=YYYY-MM-DD         the catalog as of then
    GET  /v1/control-totals?date=YYYY-MM-DD    the day's own totals (events per type, orders,
                                               lines, captured and refunded amounts)
    POST /v1/replay {"date": ..., "event_ids": [...]?}   publish the day's events again
                                               (all, or only the listed ones), without chaos
Every route but /health wants `Authorization: Bearer <RETAILER4_API_TOKEN>`. Snapshots are
whole JSON documents (a checkout platform's export), not pages.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from functools import cache
from typing import Any

from flask import Flask, abort, jsonify, request

from retailers.retailer4 import publisher, world
from retailers.retailer4.chaos import StreamChaos
from retailers.settings import Retailer4ServerSettings, load_or_exit

log = logging.getLogger(__name__)


def target_of(s: Retailer4ServerSettings) -> publisher.StreamTarget:
    return publisher.StreamTarget(s.nats_url, s.stream, s.subject_prefix)


def master_of(s: Retailer4ServerSettings) -> world.MasterData:
    g = s.generator
    return world.master(world.volumes(g.seed, g.products, g.customers, g.stores, g.fault_rate,
                                      g.price_change_rate, g.customer_change_rate))


def create_app(settings: Retailer4ServerSettings | None = None) -> Flask:
    """The retailer4 REST app (gunicorn: `retailers.retailer4.api:create_app()`)."""
    s = settings or load_or_exit(Retailer4ServerSettings)
    app = Flask("retailer4")
    token = s.api_token.get_secret_value()

    @cache
    def events(day: dt.date) -> list[world.WorldEvent]:
        return world.day_events(master_of(s), day, s.generator.orders_per_day)

    def day_arg(name: str) -> dt.date:
        try:
            return dt.date.fromisoformat(str(request.args.get(name) or
                                             (request.get_json(silent=True) or {}).get(name)))
        except ValueError:
            abort(400, description=f"{name} must be YYYY-MM-DD")

    @app.before_request
    def authenticate() -> None:
        if request.path == "/health":
            return
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given, f"Bearer {token}"):
            abort(401)

    @app.errorhandler(400)
    @app.errorhandler(401)
    def error(e: Any):
        return jsonify({"error": e.name, "detail": e.description}), e.code

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.get("/v1/channels")
    def channels():
        return jsonify({"channels": world.stores(master_of(s))})

    @app.get("/v1/customers")
    def customers():
        return jsonify({"customers": world.customers(master_of(s), day_arg("as_of"))})

    @app.get("/v1/products")
    def products():
        return jsonify({"products": world.products(master_of(s), day_arg("as_of"))})

    @app.get("/v1/control-totals")
    def control_totals():
        day = day_arg("date")
        return jsonify(world.control_totals(events(day), day))

    @app.post("/v1/replay")
    def replay():
        body = request.get_json(silent=True) or {}
        day = day_arg("date")
        only = set(body["event_ids"]) if body.get("event_ids") is not None else None
        report = publisher.replay_day(target_of(s), master_of(s), day,
                                      orders_per_day=s.generator.orders_per_day,
                                      v2_from=s.v2_from, chaos=StreamChaos(),
                                      seed=s.generator.seed, only=only)
        log.info("re-published %d events of %s", report.messages, day)
        return jsonify(report.as_dict()), 202

    return app


def chaos_of(s: Retailer4ServerSettings) -> StreamChaos:
    return StreamChaos(s.duplicate_rate, s.out_of_order_rate, s.late_rate, s.burst_size,
                       s.unknown_version_rate, s.undecodable_rate)
