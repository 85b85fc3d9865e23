"""Which Host names a deconfound server answers to, and which Origins may change its state: the
guard against DNS rebinding (a foreign site whose name resolves to 127.0.0.1) and cross-site
requests, shared by the API (backend.api) and the dashboard (dashboard.request_guard).

A server bound to one address answers to that address and to the loopback names; one bound to
every interface (0.0.0.0, ::), as in docker-compose, answers to the names in
DECONFOUND_ALLOWED_HOSTS, and to any name only when that list is empty (it says so at start).
"""
from __future__ import annotations

from urllib.parse import urlsplit

LOOPBACK = ("127.0.0.1", "localhost", "::1")
EVERY_INTERFACE = ("0.0.0.0", "::", "")


def host_names(bound_host: str, extra: str | list[str] = "") -> list[str] | None:
    """The Host names to accept (without ports), or None for any (bound everywhere, no list)."""
    names = [n.strip().lower() for n in (extra.split(",") if isinstance(extra, str) else extra) if n.strip()]
    if bound_host in EVERY_INTERFACE:
        return [*LOOPBACK, *names] if names else None
    return [*LOOPBACK, bound_host.lower(), *names]


def host_of(header: str) -> str:
    """The name in a Host header or an Origin, without port or brackets ("[::1]:8000" -> "::1")."""
    netloc = urlsplit(header).netloc if "://" in header else header
    return (urlsplit(f"//{netloc}").hostname or "").lower()


def host_allowed(header: str | None, names: list[str] | None) -> bool:
    return names is None or (header is not None and host_of(header) in names)


def origin_allowed(origin: str | None, host: str | None, names: list[str] | None) -> bool:
    """A state-changing request from a browser carries Origin: it must be this server's own (the
    same name as Host) and an allowed name. No Origin (curl, the CLI, a server-side client) is no
    cross-site request; "null" (a sandboxed frame, a file) is refused."""
    if origin is None:
        return True
    return (origin != "null" and host is not None and host_of(origin) == host_of(host)
            and host_allowed(origin, names))
