"""Processes die together (issue 16, item 8): a `kill -9` of `deconfound up` takes its API, worker
(and dashboard) with it; `up` refuses a port another process answers on; a job taken over from a
lost worker says so in its log, and its wall_s counts every attempt. Real processes throughout."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from backend.api import create_app
from backend.store.db import Database
from backend.store.models import Job, LogLine
from tests.helpers import WAIT_S, communicate, wait_exit, wait_for

from .conftest import REPO, long_job, make_settings, worker_env, worker_log
from .test_up import alive, free_port, start_up


def children_of(pid: int) -> list[int]:
    return [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()]


def test_kill_9_of_up_takes_its_parts_with_it_and_a_new_up_starts_clean(tmp_path):
    settings = make_settings(tmp_path / "var")
    port, dashboard_port = free_port(), free_port()
    up, banner = start_up(settings, port, dashboard_port=dashboard_port)
    children = []
    try:
        assert "Ctrl-C" in banner and f":{dashboard_port}" in banner, banner
        children = children_of(up.pid)
        assert len(children) == 3, children  # the API, one worker and the dashboard
        up.send_signal(signal.SIGKILL)
        up.wait()
        wait_for(lambda: not any(alive(pid) for pid in children), "up's API and worker to end with it")
    finally:
        for pid in children:  # only if the test failed: no orphans left behind by it
            if alive(pid):
                subprocess.run(["kill", "-9", str(pid)], check=False)
        if up.poll() is None:
            up.kill()
            up.wait()
    for taken in (port, dashboard_port):  # nothing answers on the API and dashboard ports any more
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", taken)) != 0, taken

    # A new `up` on the same port is its own, not the orphan's /healthz.
    again, banner = start_up(settings, port)
    try:
        assert "deconfound is up" in banner, banner
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=WAIT_S).status_code == 200
        again.send_signal(signal.SIGINT)
        assert wait_exit(again) == 0
    finally:
        if again.poll() is None:
            again.kill()
            again.wait()


def test_up_refuses_a_port_that_another_process_answers_on(tmp_path):
    settings = make_settings(tmp_path / "var")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        up = subprocess.Popen([sys.executable, "-m", "backend.cli", "up", "--port", str(port), "--workers", "1",
                               "--no-dashboard"], cwd=REPO, env=worker_env(settings),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out, _ = communicate(up, "up on a taken port")
    assert up.returncode == 1, out
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    assert f"port {port}" in lines[0] and "DECONFOUND_PORT" in lines[0] and "--port" in lines[0], out
    assert "deconfound is up" not in out
    assert not children_of(up.pid)


def test_a_takeover_says_so_in_the_log_and_wall_s_counts_every_attempt(client, settings, db, spawn_worker):
    takeover(client, make_settings(settings.data_dir, settings.database_url, checkpoint_s=0.5), db, spawn_worker)


def test_a_takeover_on_postgresql_too(tmp_path, pg_url, spawn_worker):
    settings = make_settings(tmp_path / "pg-data", pg_url, checkpoint_s=0.5)
    database = Database(settings.database_url)
    try:
        with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
            takeover(client, settings, database, spawn_worker)
    finally:
        database.dispose()


def takeover(client, settings, db, spawn_worker) -> None:
    """kill -9 of a worker mid-job after a checkpoint; a second worker takes the job over once
    its lease runs out and finishes it."""
    job_id = client.post("/api/jobs", json=long_job(80)).json()["id"]

    def stored() -> Job:
        with db.session() as session:
            job = session.get(Job, job_id)
            session.expunge(job)
            return job

    def loss_points() -> int:
        series = client.get(f"/api/jobs/{job_id}/metrics?name=loss/train").json()["series"]
        return len(series.get("loss/train", {}).get("steps", []))

    first = spawn_worker(settings, "--max-jobs", "1")
    wait_for(lambda: loss_points() >= 20 and (settings.checkpoint_dir(job_id) / "checkpoint.pt").is_file(),
             "the first worker's points and checkpoint")
    first.send_signal(signal.SIGKILL)
    wait_exit(first)
    lost = stored()
    first_attempt_s = (lost.heartbeat_at - lost.started_at).total_seconds()

    second = spawn_worker(settings, "--exit-when-idle")  # takes the job once its lease runs out
    assert wait_exit(second) == 0, worker_log(second)
    job = stored()
    assert job.status in ("succeeded", "collapsed") and job.attempt == 2, (job.status, job.error)
    with db.session() as session:
        lines = list(session.scalars(select(LogLine.message).where(LogLine.job_id == job_id,
                                                                   LogLine.message.like("worker lost%"))))
    assert len(lines) == 1, lines
    step = int(lines[0].split("resumed from step ")[1].split()[0])
    assert step >= 1 and lines[0] == f"worker lost; resumed from step {step} (attempt 2)"
    # wall_s: the lost attempt (start to last heartbeat) plus the second one (at least its training).
    assert job.wall_s >= first_attempt_s + job.metrics["wall_s"], (job.wall_s, first_attempt_s, job.metrics["wall_s"])
    assert client.get(f"/api/jobs/{job_id}").json()["wall_s"] == job.wall_s


def test_wall_s_adds_up_released_lost_and_finished_attempts(client, db):
    from datetime import timedelta

    from sqlalchemy import update

    from backend.queue.claims import LOST_PHASE, claim_next, finish, release, requeue_lost
    from backend.store.models import utcnow

    from .conftest import TINY_JOB

    job_id = client.post("/api/jobs", json=TINY_JOB).json()["id"]

    def set_times(**ago_s: float) -> None:
        now = utcnow()
        with db.writing() as session:
            session.execute(update(Job).where(Job.id == job_id)
                            .values(**{k: now - timedelta(seconds=v) for k, v in ago_s.items()}))

    def stored() -> Job:
        with db.session() as session:
            job = session.get(Job, job_id)
            session.expunge(job)
            return job

    first = claim_next(db, "here:1", lease_s=3600)
    assert first.job_id == job_id and not first.lost
    set_times(started_at=10)
    assert release(db, first)  # a worker shutting down: its 10 s so far count
    released = stored().wall_s
    assert released >= 10

    second = claim_next(db, "here:2", lease_s=3600)
    assert not second.lost and second.attempt == 2
    set_times(started_at=20, heartbeat_at=15)
    assert requeue_lost(db, lambda worker_id: worker_id == "here:2") == [job_id]
    lost = stored()
    assert lost.progress_phase == LOST_PHASE and lost.wall_s - released == pytest.approx(5)  # start to last heartbeat

    third = claim_next(db, "here:3", lease_s=3600)
    assert third.lost and third.attempt == 3 and stored().progress_phase is None
    assert finish(db, third, "succeeded", wall_s=7.0)
    assert stored().wall_s - lost.wall_s == pytest.approx(7)
