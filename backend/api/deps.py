"""What the routes share: the database session and the bearer-token guard of mutating endpoints."""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from backend.settings import Settings
from backend.store.db import Database

# Ids, steps, ranks and offsets a request may give: what a PostgreSQL `integer` column holds (SQLite's
# holds 2^63 - 1). A bigger number is answered 422 by its bounds, not 500 by the database driver.
MAX_INT = 2**31 - 1
Id = Annotated[int, Path(ge=0, le=MAX_INT, description="an id, as the list answers give it")]
Step = Annotated[int, Query(ge=-MAX_INT - 1, le=MAX_INT)]

TOKEN_REQUIRED = "a valid bearer token is required"
# What the body guard (backend/api/body_limits.py) answers, for the routes' `responses=`.
TOKEN_401 = {401: {"description": "no valid bearer token, when the server sets one (checked before the body is read)"}}
BODY_413 = {413: {"description": "the body is over its limit: DECONFOUND_UPLOAD_LIMIT_MB for an upload, "
                                 "DECONFOUND_JSON_LIMIT_MB for JSON (checked before it is read)"}}
_bearer = HTTPBearer(auto_error=False, description="DECONFOUND_API_TOKEN, when the server sets one")


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Database:
    return request.app.state.db


def get_session(db: Database = Depends(get_db)) -> Iterator[Session]:
    with db.session() as session:
        yield session


def require_token(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
                  settings: Settings = Depends(get_settings)) -> None:
    """Mutating endpoints: when a token is configured, `Authorization: Bearer <token>` must match it."""
    if not settings.api_token:
        return
    if not token_matches(credentials.credentials if credentials else "", settings.api_token):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, TOKEN_REQUIRED, headers={"WWW-Authenticate": "Bearer"})


def token_matches(given: str, token: str) -> bool:
    """The one comparison of a bearer token (constant time); the body-limit middleware uses it too."""
    return secrets.compare_digest(given.encode(), token.encode())
