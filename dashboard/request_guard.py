"""The dashboard acts with the server's token (it proxies cancels, submissions and uploads to the
API), so no other site may drive it: every request must name this server in Host (DNS
rebinding), and every state-changing one (a Dash callback is a POST) must come from this origin.
The names come from jobs.contracts.hosts, the same rule as the API's."""
from __future__ import annotations

import logging

from flask import Flask, Response, request

from jobs.contracts.hosts import host_allowed, host_names, origin_allowed

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
log = logging.getLogger(__name__)


def guard(server: Flask, bound_host: str, allowed_hosts: str = "") -> None:
    """Refuse (403, one line) requests to `server` that name a foreign Host or come from a foreign Origin."""
    names = host_names(bound_host, allowed_hosts)
    if names is None:
        log.warning("the dashboard listens on every interface and DECONFOUND_ALLOWED_HOSTS is empty: "
                    "any Host name is accepted (set it to the names users reach the dashboard by)")

    @server.before_request
    def _check() -> Response | None:
        host = request.headers.get("Host")
        if not host_allowed(host, names):
            return Response(f"host '{host}' is not one this dashboard serves; allowed: {', '.join(names or [])} "
                            f"(DECONFOUND_ALLOWED_HOSTS)\n", status=403, mimetype="text/plain")
        if request.method not in SAFE_METHODS and not origin_allowed(request.headers.get("Origin"), host, names):
            return Response(f"a request from origin '{request.headers.get('Origin')}' may not act on this "
                            f"dashboard\n", status=403, mimetype="text/plain")
        return None
