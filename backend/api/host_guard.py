"""No other site may drive the API: a request must name this server in Host (a foreign name that
resolves to 127.0.0.1 is DNS rebinding), and a state-changing one from a browser must come from
this origin. Pure ASGI, so a refused request's body is never read. Names: jobs.contracts.hosts,
the same rule as the dashboard's."""
from __future__ import annotations

import logging

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from jobs.contracts.hosts import host_allowed, host_names, origin_allowed

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
log = logging.getLogger(__name__)


class HostGuard:
    def __init__(self, app: ASGIApp, bound_host: str, allowed_hosts: str = ""):
        self.app = app
        self.names = host_names(bound_host, allowed_hosts)
        if self.names is None:
            log.warning("the API listens on every interface and DECONFOUND_ALLOWED_HOSTS is empty: any Host "
                        "name is accepted (set it to the names clients reach the API by)")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        host = headers.get("host")
        if not host_allowed(host, self.names):
            refusal = f"host '{host}' is not one this server answers to (DECONFOUND_ALLOWED_HOSTS)"
        elif scope["method"] not in SAFE_METHODS and not origin_allowed(headers.get("origin"), host, self.names):
            refusal = f"a request from origin '{headers.get('origin')}' may not act on this server"
        else:
            return await self.app(scope, receive, send)
        await JSONResponse({"detail": refusal}, status_code=403)(scope, receive, send)
