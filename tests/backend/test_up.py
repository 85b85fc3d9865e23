"""`deconfound up`: API and worker in one command; Ctrl-C stops everything cleanly."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx

from tests.helpers import WAIT_S, communicate, wait_exit

from .conftest import REPO, long_job, make_settings, wait_for, worker_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_up_serves_runs_and_stops_on_ctrl_c(tmp_path):
    settings = make_settings(tmp_path / "var")
    port = free_port()
    env = {k: v for k, v in worker_env(settings).items() if k != "DECONFOUND_DATABASE_URL"}
    env.pop("DECONFOUND_DATA_DIR")
    up = subprocess.Popen([sys.executable, "-m", "backend.cli", "up", "--port", str(port), "--workers", "1",
                           "--no-dashboard"], cwd=tmp_path, env={**env, "PYTHONPATH": str(REPO)},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = []
        for line in up.stdout:
            banner.append(line)
            if "Ctrl-C" in line:
                break
        text = "".join(banner)
        assert f"http://127.0.0.1:{port}/docs" in text and f"http://127.0.0.1:{port}/api/jobs" in text, text
        assert (tmp_path / "var" / "deconfound.db").is_file()  # SQLite under ./var by default

        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=WAIT_S)
        assert api.get("/healthz").json()["status"] == "ok"
        job_id = api.post("/api/jobs", json=long_job(1_000_000)).json()["id"]
        wait_for(lambda: api.get(f"/api/jobs/{job_id}").json()["progress"]["step"], 90, "the worker to run the job")
        children = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(up.pid)], capture_output=True,
                                                       text=True).stdout.split()]
        assert len(children) == 2  # the API and one worker

        up.send_signal(signal.SIGINT)
        assert wait_exit(up) == 0
        assert not any(alive(pid) for pid in children)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()

    # The worker gave the interrupted job back to the queue for the next start.
    from backend.store.db import Database
    from backend.store.models import Job
    db = Database(settings.database_url)
    with db.session() as session:
        job = session.get(Job, job_id)
        assert (job.status, job.attempt, job.worker_id) == ("queued", 1, None)
    db.dispose()


def start_up(settings, port: int, *flags: str, dashboard_port: int | None = None,
             **env: str) -> tuple[subprocess.Popen, str]:
    """`deconfound up` with one worker on `settings`' data dir and database (and a dashboard on
    dashboard_port, if given); returns it once its banner is out."""
    dashboard = ["--dashboard-port", str(dashboard_port)] if dashboard_port else ["--no-dashboard"]
    up = subprocess.Popen([sys.executable, "-m", "backend.cli", "up", "--port", str(port), "--workers", "1",
                           *dashboard, *flags], cwd=REPO, env={**worker_env(settings), **env},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    banner = []
    for line in up.stdout:
        banner.append(line)
        if "Ctrl-C" in line:
            break
    return up, "".join(banner)


def test_up_puts_back_in_the_queue_the_jobs_of_workers_it_killed_or_finds_gone(tmp_path, spawn_worker):
    # The lease never runs out in this test: only `up` can give these jobs back to the queue.
    settings = make_settings(tmp_path / "var", lease_s=3600)
    port = free_port()
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)

    from backend.store.db import Database
    from backend.store.models import Job
    db = Database(settings.database_url)

    def job() -> dict:
        return api.get(f"/api/jobs/{job_id}").json()

    def stored() -> tuple:
        with db.session() as session:
            row = session.get(Job, job_id)
            return row.status, row.attempt, row.worker_id

    up, banner = start_up(settings, port, DECONFOUND_GRACE_S="1")
    try:
        assert "Ctrl-C" in banner, banner + up.stdout.read()
        job_id = api.post("/api/jobs", json=long_job(1_000_000)).json()["id"]
        wait_for(lambda: job()["progress"]["step"], 90, "the worker to run the job")
        # A worker that cannot reach its next step within the grace period (frozen here, as one in a
        # long update would be busy): up kills it, and its job goes back to the queue, not left running.
        worker_pid = int(job()["worker_id"].split(":")[1])
        os.kill(worker_pid, signal.SIGSTOP)
        up.send_signal(signal.SIGINT)
        out, _ = communicate(up, "up after Ctrl-C")
        assert up.returncode == 0, out
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
    assert stored() == ("queued", 1, None), out
    assert "waiting up to 1 s" in out and f"job(s) {job_id} back in the queue" in out, out
    assert not alive(worker_pid)

    # A worker killed outright leaves its job running; the next `up` finds it gone and requeues it at once.
    worker = spawn_worker(settings)
    wait_for(lambda: stored()[:2] == ("running", 2), 90, "a worker to take the job")
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert stored()[:2] == ("running", 2)
    up, banner = start_up(settings, port, "--grace", "300")
    try:
        assert f"job(s) {job_id} back in the queue: their worker is gone" in banner, banner
        wait_for(lambda: stored()[:2] == ("running", 3), 90, "up's worker to take the job")
        up.send_signal(signal.SIGINT)
        out, _ = communicate(up, "up after Ctrl-C")
        assert up.returncode == 0, out
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
    assert "waiting up to 300 s" in out and "killed" not in out, out
    assert stored() == ("queued", 3, None)  # this time its worker stopped it at its next step and gave it back
    db.dispose()
