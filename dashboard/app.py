"""The Dash app: a navigation bar, the pages (dashboard/pages/, one module each) and a line
that says whether the API answers.

    python -m dashboard          (or `deconfound dashboard`, or started by `deconfound up`)

Settings (dashboard/settings.py, the README's "Settings" table): DECONFOUND_API_URL,
DECONFOUND_DASHBOARD_HOST / _PORT, DECONFOUND_API_TOKEN (sent on mutating calls).
"""
from __future__ import annotations

import logging
from pathlib import Path

import dash
from dash import Dash, Input, Output, callback, dcc, html

from dashboard.client import ApiError, api
from dashboard.request_guard import guard
from jobs.contracts.enums import JobStatus

DEFAULT_API_URL = "http://127.0.0.1:8000"
HEALTH_EVERY_MS = 5000


def create_app(api_url: str = DEFAULT_API_URL, host: str = "127.0.0.1", allowed_hosts: str = "") -> Dash:
    """The dashboard over the API at `api_url`, answering to `host` (where it listens), the
    loopback names and `allowed_hosts` (dashboard.request_guard). Pages and callbacks register
    once per process, so make one app per process."""
    app = Dash(__name__, use_pages=True, pages_folder="", title="deconfound", update_title=None,
               suppress_callback_exceptions=True, assets_folder=str(Path(__file__).parent / "assets"))
    guard(app.server, host, allowed_hosts)
    app.server.config["DECONFOUND_API_URL"] = api_url.rstrip("/")
    # Importing the pages registers them (dash.register_page) and their callbacks.
    from dashboard.pages import compare, datasets, experiments, jobs, run  # noqa: F401

    app.layout = html.Div([
        html.Nav([
            html.Span("deconfound", className="brand"),
            *[dcc.Link(page["name"], href=page["relative_path"], className="nav-link")
              for page in dash.page_registry.values() if page.get("nav", True)],
            html.Span(id="api-health", className="api-health"),
        ], className="nav"),
        dcc.Interval(id="api-health-poll", interval=HEALTH_EVERY_MS),
        html.Main(dash.page_container, className="main"),
    ])
    return app


@callback(Output("api-health", "children"), Output("api-health", "className"),
          Input("api-health-poll", "n_intervals"))
def show_health(_n):
    """The API's liveness in the navigation bar: jobs waiting and running, or why it is down."""
    try:
        health = api().health()
    except ApiError as error:
        return error.message, "api-health down"
    jobs = health.jobs
    return (f"API ok · {jobs.get(JobStatus.QUEUED, 0)} queued · {jobs.get(JobStatus.RUNNING, 0)} running",
            "api-health ok")


def main(host: str = "127.0.0.1", port: int = 8050, api_url: str = DEFAULT_API_URL, allowed_hosts: str = "") -> None:
    """Serve the dashboard (Flask's threaded server: enough for a handful of users)."""
    # One log line per request (every poll) would bury `deconfound up`'s own output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    create_app(api_url, host, allowed_hosts).run(host=host, port=port, debug=False)


def main_from_env() -> None:
    """main() with the settings of the environment and `.env` (what `deconfound up` passes)."""
    from dashboard.settings import load_dashboard_settings

    settings = load_dashboard_settings()
    main(host=settings.dashboard_host, port=settings.dashboard_port, api_url=settings.api_url,
         allowed_hosts=settings.allowed_hosts)
