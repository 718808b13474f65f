"""JSON responses serialized with orjson (Flask's jsonify is about 3x slower)."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from flask import Response


def json_response(body: object, status: int = 200,
                  headers: Mapping[str, str] | None = None) -> Response:
    """`body` as an orjson-serialized JSON response.

    Pre-rendered JSON (built by PostgreSQL) can be embedded with `orjson.Fragment`.
    """
    return Response(orjson.dumps(body), status=status, headers=dict(headers or {}),
                    mimetype="application/json")
