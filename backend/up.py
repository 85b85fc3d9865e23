"""`deconfound up`: the API, the workers (and the dashboard, when it exists) in one command.

Each part runs as its own child process (`deconfound api`, `deconfound worker`, `python -m
dashboard`), all on the same data directory and database. The schema is migrated once before
they start. Ctrl-C (or SIGTERM) stops them all: workers put their running job back in the
queue, and anything still alive after a grace period is killed.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
import urllib.request

from backend.db import Database
from backend.settings import Settings

GRACE_S = 20.0
DASHBOARD_PORT = 8050


def _gpu_count() -> int:
    try:
        import torch
        return torch.cuda.device_count()
    except Exception:
        return 0


def _wait_healthy(url: str, processes: list[subprocess.Popen], timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def stop_all(processes: list[subprocess.Popen], grace_s: float = GRACE_S) -> None:
    """SIGTERM every child, wait up to grace_s for all of them, then SIGKILL what is left."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def up(settings: Settings, workers: int | None = None, device: str | None = None, dashboard: bool = True,
       dashboard_port: int = DASHBOARD_PORT) -> int:
    """Start everything and wait; returns when interrupted or when a part dies."""
    Database(settings.database_url).migrate()
    env = {**os.environ, "DECONFOUND_DATA_DIR": str(settings.data_dir), "DECONFOUND_DATABASE_URL": settings.database_url,
           "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"), "TOKENIZERS_PARALLELISM": "false"}
    cli = [sys.executable, "-m", "backend.cli"]
    # Where to reach what listens on settings.host (all interfaces -> this machine).
    local = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    api_url = f"http://{local}:{settings.port}"

    def start(args: list[str], extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        # A session of its own: Ctrl-C reaches only us, and we stop the children in order.
        return subprocess.Popen(args, env={**env, **(extra_env or {})}, start_new_session=True)

    processes = [start([*cli, "api", "--host", settings.host, "--port", str(settings.port), "--no-migrate"])]
    gpus = 0 if device else _gpu_count()
    if gpus and workers is None:
        # One worker per GPU, each seeing only its own: one job per GPU.
        processes += [start([*cli, "worker", "--device", "cuda"], {"CUDA_VISIBLE_DEVICES": str(i)})
                      for i in range(gpus)]
    else:
        processes += [start([*cli, "worker", *(["--device", device] if device else [])])
                      for _ in range(workers or 1)]
    dashboard_url = None
    if dashboard and importlib.util.find_spec("dashboard.__main__") is not None:
        dashboard_url = f"http://{local}:{dashboard_port}"
        processes.append(start([sys.executable, "-m", "dashboard"],
                               {"DECONFOUND_API_URL": api_url, "DECONFOUND_DASHBOARD_HOST": settings.host,
                                "DECONFOUND_DASHBOARD_PORT": str(dashboard_port)}))

    stopping = False

    def on_signal(_signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        if not _wait_healthy(f"{api_url}/healthz", processes):
            print("deconfound up: the API did not start; stopping", file=sys.stderr, flush=True)
            return 1
        print(f"deconfound is up (data in {settings.data_dir})\n"
              f"  API        {api_url}/api/jobs\n"
              f"  API docs   {api_url}/docs\n"
              + (f"  dashboard  {dashboard_url}\n" if dashboard_url else "")
              + f"  workers    {len(processes) - 1 - bool(dashboard_url)}\n"
              "Ctrl-C stops everything.", flush=True)
        while not stopping:
            if any(p.poll() is not None for p in processes):
                print("deconfound up: a part stopped unexpectedly; stopping the rest", file=sys.stderr, flush=True)
                return 1
            time.sleep(0.5)
        print("deconfound up: stopping...", flush=True)
        return 0
    finally:
        stop_all(processes)
