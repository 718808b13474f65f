"""The bearer token the suite's write endpoints take (`PIPELINE_API_TOKEN`).

A route that needs it lists `RequireToken` in its dependencies: that declares the `bearer`
security scheme in the OpenAPI, and `shared.api_app.ContractRoute` checks the same token
before the request body is read (FastAPI parses the body before it runs dependencies, so
a dependency alone would answer 422 to a malformed body, or read 50 MB, before the 401).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from shared.api_errors import Unauthorized

bearer = HTTPBearer(scheme_name="bearer", auto_error=False,
                    description="`Authorization: Bearer <PIPELINE_API_TOKEN>`")


def check_token(authorization: str | None, expected: SecretStr) -> None:
    """Raise Unauthorized unless `authorization` is `Bearer <expected>`; compared in
    constant time so the token cannot be guessed byte by byte from response times."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), expected.get_secret_value().encode()):
        raise Unauthorized("a valid bearer token is required (Authorization: Bearer <token>)")


def require_pipeline_token(
        request: Request,
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    """A FastAPI dependency: the app's `PIPELINE_API_TOKEN` as a bearer token."""
    check_token(request.headers.get("authorization"),
                request.app.state.settings.pipeline_api_token)


RequireToken = Depends(require_pipeline_token)
