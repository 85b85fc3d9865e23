"""`deconfound reproduce` on the local store: one experiment of the paper's protocol (tiny scale),
run to the end by an in-process worker, Tables 2 and 3 printed, CID curves stored; a rerun
submits nothing, and interrupted jobs (dead worker, expired lease, Ctrl-C) are resumed."""
from __future__ import annotations

import _thread
import io
import re
import signal
import socket
import subprocess
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from backend.cli import main
from backend.services.experiment_records import cid_rows
from backend.services.experiments import (
    JobState,
    RunCidPoint,
    cid_trajectories,
    estimated_seconds,
    experiment_progress,
)
from backend.services.protocols import reproduce_request
from backend.services.reproduce import LocalStore, dead_here, run_experiment
from backend.store.db import Database
from backend.store.models import CidPoint, Experiment, Job, LogLine, ScalarPoint, utcnow
from jobs.contracts.enums import FINISHED_STATUSES
from jobs.presets import PROTOCOL_METHODS, SCALES

from .conftest import wait_for

TEXTLEN_METHODS = {"finetune", "adversarial", "influence-tuning", "embedding-tuning", "no-confound"}


def _jobs(db: Database) -> list[Job]:
    with db.session() as session:
        return list(session.scalars(select(Job).order_by(Job.id)))


def _cli(settings, capsys, *extra: str) -> tuple[int, str]:
    code = main(["reproduce", "textlen", "--scale", "tiny", "--access-rates", "50,100",
                 "--data-dir", str(settings.data_dir), *extra])
    return code, capsys.readouterr().out


def test_reproduce_runs_resumes_and_submits_nothing_twice(settings, capsys):
    code, out = _cli(settings, capsys)
    assert code == 0, out
    db = Database(settings.database_url)
    jobs = _jobs(db)
    # 5 Table-2 methods x 1 seed, plus influence and embedding tuning at 50 % access (100 % is Table 2's).
    assert len(jobs) == 7 and all(j.status in FINISHED_STATUSES and j.attempt == 1 for j in jobs), \
        [(j.id, j.status, j.error) for j in jobs]
    assert {j.method for j in jobs} == TEXTLEN_METHODS
    assert sorted(j.spec["dataset"]["access_rate"] for j in jobs) == [0.5, 0.5, 1, 1, 1, 1, 1]
    assert all(j.spec["model"] == "tiny" and j.spec["preset"] == "paper" for j in jobs)
    assert {j.experiment_id for j in jobs} == {1} and "submitted" in out
    # The paper preset lies under the scale: what the scale leaves out (the adversary's weight and
    # epochs) is the paper's.
    adversarial = next(j for j in jobs if j.method == "adversarial")
    assert adversarial.spec["adversarial"]["weight"] == 0.3 and adversarial.spec["train"]["epochs"] == 20
    # Table 2 lists every method; Table 3 the two access rates.
    table2 = out[out.index("Table 2"):out.index("Table 3")]
    assert all(method in table2 for method in TEXTLEN_METHODS), out
    assert "50%" in out[out.index("Table 3"):] and "100%" in out[out.index("Table 3"):]
    # Figure 3: every job left its CID curve (several points of its own attempt) in the store.
    with db.session() as session:
        cid_counts = dict(session.execute(select(CidPoint.job_id, func.count()).group_by(CidPoint.job_id)).all())
    assert all(cid_counts.get(j.id, 0) >= 2 for j in jobs), cid_counts
    # ... and the command printed Figure 3's numbers: each full-access method that succeeded has
    # its final CID there, the mean of its jobs' final points.
    figure = out[out.index("Figure 3"):]
    full = [j for j in jobs if j.status == "succeeded" and j.spec["dataset"]["access_rate"] == 1]
    assert full and all(j.method in figure for j in full), out
    with db.session() as session:
        rows = cid_rows(session, 1)
        finals = {j.method: session.scalar(select(CidPoint.value).where(
            CidPoint.job_id == j.id, CidPoint.phase == "final")) for j in full}
    final_rows = [r for r in rows if r.phase == "final"]
    assert {m: v.mean for r in final_rows for m, v in r.methods.items()} == pytest.approx(finals)

    # Again: found by name, nothing submitted, nothing re-run; the tables as Markdown this time.
    code, out = _cli(settings, capsys, "--markdown")
    assert code == 0 and "resumed (7 finished)" in out, out
    lines = out.splitlines()
    header = lines.index("**Table 2: reproduce textlen tiny access 50,100**") + 2
    assert lines[header].startswith("| dataset | method | n | test acc | p vs FT | worst group |")

    def cells(line: str) -> list[str]:  # a Markdown row, "\\|" being a pipe inside a cell
        return re.split(r"(?<!\\)\|", line)

    assert set(lines[header + 1]) <= set("|-: ") and len(cells(lines[header + 1])) == len(cells(lines[header]))
    assert "long\\|Negative ." in lines[header]  # the group names' pipes are escaped
    body = lines[header + 2:header + 7]
    assert sorted(line.split(" | ")[1] for line in body) == sorted(TEXTLEN_METHODS), out
    assert "**Table 3" in out and "**Figure 3: CID during training**" in out
    assert [(j.id, j.attempt, j.status) for j in _jobs(db)] == [(j.id, j.attempt, j.status) for j in jobs]
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Experiment)) == 1

    # Interrupted jobs: one whose worker process on this machine died (re-queued at once), one
    # whose worker elsewhere stopped heartbeating (its lease ran out): both run again.
    dead = subprocess.Popen(["true"])
    dead.wait()
    host = socket.gethostname()
    assert dead_here(f"{host}:{dead.pid}:reproduce") and not dead_here(f"{host}:1") and not dead_here("elsewhere:9")
    lost, expired = jobs[1].id, jobs[3].id
    with db.session() as session:
        session.execute(update(Job).where(Job.id == lost).values(
            status="running", worker_id=f"{host}:{dead.pid}:reproduce", heartbeat_at=utcnow(), metrics=None))
        session.execute(update(Job).where(Job.id == expired).values(
            status="running", worker_id="elsewhere:123", heartbeat_at=utcnow() - timedelta(hours=1), metrics=None))
        session.commit()
    code, out = _cli(settings, capsys)
    assert code == 0 and "1 put back in the queue" in out, out
    after = {j.id: j for j in _jobs(db)}
    assert len(after) == 7
    assert {i for i, j in after.items() if j.attempt == 2} == {lost, expired}
    assert all(j.status in FINISHED_STATUSES and j.metrics for j in after.values())
    db.dispose()


