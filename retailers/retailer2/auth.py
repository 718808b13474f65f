"""retailer2 authenticates with HTTP Basic (username and password)."""

from __future__ import annotations

import hmac

from flask import Request

from retailers.core.context import RetailerContext
from retailers.core.errors import unauthorized

CHALLENGE = {"WWW-Authenticate": 'Basic realm="maple-main", charset="UTF-8"'}


def authenticate(request: Request, ctx: RetailerContext) -> None:
    auth = request.authorization
    if auth is None or auth.type != "basic":
        raise unauthorized("HTTP Basic credentials required", headers=CHALLENGE)
    own = ctx.config.own
    user_ok = hmac.compare_digest((auth.username or "").encode(), own.username.encode())
    password_ok = hmac.compare_digest((auth.password or "").encode(),
                                      own.password.get_secret_value().encode())
    if not (user_ok and password_ok):
        raise unauthorized("invalid username or password", headers=CHALLENGE)
