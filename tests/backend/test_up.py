"""`deconfound up`: API and worker in one command; Ctrl-C stops everything cleanly."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx

from tests.helpers import WAIT_S, wait_exit

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
    from backend.db import Database
    from backend.models import Job
    db = Database(settings.database_url)
    with db.session() as session:
        job = session.get(Job, job_id)
        assert (job.status, job.attempt, job.worker_id) == ("queued", 1, None)
    db.dispose()