def test_ctrl_c_puts_the_running_job_back(settings):
    """Ctrl-C while a job runs: the job goes back to the queue (resumable), the command says so."""
    request = reproduce_request("textlen", "tiny", name="interrupted",
                                overrides={"train": {"max_steps": 100000, "epochs": 1000}})
    store = LocalStore(settings)
    db = Database(settings.database_url)

    def interrupt_once_running():
        wait_for(lambda: any(j.status == "running" and (j.progress_step or 0) > 0 for j in _jobs(db)), 60,
                 "a job to be running")
        _thread.interrupt_main()  # what Ctrl-C does

    threading.Thread(target=interrupt_once_running, daemon=True).start()
    out = io.StringIO()
    before = signal.getsignal(signal.SIGINT)  # default, or ignored under nohup
    try:
        code = run_experiment(request, store, out=out, poll_s=0.2)
    finally:
        store.close()
    assert code == 130 and "run the same command again to resume" in out.getvalue(), out.getvalue()
    assert signal.getsignal(signal.SIGINT) is before  # Ctrl-C is itself again afterwards
    jobs = _jobs(db)
    assert len(jobs) == 5 and {j.status for j in jobs} == {"queued"}, [(j.id, j.status) for j in jobs]
    assert sum(j.attempt for j in jobs) == 1  # the one that ran; its next claim starts it afresh
    db.dispose()


