"""Request bodies are checked before they are read (pure ASGI, in front of every route).

For a request with a body:
  1. on a token-protected route (one that depends on deps.require_token), when the server sets a
     token: a missing or wrong bearer token is answered 401 before one byte of the body is read;
  2. a Content-Length over the limit is answered 413 at once; a body without one (chunked) is
     counted as it streams, and the read stops with 413 at the first chunk over the limit.
The protected routes are read from the OpenAPI schema (the operations with a security requirement,
which FastAPI writes for every route that depends on require_token's HTTPBearer), so a new
mutating route is covered the day it depends on the token. The limit is DECONFOUND_UPLOAD_LIMIT_MB (plus room for the form's other fields) for an upload
(POST /api/datasets) and DECONFOUND_JSON_LIMIT_MB for any other body. So an unauthenticated
200 MB upload costs nothing, and no body bigger than its limit is held in memory or spooled.
"""
from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.datastructures import Headers
from fastapi.security.utils import get_authorization_scheme_param

from backend.api.deps import TOKEN_REQUIRED, token_matches
from backend.settings import MIB, Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
UPLOAD_PATH = "/api/datasets"
FORM_ROOM = MIB  # the upload's multipart framing and its column fields, beside the file itself


class BodyTooLarge(HTTPException):
    """Raised from `receive` when the streamed body passes its limit; FastAPI lets an HTTPException
    out of its body parsing as it is, so the route answers 413 (and if the route caught it, this
    guard answers 413 itself)."""


def protected_operations(api: FastAPI) -> list[tuple[str, re.Pattern]]:
    """(METHOD, path pattern) of every operation that needs the bearer token (the mutating ones)."""
    return [(method.upper(), re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$"))
            for path, operations in api.openapi()["paths"].items()
            for method, operation in operations.items() if operation.get("security")]


class BodyLimits:
    def __init__(self, app: ASGIApp, settings: Settings, api: FastAPI) -> None:
        self.app = app
        self.settings = settings
        self.api = api
        self._protected: list[tuple[str, re.Pattern]] | None = None

    def limit(self, scope: Scope) -> tuple[int, str]:
        if scope["method"] == "POST" and scope["path"].rstrip("/") == UPLOAD_PATH:
            return (self.settings.upload_limit_bytes + FORM_ROOM,
                    f"the upload limit of {self.settings.upload_limit_mb:g} MiB (DECONFOUND_UPLOAD_LIMIT_MB)")
        return (self.settings.json_limit_bytes,
                f"the request body limit of {self.settings.json_limit_mb:g} MiB (DECONFOUND_JSON_LIMIT_MB)")

    def needs_token(self, scope: Scope) -> bool:
        if not self.settings.api_token:
            return False
        if self._protected is None:  # the schema is complete once the app serves
            self._protected = protected_operations(self.api)
        return any(method == scope["method"] and pattern.match(scope["path"]) for method, pattern in self._protected)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.needs_token(scope):
            scheme, given = get_authorization_scheme_param(headers.get("authorization"))
            if scheme.lower() != "bearer" or not token_matches(given, self.settings.api_token):
                await _answer(send, 401, TOKEN_REQUIRED, [(b"www-authenticate", b"Bearer")])
                return
        limit, what = self.limit(scope)
        message = f"the request body is larger than {what}"
        try:
            length = int(headers.get("content-length", ""))
        except ValueError:
            length = None
        if length is not None and length > limit:
            await _answer(send, 413, message)
            return

        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            got = await receive()
            if got["type"] == "http.request":
                received += len(got.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(413, message)
            return got

        async def watched(sent: Message) -> None:
            nonlocal started
            started = started or sent["type"] == "http.response.start"
            await send(sent)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                raise
            await _answer(send, 413, message)


async def _answer(send: Send, status: int, detail: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    """A JSON {"detail": ...} answer, as FastAPI's own HTTPException handler gives."""
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})
