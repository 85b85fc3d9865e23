"""`deconfound up`: the API, the workers (and the dashboard, when it exists) in one command.

Each part runs as its own child process (`deconfound api`, `deconfound worker`, `python -m
dashboard`), all on the same data directory and database. The schema is migrated once before
they start. Ctrl-C (or SIGTERM) stops them all: workers save their running job at its next label
step or influence update and put it back in the queue. Anything still alive after the grace
period (`--grace`, DECONFOUND_GRACE_S; a second Ctrl-C ends it at once) is killed, and the jobs
of killed workers go back to the queue from their last checkpoint. On start, jobs left running
by workers of this machine that are gone (a killed `up`, a reboot) go back to the queue too,
instead of waiting for their lease to expire.

The parts die with `up`: on Linux each child asks the kernel for a SIGTERM when its parent dies
(prctl PR_SET_PDEATHSIG), so a `kill -9` of `up` stops them as Ctrl-C would (workers save and
requeue their job); elsewhere the API and workers poll their parent's pid (DECONFOUND_UP_PID).
`up` refuses to start when its API or dashboard port already answers (an earlier `up`, orphaned
or not, or anything else): it would otherwise take that process's /healthz for its own.
"""
from __future__ import annotations

import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from backend.queue.claims import requeue_lost
from backend.queue.worker import worker_is_gone, worker_pid
from backend.settings import Settings
from backend.store.db import Database

DASHBOARD_PORT = 8050
PR_SET_PDEATHSIG = 1  # linux/prctl.h
UP_PID_ENV = "DECONFOUND_UP_PID"


def _libc_prctl():
    """libc's prctl on Linux (resolved here, in the parent: a child between fork and exec only
    calls it), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _libc_prctl()


def die_with_parent(parent_pid: int):
    """A preexec_fn: the child gets SIGTERM when its parent dies (Linux), and terminates at once
    if the parent died before it could ask."""
    def arm() -> None:
        if _PRCTL is not None:
            _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGTERM)
    return arm


def watch_parent(every_s: float = 1.0) -> None:
    """In a child of `up` (DECONFOUND_UP_PID set) where PR_SET_PDEATHSIG is not available: a
    daemon thread that sends this process SIGTERM once `up` is gone (its parent pid changes)."""
    parent = os.environ.get(UP_PID_ENV)
    if not parent or not parent.isdigit() or _PRCTL is not None:
        return

    def watch() -> None:
        while os.getppid() == int(parent):
            time.sleep(every_s)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="watch-up", daemon=True).start()


def port_answers(host: str, port: int) -> bool:
    """Whether something accepts connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def busy_port_message(what: str, host: str, port: int, variable: str, flag: str) -> str:
    """One line: which port is taken, how to free it, how to choose another."""
    return (f"deconfound up: port {port} on {host} (the {what}) already answers: another process holds it "
            f"(an earlier `deconfound up`?). Stop it (`fuser -k {port}/tcp` shows and ends it), or choose "
            f"another port with {flag} or {variable}")


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


def stop_all(processes: list[subprocess.Popen], grace_s: float, hurry=lambda: False) -> list[subprocess.Popen]:
    """SIGTERM every child, wait up to grace_s for all of them (less once hurry() is true), then
    SIGKILL what is left; returns the killed ones."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while any(p.poll() is None for p in processes) and time.monotonic() < deadline and not hurry():
        time.sleep(0.2)
    killed = [p for p in processes if p.poll() is None]
    for process in killed:
        process.kill()
        process.wait()
    return killed


def requeue_jobs_of(db: Database, killed: list[subprocess.Popen]) -> list[int]:
    """Put the jobs of the killed workers back in the queue (they stopped short of saving at a
    boundary: they resume from their last checkpoint)."""
    pids = {process.pid for process in killed}
    return requeue_lost(db, lambda worker_id: worker_pid(worker_id) in pids) if pids else []


def up(settings: Settings, workers: int | None = None, device: str | None = None, dashboard: bool = True,
       dashboard_port: int = DASHBOARD_PORT) -> int:
    """Start everything and wait; returns when interrupted or when a part dies."""
    # Where to reach what listens on settings.host (all interfaces -> this machine).
    local = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    taken = [busy_port_message("API", local, settings.port, "DECONFOUND_PORT", "--port")] \
        if port_answers(local, settings.port) else []
    if dashboard and port_answers(local, dashboard_port):
        taken.append(busy_port_message("dashboard", local, dashboard_port, "DECONFOUND_DASHBOARD_PORT",
                                       "--dashboard-port"))
    if taken:
        print("\n".join(taken), file=sys.stderr, flush=True)
        return 1
    db = Database(settings.database_url)
    db.migrate()
    # Jobs whose worker died with an earlier `up` (or machine): back to the queue, not left running.
    orphans = requeue_lost(db, worker_is_gone, settings.max_attempts)
    if orphans:
        print(f"deconfound up: job(s) {', '.join(map(str, orphans))} back in the queue: their worker is gone "
              "(they resume from their last checkpoint)", flush=True)
    env = {**os.environ, "DECONFOUND_DATA_DIR": str(settings.data_dir), "DECONFOUND_DATABASE_URL": settings.database_url,
           "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"), "TOKENIZERS_PARALLELISM": "false",
           UP_PID_ENV: str(os.getpid())}
    cli = [sys.executable, "-m", "backend.cli"]
    api_url = f"http://{local}:{settings.port}"

    def start(args: list[str], extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        # A session of its own: Ctrl-C reaches only us, and we stop the children in order. If we die
        # (kill -9), the kernel sends each child SIGTERM (die_with_parent).
        return subprocess.Popen(args, env={**env, **(extra_env or {})}, start_new_session=True,
                                preexec_fn=die_with_parent(os.getpid()))

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
    if dashboard and importlib.util.find_spec("dash") is None:
        print("deconfound up: no dashboard: its dependencies are not installed (pip install 'deconfound[dashboard]')",
              flush=True)
    elif dashboard:
        dashboard_url = f"http://{local}:{dashboard_port}"
        processes.append(start([sys.executable, "-m", "dashboard"],
                               {"DECONFOUND_API_URL": api_url, "DECONFOUND_DASHBOARD_HOST": settings.host,
                                "DECONFOUND_DASHBOARD_PORT": str(dashboard_port)}))

    signals = 0  # the first stops, a second one cuts the grace period short

    def on_signal(_signum, _frame):
        nonlocal signals
        signals += 1

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
        while not signals:
            if any(p.poll() is not None for p in processes):
                print("deconfound up: a part stopped unexpectedly; stopping the rest", file=sys.stderr, flush=True)
                return 1
            time.sleep(0.5)
        print(f"deconfound up: stopping; running jobs save at their next label step or influence update (waiting "
              f"up to {settings.grace_s:.0f} s; Ctrl-C again to stop now, they then resume from their last "
              "checkpoint)...", flush=True)
        return 0
    finally:
        killed = stop_all(processes, settings.grace_s, hurry=lambda: signals > 1)
        requeued = requeue_jobs_of(db, killed)
        if killed:
            print(f"deconfound up: killed {len(killed)} process(es) still running after the grace period"
                  + (f"; job(s) {', '.join(map(str, requeued))} back in the queue" if requeued else ""), flush=True)
        db.dispose()
