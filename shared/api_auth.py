"""The bearer token the suite's write endpoints take (`PIPELINE_API_TOKEN`)."""

from __future__ import annotations

import hmac

from fastapi import Header

from shared.api_errors import Unauthorized
from shared.settings import ApiTokenSettings, current


def require_pipeline_token(authorization: str | None = Header(None)) -> None:
    """A FastAPI dependency: `Authorization: Bearer <PIPELINE_API_TOKEN>`, compared in
    constant time so the token cannot be guessed byte by byte from response times."""
    scheme, _, token = (authorization or "").partition(" ")
    expected = current(ApiTokenSettings).pipeline_api_token.get_secret_value()
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                             expected.encode()):
        raise Unauthorized("a valid bearer token is required (Authorization: Bearer <token>)")
