"""retailer1 authenticates with a static API key in the `X-API-Key` header."""

from __future__ import annotations

import hmac

from flask import Request

from retailers.core.context import RetailerContext
from retailers.core.errors import unauthorized


def authenticate(request: Request, ctx: RetailerContext) -> None:
    key = request.headers.get("X-API-Key")
    if not key:
        raise unauthorized("missing X-API-Key header")
    expected = ctx.config.own.api_key.get_secret_value()
    if not hmac.compare_digest(key.encode(), expected.encode()):
        raise unauthorized("invalid API key")
