"""`deconfound`: the engine's commands (jobs/cli.py) plus the service's: worker, api, up."""
from __future__ import annotations

import argparse
import os
import sys

from dashboard.cli import add_dashboard_command
from jobs.cli import build_parser


def _add_service_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", dest="data_dir", help="where the database, uploads and models live "
                                                       "(default $DECONFOUND_DATA_DIR or ./var)")
    p.add_argument("--database-url", dest="database_url",
                   help="default $DECONFOUND_DATABASE_URL or sqlite:///<data dir>/deconfound.db")


def _settings(args: argparse.Namespace):
    from backend.settings import load_settings
    return load_settings().with_overrides(
        data_dir=getattr(args, "data_dir", None), database_url=getattr(args, "database_url", None),
        host=getattr(args, "host", None), port=getattr(args, "port", None),
        lease_s=getattr(args, "lease_s", None), heartbeat_s=getattr(args, "heartbeat_s", None))


def cmd_worker(args: argparse.Namespace) -> int:
    from backend.worker import serve
    return serve(_settings(args), device=args.device, exit_when_idle=args.exit_when_idle, max_jobs=args.max_jobs)


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from backend.api import create_app

    settings = _settings(args)
    if settings.host not in ("127.0.0.1", "localhost", "::1") and not settings.api_token:
        print(f"warning: listening on {settings.host} without DECONFOUND_API_TOKEN: anyone who can reach it "
              "can submit and delete jobs", file=sys.stderr)
    uvicorn.run(create_app(settings, migrate=not args.no_migrate), host=settings.host, port=settings.port,
                log_level=args.log_level)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from backend.up import up
    return up(_settings(args), workers=args.workers, device=args.device, dashboard=not args.no_dashboard,
              dashboard_port=args.dashboard_port)


def add_service_commands(sub: argparse._SubParsersAction) -> None:
    worker = sub.add_parser("worker", help="run queued jobs (one at a time, on one device)")
    _add_service_flags(worker)
    worker.add_argument("--device", help="cpu | cuda | cuda:N; overrides the jobs' own device "
                                         "(default: the spec's, 'auto' = CUDA when visible)")
    worker.add_argument("--exit-when-idle", dest="exit_when_idle", action="store_true",
                        help="stop once no job is queued or running, instead of waiting for more")
    worker.add_argument("--max-jobs", dest="max_jobs", type=int, help="stop after this many jobs")
    worker.add_argument("--lease-s", dest="lease_s", type=float,
                        help="a running job without a heartbeat for this long is taken up again")
    worker.add_argument("--heartbeat-s", dest="heartbeat_s", type=float, help="seconds between heartbeats")
    worker.set_defaults(func=cmd_worker)

    api = sub.add_parser("api", help="serve the REST API (docs at /docs)")
    _add_service_flags(api)
    api.add_argument("--host", help="default $DECONFOUND_HOST or 127.0.0.1")
    api.add_argument("--port", type=int, help="default $DECONFOUND_PORT or 8000")
    api.add_argument("--no-migrate", dest="no_migrate", action="store_true", help="do not migrate the schema first")
    api.add_argument("--log-level", dest="log_level", default="warning")
    api.set_defaults(func=cmd_api)

    up = sub.add_parser("up", help="API + worker(s) (+ dashboard) on SQLite under ./var; Ctrl-C stops all")
    _add_service_flags(up)
    up.add_argument("--host", help="default 127.0.0.1")
    up.add_argument("--port", type=int, help="API port (default 8000)")
    up.add_argument("--workers", type=int, help="CPU workers (default: one per GPU, else 1)")
    up.add_argument("--device", help="device of every worker (default: one worker per GPU, else cpu)")
    up.add_argument("--no-dashboard", dest="no_dashboard", action="store_true")
    up.add_argument("--dashboard-port", dest="dashboard_port", type=int,
                    default=int(os.environ.get("DECONFOUND_DASHBOARD_PORT") or 8050), help="default 8050")
    up.set_defaults(func=cmd_up)


def main(argv: list[str] | None = None) -> int:
    parser, sub = build_parser()
    add_service_commands(sub)
    add_dashboard_command(sub)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
