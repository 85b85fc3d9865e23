"""`deconfound`: the engine's commands (jobs/cli.py) plus the service's: worker, api, up, and the
experiment runners reproduce (the paper's Tables 2 and 3) and sweep (a grid with selection on dev)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dashboard.cli import add_dashboard_command
from jobs.cli import build_parser

# The service's modules and their dependencies (the [service] extra) are imported inside the
# commands that use them, so that an install of the engine alone runs `deconfound run`.
ENGINE_COMMANDS = ("run", "datasets", "models", "spec")
EXTRA_OF_MODULE = {"psycopg": "postgres", "dash": "dashboard", "plotly": "dashboard", "flask": "dashboard"}


def _add_service_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", dest="data_dir", help="where the database, uploads and models live "
                                                       "(default $DECONFOUND_DATA_DIR or ./var)")
    p.add_argument("--database-url", dest="database_url",
                   help="default $DECONFOUND_DATABASE_URL or sqlite:///<data dir>/deconfound.db")


def _settings(args: argparse.Namespace | None = None):
    """The environment's settings (backend.settings) under the command's flags; a value out of
    its bounds ends the command with one line naming the variable."""
    from backend.settings import SettingsError, load_settings

    flags = ("data_dir", "database_url", "host", "port", "lease_s", "heartbeat_s", "grace_s", "dashboard_port")
    try:
        return load_settings().with_overrides(**{flag: getattr(args, flag, None) for flag in flags})
    except SettingsError as error:
        raise SystemExit(f"error: {error}") from None


def cmd_worker(args: argparse.Namespace) -> int:
    from backend.queue.worker import serve
    from backend.up import watch_parent
    watch_parent()  # a part of `deconfound up` ends with it
    return serve(_settings(args), device=args.device, exit_when_idle=args.exit_when_idle, max_jobs=args.max_jobs)


def cmd_api(args: argparse.Namespace) -> int:
    settings = _settings(args)
    import uvicorn

    from backend.api import create_app
    from backend.up import watch_parent

    watch_parent()  # a part of `deconfound up` ends with it
    if settings.host not in ("127.0.0.1", "localhost", "::1") and not settings.api_token:
        print(f"warning: listening on {settings.host} without DECONFOUND_API_TOKEN: anyone who can reach it "
              "can submit and delete jobs", file=sys.stderr)
    uvicorn.run(create_app(settings, migrate=not args.no_migrate), host=settings.host, port=settings.port,
                log_level=args.log_level)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from backend.up import up
    settings = _settings(args)
    return up(settings, workers=args.workers, device=args.device, dashboard=not args.no_dashboard,
              dashboard_port=settings.dashboard_port)


def _numbers(text: str, kind: type, flag: str) -> list:
    try:
        return [kind(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise SystemExit(f"{flag} expects comma-separated numbers (e.g. 2021,2022), got '{text}'") from None


def _overrides(items: list[str] | None) -> dict:
    """--set KEY=VALUE pairs as a nested spec fragment."""
    from jobs.cli import _parse_value, _set_dotted

    fragment: dict = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--set expects KEY=VALUE (e.g. train.lr=3e-5), got '{item}'")
        _set_dotted(fragment, key.strip(), _parse_value(value))
    return fragment


def _run_experiment(args: argparse.Namespace, request) -> int:
    """Run `request` through the service at --api, or locally with an in-process worker."""
    from backend.services.reproduce import LocalStore, RemoteApi, run_experiment

    if args.api:
        backend = RemoteApi(args.api, args.token or _settings().api_token)
    else:
        backend = LocalStore(_settings(args), device=args.device)
    try:
        return run_experiment(request, backend, wait=not args.detach, retry_failed=args.retry_failed,
                              markdown=args.markdown)
    finally:
        backend.close()


def _data_path(args: argparse.Namespace) -> str:
    """--data as the experiment's dataset.path: local runs copy data from outside the data
    directory into it (backend.services.local_data); a service (--api) takes 'upload:<id>' or a
    path under its own data directory as it is."""
    if args.api:
        return args.data
    from backend.services.local_data import data_in_store

    return data_in_store(_settings(args).data_dir, args.data)


def cmd_reproduce(args: argparse.Namespace) -> int:
    from backend.services.protocols import reproduce_request

    seeds = _numbers(args.seeds, int, "--seeds") if args.seeds else None
    rates = _numbers(args.access_rates, float, "--access-rates") if args.access_rates else None
    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else None
    dataset = args.dataset or ("custom" if args.data else None)
    if dataset is None:
        print("error: name a built-in dataset (textlen, msgs) or give your own with --data PATH", file=sys.stderr)
        return 2
    try:
        data = _data_path(args) if args.data else None
        request = reproduce_request(dataset, args.scale, seeds, rates, args.name, _overrides(args.set), methods,
                                    reuse=args.reuse, data=data)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return _run_experiment(args, request)


def _grids(items: list[str] | None) -> tuple[dict, str | None]:
    """--grid KEY=V1,V2 (repeatable) and a named grid (--grid paper)."""
    from jobs.cli import _parse_value

    grid, named = {}, None
    for item in items or []:
        key, sep, values = item.partition("=")
        if not sep:
            if named is not None or not key.strip():
                raise SystemExit(f"--grid expects KEY=V1,V2 or one grid name (paper), got '{item}'")
            named = key.strip()
            continue
        grid[key.strip()] = [_parse_value(v.strip()) for v in values.split(",") if v.strip()]
        if not grid[key.strip()]:
            raise SystemExit(f"--grid {key.strip()} has no values")
    return grid, named


def cmd_sweep(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from backend.services.protocols import sweep_request
    from jobs.presets import merge_fragments

    grid, named = _grids(args.grid)
    flags: dict = {}
    for flag, dotted in (("model", "model"), ("preset", "preset"), ("max_steps", "train.max_steps")):
        if getattr(args, flag) is not None:
            flags = merge_fragments(flags, _overrides([f"{dotted}={getattr(args, flag)}"]))
    if args.data:
        try:
            flags = merge_fragments(flags, {"dataset": {"path": _data_path(args)}})
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    base = merge_fragments(flags, _overrides(args.set))  # --set wins, as in `deconfound run`
    datasets = [d for item in args.dataset or (["custom"] if args.data else []) for d in item.split(",") if d]
    if not datasets:
        print("error: name a dataset (--dataset textlen) or give your own with --data PATH", file=sys.stderr)
        return 2
    methods = [m for item in args.method for m in item.split(",") if m]
    seeds = _numbers(args.seeds, int, "--seeds")
    try:
        request = sweep_request(datasets, methods, grid, seeds, base, args.name, named, reuse=args.reuse)
    except (ValueError, ValidationError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return _run_experiment(args, request)


def _add_runner_flags(p: argparse.ArgumentParser) -> None:
    _add_service_flags(p)
    p.add_argument("--name", help="experiment name; running the same command again resumes it")
    p.add_argument("--api", help="URL of a running service (e.g. http://127.0.0.1:8000): submit there and follow "
                                 "its workers; default: the local store with an in-process worker")
    p.add_argument("--token", help="the service's bearer token (default $DECONFOUND_API_TOKEN)")
    p.add_argument("--device", help="local worker's device: cpu | cuda | cuda:N (default: the spec's)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any spec field for every job")
    p.add_argument("--retry-failed", dest="retry_failed", action="store_true",
                   help="on resume, queue the experiment's failed and cancelled jobs again")
    p.add_argument("--detach", action="store_true", help="submit (or find) the experiment and return")
    p.add_argument("--markdown", action="store_true", help="print the tables as Markdown (for a paper or docs)")
    p.add_argument("--reuse", action="store_true",
                   help="copy every job whose spec equals one that already succeeded (any experiment in the store) "
                        "instead of running it again, e.g. Table 2's jobs when adding --access-rates")


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
    up.add_argument("--grace", dest="grace_s", type=float,
                    help="seconds Ctrl-C waits for the workers to save their job at its next label step or "
                         "influence update before killing them (default $DECONFOUND_GRACE_S or 180); "
                         "a second Ctrl-C kills at once. Jobs of killed workers go back to the queue")
    up.add_argument("--dashboard-port", dest="dashboard_port", type=int,
                    help="default $DECONFOUND_DASHBOARD_PORT or 8050")
    up.set_defaults(func=cmd_up)

    reproduce = sub.add_parser(
        "reproduce", help="the paper's protocol as one experiment: run it, then print Tables 2 (and 3)",
        description="Finetuning, adversarial, influence tuning, embedding tuning (and on TextLen the no-confound "
                    "control) x seeds with the paper's presets; collapsed trials are retried with the next seed. "
                    "Running the same command again resumes an interrupted experiment.")
    reproduce.add_argument("dataset", nargs="?", choices=["textlen", "msgs", "custom"],
                           help="a built-in dataset; with --data, your own (custom)")
    reproduce.add_argument("--data", help="your own data: a CSV/JSONL file (with a split column, or split 80/10/10), "
                                          "a directory of train/dev/test files, or upload:<id> of an uploaded one")
    reproduce.add_argument("--scale", choices=["paper", "cpu", "tiny"], default="cpu",
                           help="paper: bert-base-uncased, 5 seeds (GPU); cpu: minilm, 3 seeds, about two hours "
                                "for TextLen on 2 cores; tiny: a plumbing check (default cpu)")
    reproduce.add_argument("--access-rates", dest="access_rates",
                           help="Table 3: confound access rates in percent, e.g. 5,10,20,50,100")
    reproduce.add_argument("--seeds", help="comma-separated (default: the scale's)")
    reproduce.add_argument("--methods", help="comma-separated subset of the protocol's methods (default all), e.g. "
                                             "influence-tuning,embedding-tuning with --access-rates for Table 3 alone")
    _add_runner_flags(reproduce)
    reproduce.set_defaults(func=cmd_reproduce)

    sweep = sub.add_parser(
        "sweep", help="a hyperparameter grid x seeds; the best point by mean dev accuracy is selected",
        description="Example: deconfound sweep --dataset textlen --method influence-tuning "
                    "--grid influence.lr=1e-5,3e-5 --grid influence.interval=25,50 --seeds 2021,2022. "
                    "--grid paper is the paper's search space of each dataset and method.")
    sweep.add_argument("--dataset", action="append", help="textlen | msgs (repeatable); with --data: custom")
    sweep.add_argument("--data", help="your own data (dataset custom): a CSV/JSONL file, a directory of "
                                      "train/dev/test files, or upload:<id>; --grid paper is TextLen's search space")
    sweep.add_argument("--method", action="append", required=True, help="a method (repeatable)")
    sweep.add_argument("--grid", action="append", metavar="KEY=V1,V2",
                       help="a dotted spec field and its values (repeatable), or 'paper'")
    sweep.add_argument("--seeds", default="2021", help="comma-separated (default 2021)")
    sweep.add_argument("--model", help="tiny | minilm | a Hugging Face name (default tiny)")
    sweep.add_argument("--preset", help="'paper' or a '<dataset>/<method>' preset under the grid")
    sweep.add_argument("--max-steps", dest="max_steps", type=int, help="stop each job after N label steps")
    _add_runner_flags(sweep)
    sweep.set_defaults(func=cmd_sweep)


def bench(argv: list[str]) -> int:
    """`deconfound bench ...` = `python -m benchmarks.influence ...` (R1-R4, ours / baseline in one run)."""
    # An editable install's source tree, or the current directory, holds benchmarks/.
    for root in (Path(__file__).resolve().parents[1], Path.cwd()):
        if (root / "benchmarks" / "influence").is_dir() and str(root) not in sys.path:
            sys.path.insert(0, str(root))
    try:
        from benchmarks.influence.cli import main as bench_main
    except ImportError:
        raise SystemExit("deconfound bench needs a source checkout: run it from the repository root "
                         "(benchmarks/ is not part of the installed package)") from None
    bench_main(argv)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser, sub = build_parser()
    add_service_commands(sub)
    add_dashboard_command(sub)
    # Listed in --help; its arguments are the benchmark's own, so it is dispatched before parsing.
    sub.add_parser("bench", help="influence engine benchmark (python -m benchmarks.influence; "
                                 "deconfound bench --help for its options)")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        return bench(argv[1:])
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ModuleNotFoundError as error:  # an extra this command needs is not installed
        top = (error.name or "").split(".")[0]
        if args.command in ENGINE_COMMANDS or not top or top in ("jobs", "backend", "dashboard"):
            raise
        extra = EXTRA_OF_MODULE.get(top, "dashboard" if args.command == "dashboard" else "service")
        raise SystemExit(f"error: `deconfound {args.command}` needs {top}, which is not installed: "
                         f"pip install 'deconfound[{extra}]'") from None


if __name__ == "__main__":
    sys.exit(main())