def test_progress_counts_and_eta():
    jobs = ([{"status": "succeeded", "wall_s": 10.0, "worker_id": None}] * 2
            + [{"status": "failed", "wall_s": 40.0, "worker_id": None},
               {"status": "collapsed", "wall_s": 30.0, "worker_id": None},
               {"status": "cancelled", "wall_s": None, "worker_id": None},
               {"status": "running", "wall_s": None, "worker_id": "a:1"},
               {"status": "running", "wall_s": None, "worker_id": "b:2"}]
            + [{"status": "queued", "wall_s": None, "worker_id": None}] * 3)
    jobs = [JobState(**job) for job in jobs]
    progress = experiment_progress(jobs)
    # a job costs the mean wall of those that ran to the end (a failure's wall says little): 50/3 s
    assert progress.model_dump() == {"total": 10, "done": 5, "succeeded": 2, "collapsed": 1, "failed": 1, "cancelled": 1,
                        "running": 2, "queued": 3, "workers": 2, "eta_s": pytest.approx(50 / 3 * 5 / 2)}
    assert experiment_progress(jobs[5:]).eta_s is None  # nothing finished yet: unknown
    assert experiment_progress(jobs[:5]).eta_s == 0.0


def test_eta_per_method_counts_running_jobs_and_calibrates_estimates():
    def job(method, status, wall_s=None, eta_s=None):
        return JobState(method=method, status=status, wall_s=wall_s, eta_s=eta_s,
                        worker_id="a:1" if status == "running" else None)

    estimates = {"finetune": 100.0, "adversarial": 200.0, "influence-tuning": 300.0}
    jobs = [job("finetune", "running", eta_s=40.0), job("adversarial", "queued"), job("influence-tuning", "queued")]
    # before anything finished: the running job's own ETA plus the scale's guesses
    assert experiment_progress(jobs, estimates).eta_s == pytest.approx(40 + 200 + 300)
    assert experiment_progress(jobs).eta_s is None  # no guesses: unknown

    # finetune took 150 s against a guess of 100: the methods not yet run are scaled by 1.5
    jobs = [job("finetune", "succeeded", wall_s=150.0), job("adversarial", "running"),
            job("influence-tuning", "queued"), job("finetune", "queued")]
    # the running adversarial job has no ETA of its own yet: its calibrated guess stands in
    assert experiment_progress(jobs, estimates).eta_s == pytest.approx(200 * 1.5 + 300 * 1.5 + 150)
    # without guesses, every method costs the mean of the finished jobs
    assert experiment_progress(jobs).eta_s == pytest.approx(3 * 150)


def test_cid_trajectories_average_each_method_per_step_and_phase():
    def point(method, job_id, step, phase, value):
        return RunCidPoint(dataset="textlen", method=method, job_id=job_id, step=step, phase=phase, value=value)

    points = [point("finetune", 1, 0, "live", 0.1), point("finetune", 2, 0, "live", 0.3),
              point("influence-tuning", 3, 50, "post-round", 0.02), point("influence-tuning", 3, 50, "pre-round", 0.5),
              point("influence-tuning", 4, 50, "pre-round", None), point("finetune", 1, 240, "final", 0.6)]
    rows = cid_trajectories(points)
    assert [(r.step, r.phase) for r in rows] == [(0, "live"), (50, "pre-round"), (50, "post-round"),
                                                        (240, "final")]
    assert rows[0].methods["finetune"].model_dump() == {"mean": pytest.approx(0.2), "n": 2}
    assert rows[1].methods["influence-tuning"].model_dump() == {"mean": 0.5, "n": 1}  # a NaN point is not averaged
    assert cid_trajectories([point("finetune", 1, 0, "live", None)])[0].methods["finetune"].model_dump() == \
        {"mean": None, "n": 0}


def test_estimated_seconds_come_from_the_reproduction_scale():
    grid = reproduce_request("textlen", "cpu").model_dump(mode="json")
    estimates = estimated_seconds(grid)
    assert set(estimates) == set(PROTOCOL_METHODS["textlen"])
    assert estimates["finetune"] == SCALES["cpu"].minutes["textlen/finetune"] * 60
    assert estimated_seconds(reproduce_request("textlen", "tiny").model_dump(mode="json")) == {}
    assert estimated_seconds({"kind": "sweep"}) == {}


