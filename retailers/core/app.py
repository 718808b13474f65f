"""The one Flask app factory all three retailers are built with."""

from __future__ import annotations

from flask import Flask, Response, request

from retailers.core.chaos import ChaosSettings, RuntimeState, chaos_response
from retailers.core.config import RetailerConfig
from retailers.core.context import EXTENSION, RetailerContext, current
from retailers.core.database import Database
from retailers.core.errors import register_error_handlers
from retailers.core.keyindex import KeyIndexCache
from retailers.core.ops import ops_blueprint
from retailers.core.spec import RetailerSpec

# Connections per worker: gunicorn's 4 threads, plus one for a key-list load in between.
POOL_SIZE = 6


def create_app(spec: RetailerSpec, config: RetailerConfig) -> Flask:
    """A retailer's app: /health and /admin, its public routes, and its data routes behind
    its authentication and the chaos layer (in that order: refused credentials are refused
    even when chaos is on)."""
    app = Flask(spec.retailer_id)
    app.json.sort_keys = False
    db = Database(config.database_url, f"{spec.retailer_id}-api", spec.session_timezone,
                  POOL_SIZE)
    state = RuntimeState(db, ChaosSettings.from_settings(config.common))
    app.extensions[EXTENSION] = RetailerContext(spec, config, db, state, KeyIndexCache())
    register_error_handlers(app)
    app.register_blueprint(ops_blueprint())
    if spec.public_routes is not None:
        app.register_blueprint(spec.public_routes())
    data = spec.routes()
    data.before_request(_guard)
    app.register_blueprint(data)
    return app


def _guard() -> Response | None:
    ctx = current()
    ctx.spec.authenticate(request, ctx)
    return chaos_response(ctx.state.snapshot().chaos)
