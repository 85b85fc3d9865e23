"""`deconfound dashboard`: the subcommand that serves the dashboard (added to backend/cli.py's parser)."""
from __future__ import annotations

import argparse
import os


def cmd_dashboard(args: argparse.Namespace) -> int:
    from dashboard.app import main  # dash is imported only when the dashboard is asked for

    main(host=args.host, port=args.port, api_url=args.api_url)
    return 0


def add_dashboard_command(sub: argparse._SubParsersAction) -> None:
    dashboard = sub.add_parser("dashboard", help="serve the browser dashboard over the REST API")
    dashboard.add_argument("--host", default=os.environ.get("DECONFOUND_DASHBOARD_HOST") or "127.0.0.1",
                           help="default $DECONFOUND_DASHBOARD_HOST or 127.0.0.1")
    dashboard.add_argument("--port", type=int, default=int(os.environ.get("DECONFOUND_DASHBOARD_PORT") or 8050),
                           help="default $DECONFOUND_DASHBOARD_PORT or 8050")
    dashboard.add_argument("--api-url", dest="api_url",
                           default=os.environ.get("DECONFOUND_API_URL") or "http://127.0.0.1:8000",
                           help="the API to read from (default $DECONFOUND_API_URL or http://127.0.0.1:8000)")
    dashboard.set_defaults(func=cmd_dashboard)