def test_progress_over_rest(client, db):
    request = reproduce_request("textlen", "tiny", access_rates=[5, 20])
    created = client.post("/api/experiments/reproduce",
                          json={"dataset": "textlen", "scale": "tiny", "access_rates": [5, 20]})
    assert created.status_code == 201, created.text
    experiment = created.json()
    assert experiment["kind"] == "reproduce" and experiment["name"] == request.name
    assert experiment["grid"] == request.settings()  # what the CLI compares on resume (reuse aside)
    assert experiment["progress"] == {"total": 9, "done": 0, "succeeded": 0, "collapsed": 0, "failed": 0,
                                      "cancelled": 0, "running": 0, "queued": 9, "workers": 0, "eta_s": None}
    ids = experiment["job_ids"]
    # Table 2's jobs come first in the queue, Table 3's after.
    jobs = {j["id"]: j for j in client.get(f"/api/jobs?experiment={experiment['id']}&limit=100").json()["items"]}
    assert [jobs[i]["spec"]["dataset"]["access_rate"] for i in ids] == [1.0] * 5 + [0.05, 0.2] * 2
    with db.session() as session:
        session.execute(update(Job).where(Job.id.in_(ids[:3])).values(status="succeeded", wall_s=60.0))
        session.execute(update(Job).where(Job.id == ids[3]).values(status="running", worker_id="w:1"))
        session.commit()
    progress = client.get(f"/api/experiments/{experiment['id']}").json()["progress"]
    assert (progress["done"], progress["succeeded"], progress["running"], progress["queued"]) == (3, 3, 1, 5)
    assert progress["eta_s"] == 60.0 * 6
    assert client.get("/api/experiments").json()[0]["progress"] == progress
    # Figure 3 over REST: only succeeded full-access jobs' current attempts count.
    with db.session() as session:
        session.add_all([CidPoint(job_id=ids[0], attempt=1, step=8, phase="live", value=0.25),
                         CidPoint(job_id=ids[0], attempt=0, step=8, phase="live", value=9.0),  # an old attempt
                         CidPoint(job_id=ids[3], attempt=1, step=8, phase="live", value=5.0)])  # running
        session.execute(update(Job).where(Job.id == ids[0]).values(attempt=1))
        session.commit()
    curves = client.get(f"/api/experiments/{experiment['id']}/cid").json()
    method = jobs[ids[0]]["method"]
    assert curves["rows"] == [{"dataset": "textlen", "step": 8, "phase": "live",
                               "methods": {method: {"mean": 0.25, "n": 1}}}]
    assert client.get("/api/experiments/999/cid").status_code == 404
    bad = client.post("/api/experiments/reproduce", json={"dataset": "textlen", "scale": "tiny", "access_rates": [0]})
    assert bad.status_code == 400 and "access rate 0" in bad.json()["detail"]


def test_preview_counts_what_reproduce_would_queue(client, db):
    body = {"dataset": "textlen", "scale": "cpu", "seeds": [1, 2], "access_rates": [10, 100]}
    preview = client.post("/api/experiments/reproduce/preview", json=body)  # needs no token: it queues nothing
    assert preview.status_code == 200, preview.text
    preview = preview.json()
    assert preview["jobs"] == 5 * 2 + 2 * 2 and preview["seeds"] == [1, 2]
    assert preview["jobs_by_method"] == {"finetune": 2, "adversarial": 2, "influence-tuning": 4,
                                         "embedding-tuning": 4, "no-confound": 2}
    minutes = SCALES["cpu"].minutes
    assert preview["estimated_s"] == pytest.approx(60 * sum(minutes[f"textlen/{m}"] * n
                                                            for m, n in preview["jobs_by_method"].items()))
    assert client.post("/api/experiments/reproduce/preview",
                       json={"dataset": "msgs", "scale": "tiny"}).json()["estimated_s"] is None
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Experiment)) == 0
    bad = client.post("/api/experiments/reproduce/preview", json={"dataset": "textlen", "access_rates": [150]})
    assert bad.status_code == 400 and "150" in bad.json()["detail"]


