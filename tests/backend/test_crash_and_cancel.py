"""Workers dying and jobs being cancelled, with real worker processes."""
from __future__ import annotations

import signal

from sqlalchemy import func, select

from backend.store.models import CidPoint, LogLine, ScalarPoint
from tests.helpers import wait_exit

from .conftest import TINY_JOB, long_job, wait_for, worker_log


def loss_points(client, job_id) -> int:
    series = client.get(f"/api/jobs/{job_id}/metrics?name=loss/train").json()["series"]
    return len(series.get("loss/train", {}).get("steps", []))


def test_kill_9_mid_job_then_a_second_worker_finishes_it_without_duplicates(client, settings, db, spawn_worker):
    job_id = client.post("/api/jobs", json=long_job(80)).json()["id"]
    first = spawn_worker(settings)
    wait_for(lambda: loss_points(client, job_id) >= 5, 90, "the first worker's points")
    first.send_signal(signal.SIGKILL)
    wait_exit(first)
    stranded = client.get(f"/api/jobs/{job_id}").json()
    assert stranded["status"] == "running" and stranded["attempt"] == 1
    partial = loss_points(client, job_id)
    assert 5 <= partial < 80

    second = spawn_worker(settings, "--exit-when-idle")
    # It waits for the lease (4 s here) to expire, then starts the job again from step 0.
    assert wait_exit(second) == 0, worker_log(second)
    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["status"] in ("succeeded", "collapsed"), (job, worker_log(second))
    assert job["attempt"] == 2 and job["worker_id"] != stranded["worker_id"]
    assert client.get(f"/api/jobs/{job_id}/metrics?name=loss/train").json()["series"]["loss/train"]["steps"] == \
        list(range(1, 81))
    with db.session() as session:  # every row in the tables, not only what the API selects
        per_step = session.execute(select(ScalarPoint.name, ScalarPoint.step, func.count())
                                   .group_by(ScalarPoint.name, ScalarPoint.step)).all()
        assert per_step and all(n == 1 for _, _, n in per_step)
        assert set(session.scalars(select(ScalarPoint.attempt).distinct())) == {2}
        assert set(session.scalars(select(CidPoint.attempt).distinct())) == {2}
        assert session.scalar(select(func.count()).where(LogLine.message.like("attempt 1:%"))) == 1


def test_cancel_stops_a_running_job_and_the_worker_goes_on(client, settings, spawn_worker):
    endless = client.post("/api/jobs", json=long_job(1_000_000)).json()["id"]
    after = client.post("/api/jobs", json=TINY_JOB).json()["id"]
    worker = spawn_worker(settings, "--exit-when-idle")
    wait_for(lambda: loss_points(client, endless) >= 3, 90, "the job to run")
    response = client.post(f"/api/jobs/{endless}/cancel")
    assert response.status_code == 200 and response.json()["cancel_requested"]
    # How soon it stops (the next heartbeat): benchmarks/service/cancel_latency.py
    wait_for(lambda: client.get(f"/api/jobs/{endless}").json()["status"] == "cancelled", what="the cancel")
    steps_at_cancel = loss_points(client, endless)
    assert wait_exit(worker) == 0, worker_log(worker)
    assert client.get(f"/api/jobs/{after}").json()["status"] in ("succeeded", "collapsed")
    cancelled = client.get(f"/api/jobs/{endless}").json()
    assert cancelled["status"] == "cancelled" and loss_points(client, endless) == steps_at_cancel
    assert client.get(f"/api/jobs/{endless}/results").json()["artifacts"] == []
    assert client.delete(f"/api/jobs/{endless}").status_code == 204


def _series(client, job_id, name="loss/train") -> list:
    found = client.get(f"/api/jobs/{job_id}/metrics?name={name}").json()["series"][name]
    return list(zip(found["steps"], found["values"], strict=True))


def _final(client, job_id) -> dict:
    results = client.get(f"/api/jobs/{job_id}/results").json()
    return {k: v for k, v in results["metrics"].items() if k not in ("wall_s", "artifact_dir")}


def test_a_job_taken_up_again_resumes_from_its_checkpoint_to_the_numbers_of_an_unbroken_run(
        client, settings, db, spawn_worker, tmp_path):
    from .conftest import make_settings

    settings = make_settings(settings.data_dir, settings.database_url, checkpoint_s=0.5)
    job_id = client.post("/api/jobs", json=long_job(120)).json()["id"]

    # kill -9 mid-job: the second worker resumes from the last checkpoint the first one saved.
    first = spawn_worker(settings, "--max-jobs", "1")
    wait_for(lambda: loss_points(client, job_id) >= 30, 90, "the first worker's points")
    first.send_signal(signal.SIGKILL)
    wait_exit(first)
    assert (settings.checkpoint_dir(job_id) / "checkpoint.pt").is_file()
    second = spawn_worker(settings, "--max-jobs", "1")
    resumed = wait_for(lambda: db_log(db, job_id, "resumed from the checkpoint after step %"), 60, "the resume")
    resumed_at = int(resumed.split("after step ")[1].split()[0])
    assert resumed_at >= 1

    # SIGTERM: the job stops at its next step, saves, goes back to the queue; a third worker ends it.
    wait_for(lambda: client.get(f"/api/jobs/{job_id}").json()["attempt"] == 2
             and loss_points(client, job_id) > resumed_at + 5, 60, "the second attempt to train")
    second.send_signal(signal.SIGTERM)
    assert wait_exit(second) == 0, worker_log(second)
    assert client.get(f"/api/jobs/{job_id}").json()["status"] == "queued"
    twin = client.post("/api/jobs", json=long_job(120)).json()["id"]  # the same spec, run straight through
    third = spawn_worker(settings, "--exit-when-idle")
    assert wait_exit(third) == 0, worker_log(third)

    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["status"] in ("succeeded", "collapsed") and job["attempt"] == 3, job
    # Both resumes are in the log (the first one's line was covered by a later checkpoint).
    resumes = [int(line.split("after step ")[1].split()[0]) for line in db_logs(db, job_id, "resumed from %")]
    assert resumes[0] == resumed_at and len(resumes) == 2 and resumes[1] > resumed_at + 5
    # Every step once, and the same numbers as the twin that ran straight through.
    assert [s for s, _ in _series(client, job_id)] == list(range(1, 121))
    assert _series(client, job_id) == _series(client, twin)
    assert _final(client, job_id) == _final(client, twin)
    assert client.get(f"/api/jobs/{job_id}/cid").json()["points"] == client.get(f"/api/jobs/{twin}/cid").json()["points"]
    with db.session() as session:
        assert set(session.scalars(select(ScalarPoint.attempt).where(ScalarPoint.job_id == job_id))) == {3}
    assert not settings.checkpoint_dir(job_id).exists()  # ended: removed


