"""retailer3: OAuth2 client credentials. `POST /oauth/token` hands out signed bearer tokens
that carry their issue time and expiry; the data endpoints check signature and age.

A token's age is also checked against the *current* chaos `token_ttl`, so lowering it at
run time expires tokens early, before the `expires_in` they were issued with.
"""

from __future__ import annotations

import hmac
import time

from flask import Blueprint, Request, Response, request
from itsdangerous import BadSignature, URLSafeSerializer

from retailers.core.context import RetailerContext, current
from retailers.core.errors import ApiError, unauthorized
from retailers.core.responses import json_response

SALT = "retailer3-access-token"


def _serializer(ctx: RetailerContext) -> URLSafeSerializer:
    return URLSafeSerializer(ctx.config.own.token_signing_key.get_secret_value(), salt=SALT)


def issue_token(ctx: RetailerContext, client_id: str, now: float | None = None) -> tuple[str, int]:
    """A signed token for `client_id` and its lifetime in seconds."""
    now = time.time() if now is None else now
    ttl = ctx.state.snapshot().chaos.token_ttl
    token = _serializer(ctx).dumps({"sub": client_id, "iat": now, "exp": now + ttl})
    return token, ttl


def _bearer_error(error: str, detail: str) -> ApiError:
    return unauthorized(detail, error,
                        {"WWW-Authenticate": f'Bearer realm="euromarche", error="{error}"'})


def authenticate(request: Request, ctx: RetailerContext) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("a bearer token is required (POST /oauth/token)",
                           headers={"WWW-Authenticate": 'Bearer realm="euromarche"'})
    try:
        claims = _serializer(ctx).loads(token.strip())
        issued, expires = float(claims["iat"]), float(claims["exp"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise _bearer_error("invalid_token", "the token is malformed or its signature "
                                             "does not match") from None
    now = time.time()
    ttl = ctx.state.snapshot().chaos.token_ttl
    if now >= expires or now >= issued + ttl:
        raise _bearer_error("token_expired", "the token has expired; request a new one")


def token_routes() -> Blueprint:
    bp = Blueprint("retailer3_oauth", __name__)

    @bp.post("/oauth/token")
    def token() -> Response:
        """OAuth2 client-credentials grant: form fields or HTTP Basic client credentials."""
        ctx = current()
        grant = request.form.get("grant_type")
        if grant != "client_credentials":
            raise ApiError(400, "unsupported_grant_type",
                           "grant_type must be client_credentials")
        client_id, secret = request.form.get("client_id"), request.form.get("client_secret")
        if request.authorization is not None and request.authorization.type == "basic":
            client_id = request.authorization.username
            secret = request.authorization.password
        if not client_id or not secret:
            raise unauthorized("client_id and client_secret are required", "invalid_client")
        own = ctx.config.own
        id_ok = hmac.compare_digest(client_id.encode(), own.client_id.encode())
        secret_ok = hmac.compare_digest(secret.encode(),
                                        own.client_secret.get_secret_value().encode())
        if not (id_ok and secret_ok):
            raise unauthorized("unknown client or wrong secret", "invalid_client")
        access_token, ttl = issue_token(ctx, client_id)
        return json_response({"access_token": access_token, "token_type": "bearer",
                              "expires_in": ttl}, headers={"Cache-Control": "no-store"})

    return bp
