"""`deconfound dashboard`: the subcommand that serves the dashboard (added to backend/cli.py's parser)."""
from __future__ import annotations

import argparse


def cmd_dashboard(args: argparse.Namespace) -> int:
    # dash and the settings' library are imported only when the dashboard is asked for
    from dashboard.app import main
    from dashboard.settings import load_dashboard_settings

    settings = load_dashboard_settings(dashboard_host=args.host, dashboard_port=args.port, api_url=args.api_url)
    main(host=settings.dashboard_host, port=settings.dashboard_port, api_url=settings.api_url,
         allowed_hosts=settings.allowed_hosts)
    return 0


def add_dashboard_command(sub: argparse._SubParsersAction) -> None:
    dashboard = sub.add_parser("dashboard", help="serve the browser dashboard over the REST API")
    dashboard.add_argument("--host", help="default $DECONFOUND_DASHBOARD_HOST or 127.0.0.1")
    dashboard.add_argument("--port", type=int, help="default $DECONFOUND_DASHBOARD_PORT or 8050")
    dashboard.add_argument("--api-url", dest="api_url",
                           help="the API to read from (default $DECONFOUND_API_URL or http://127.0.0.1:8000)")
    dashboard.set_defaults(func=cmd_dashboard)