def db_logs(db, job_id: int, pattern: str) -> list[str]:
    """The job's log lines LIKE `pattern`, oldest first (any attempt: rows being carried over count too)."""
    with db.session() as session:
        return list(session.scalars(select(LogLine.message).where(LogLine.job_id == job_id,
                                                                  LogLine.message.like(pattern)).order_by(LogLine.id)))


def db_log(db, job_id: int, pattern: str) -> str | None:
    return next(iter(db_logs(db, job_id, pattern)), None)


def round_job() -> dict:
    """A tiny influence-tuning job of 12 label steps whose one round (after step 6: 4 passes of
    32 probes, one per update, 128 updates) takes most of its time, so stops land inside it."""
    job = long_job(12)
    return {**job, "method": "influence-tuning", "train": {**job["train"], "lr": 5e-3},
            "influence": {"interval": 6, "probes_per_round": 32, "round_epochs": 4, "tuples_per_update": 1, "k": 2}}


ROUND_UPDATES = 128


def influence_rows(db, job_id: int) -> list[tuple[int, int, int]]:
    """(row id, update, attempt) of every loss/influence row the job has, in the store itself."""
    with db.session() as session:
        return [tuple(row) for row in session.execute(
            select(ScalarPoint.id, ScalarPoint.step, ScalarPoint.attempt)
            .where(ScalarPoint.job_id == job_id, ScalarPoint.name == "loss/influence").order_by(ScalarPoint.id))]


def test_a_job_stopped_inside_an_influence_round_resumes_at_its_next_update(client, settings, db, spawn_worker):
    from .conftest import make_settings

    settings = make_settings(settings.data_dir, settings.database_url, checkpoint_s=0.5)
    job_id = client.post("/api/jobs", json=round_job()).json()["id"]

    # kill -9 inside the round: the job stays running until its lease runs out, then the next
    # worker resumes it from the last save that was due, inside the round.
    first = spawn_worker(settings, "--max-jobs", "1")
    wait_for(lambda: len(influence_rows(db, job_id)) >= 20, 120, "the round's first updates")
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert client.get(f"/api/jobs/{job_id}").json()["status"] == "running"
    second = spawn_worker(settings, "--max-jobs", "1")
    wait_for(lambda: db_log(db, job_id, "resumed from the checkpoint after step 6 of 12 (partway through "
                                        "influence-tuning's work after it)"), 90, "the resume inside the round")

    # SIGTERM inside the round: the job stops at its next update, saves there and goes back to the queue.
    resumed_at = len(influence_rows(db, job_id))
    wait_for(lambda: len(influence_rows(db, job_id)) >= resumed_at + 8, 90, "the second attempt's updates")
    second.send_signal(signal.SIGTERM)
    assert wait_exit(second, "the SIGTERM'd worker") == 0, worker_log(second)
    job = client.get(f"/api/jobs/{job_id}").json()
    assert (job["status"], job["attempt"], job["worker_id"]) == ("queued", 2, None), job  # not left running
    assert db_log(db, job_id, "stopped at step 6 of 12"), worker_log(second)
    done_before = influence_rows(db, job_id)
    assert [step for _, step, _ in done_before] == list(range(1, len(done_before) + 1))
    assert resumed_at + 8 <= len(done_before) < ROUND_UPDATES

    twin = client.post("/api/jobs", json=round_job()).json()["id"]  # the same spec, run straight through
    third = spawn_worker(settings, "--exit-when-idle")
    assert wait_exit(third, "the third worker") == 0, worker_log(third)
    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["status"] in ("succeeded", "collapsed") and job["attempt"] == 3, job
    # The updates done before the stop were kept, not taken again: the third attempt went on from the next one.
    rows = influence_rows(db, job_id)
    last_row_before = done_before[-1][0]
    assert [step for row_id, step, _ in rows if row_id <= last_row_before] == [step for _, step, _ in done_before]
    assert [step for row_id, step, _ in rows if row_id > last_row_before] == \
        list(range(len(done_before) + 1, ROUND_UPDATES + 1))
    assert {attempt for _, _, attempt in rows} == {3}
    # The numbers of the twin that ran straight through.
    assert _series(client, job_id, "loss/influence") == _series(client, twin, "loss/influence")
    assert [s for s, _ in _series(client, job_id)] == list(range(1, 13))
    assert _series(client, job_id) == _series(client, twin)
    assert _final(client, job_id) == _final(client, twin)
    assert client.get(f"/api/jobs/{job_id}/cid").json()["points"] == client.get(f"/api/jobs/{twin}/cid").json()["points"]
    assert not settings.checkpoint_dir(job_id).exists()
