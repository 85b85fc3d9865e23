"""The dashboard's door to the world: the API client (client/) of the running app.

Every page gets its numbers through `api()` and nothing else: the shared typed client
(client.api.ApiClient, whose answers are the contracts' models), made once per API URL with the
dashboard's token (DECONFOUND_API_TOKEN, sent from the server side only). Failures are
client.ApiError, whose `message` is a sentence fit to be shown on the page as it is.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from client import ApiClient, ApiError

__all__ = ["ApiClient", "ApiError", "api", "plain", "TIMEOUT_S"]

TIMEOUT_S = 15.0  # a page waits no longer than this on one call

_clients: dict[str, ApiClient] = {}


def api() -> ApiClient:
    """The client of the app serving the current request (its API URL is in the Flask config)."""
    from flask import current_app

    from dashboard.settings import load_dashboard_settings

    url = current_app.config["DECONFOUND_API_URL"]
    if url not in _clients:
        _clients[url] = ApiClient(url, token=load_dashboard_settings().api_token, timeout_s=TIMEOUT_S)
    return _clients[url]


def plain_metrics(results: BaseModel) -> dict | None:
    """A results answer's final metrics (jobs.contracts.results.JobResults) as plain JSON, or None."""
    metrics = getattr(results, "metrics", None)
    return None if metrics is None else metrics.model_dump(mode="json")


def plain(answer: BaseModel | list[BaseModel]) -> Any:
    """An answer as the JSON it came as: what a page keeps in a dcc.Store (JSON only) or hands to
    the table and figure helpers, which read plain dicts."""
    if isinstance(answer, list):
        return [item.model_dump(mode="json") for item in answer]
    return answer.model_dump(mode="json")