def test_a_subset_of_methods_runs_table_three_alone(client):
    body = {"dataset": "textlen", "scale": "cpu", "seeds": [2021], "access_rates": [5, 50, 100],
            "methods": ["embedding-tuning", "influence-tuning"]}
    preview = client.post("/api/experiments/reproduce/preview", json=body).json()
    # Each method at 100 % (Table 2's own run) and at 5 and 50 %; nothing of the other methods.
    assert preview["jobs_by_method"] == {"influence-tuning": 3, "embedding-tuning": 3}
    assert preview["name"] == "reproduce textlen cpu methods influence-tuning,embedding-tuning seeds 2021 access 5,50,100"
    every = client.post("/api/experiments/reproduce/preview",
                        json={**body, "methods": list(PROTOCOL_METHODS["textlen"])}).json()
    assert every["name"] == "reproduce textlen cpu seeds 2021 access 5,50,100" and every["jobs"] == 5 + 2 * 2
    for methods, words in ((["no-confound"], "'no-confound' is not in the msgs protocol"),
                           (["finetune"], "need influence-tuning or embedding-tuning")):
        bad = client.post("/api/experiments/reproduce/preview", json={"dataset": "msgs", "access_rates": [5],
                                                                      "methods": methods})
        assert bad.status_code == 400 and words in bad.json()["detail"]
    protocols = {p["dataset"]: p for p in client.get("/api/experiments/protocols").json()}
    assert protocols["msgs"]["methods"] == ["finetune", "adversarial", "influence-tuning", "embedding-tuning"]
    assert protocols["textlen"]["access_rate_methods"] == ["influence-tuning", "embedding-tuning"]


def test_cli_methods_flag_submits_only_those_methods(settings, capsys):
    code, out = _cli(settings, capsys, "--methods", "embedding-tuning", "--detach")
    assert code == 0, out
    jobs = _jobs(Database(settings.database_url))
    assert [(j.method, j.spec["dataset"]["access_rate"]) for j in jobs] == [("embedding-tuning", 1),
                                                                            ("embedding-tuning", 0.5)]
    assert "methods embedding-tuning" in out and "2 jobs, submitted" in out
    assert main(["reproduce", "msgs", "--methods", "no-confound", "--data-dir", str(settings.data_dir)]) == 2
    assert "'no-confound' is not in the msgs protocol" in capsys.readouterr().err


def test_reuse_copies_finished_identical_jobs_and_runs_only_the_new_ones(settings, capsys, client):
    code, out = _cli(settings, capsys, "--methods", "finetune,influence-tuning")  # 2 + 1 at 50 %
    assert code == 0, out
    db = Database(settings.database_url)
    first = {(j.method, j.spec["dataset"]["access_rate"]): j for j in _jobs(db)}
    assert len(first) == 3 and all(j.status == "succeeded" for j in first.values())
    body = {"dataset": "textlen", "scale": "tiny", "access_rates": [20, 50, 100],
            "methods": ["finetune", "influence-tuning"]}
    for reuse, reused in ((False, 0), (True, 3)):  # the form's line before launch
        preview = client.post("/api/experiments/reproduce/preview", json={**body, "reuse": reuse}).json()
        assert (preview["jobs"], preview["reused"]) == (4, reused), preview

    # Table 3 grows by 20 % access; with --reuse the three finished jobs are copied, not run again.
    code = main(["reproduce", "textlen", "--scale", "tiny", "--access-rates", "20,50,100", "--methods",
                 "finetune,influence-tuning", "--reuse", "--data-dir", str(settings.data_dir)])
    out = capsys.readouterr().out
    assert code == 0 and "4 jobs, submitted, 3 of them copies of identical finished jobs" in out, out
    second = [j for j in _jobs(db) if j.experiment_id == 2]
    started = [j for j in second if j.worker_id is not None]
    assert [(j.method, j.spec["dataset"]["access_rate"]) for j in started] == [("influence-tuning", 0.2)]
    with db.session() as session:
        for job in second:
            source = first.get((job.method, job.spec["dataset"]["access_rate"]))
            if source is None:
                continue
            assert job.metrics == source.metrics and job.spec == source.spec and job.attempt == 1
            for table in (ScalarPoint, CidPoint):
                rows = [session.scalars(select(table.value).where(table.job_id == j.id).order_by(table.id)).all()
                        for j in (job, source)]
                assert rows[0] == rows[1] and rows[0]
            lines = session.scalars(select(LogLine.message).where(LogLine.job_id == job.id)).all()
            assert f"copied from job {source.id} (an identical spec that had succeeded), not run again" in lines
    # --reuse says how the jobs were filled, not what the experiment is: without it, the same one.
    assert main(["reproduce", "textlen", "--scale", "tiny", "--access-rates", "20,50,100", "--methods",
                 "finetune,influence-tuning", "--data-dir", str(settings.data_dir)]) == 0
    assert "resumed (4 finished" in capsys.readouterr().out
