"""The store: the recorder's batched writes, claims and leases, and reading the points back."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from backend.queue.claims import claim_next, finish, heartbeat
from backend.store.db import Database
from backend.store.models import CidPoint, Job, ResultValue, ScalarPoint
from backend.store.recorder import StoreRecorder
from jobs.contracts.cid import CidPoint as Cid
from jobs.contracts.results import JobResults
from jobs.recorder import InfluenceLists

from .conftest import TINY_JOB


def count(db: Database, table) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(table))


def queue_jobs(client, n: int) -> list[int]:
    return [client.post("/api/jobs", json=TINY_JOB).json()["id"] for _ in range(n)]


def test_recorder_batches_and_the_api_reads_back(client, db):
    [job_id] = queue_jobs(client, 1)
    claim = claim_next(db, "w1", lease_s=60)
    recorder = StoreRecorder(db, claim.job_id, claim.attempt, "w1")
    for step in range(1, 3001):
        recorder.scalar("loss/train", step, 1.0 / step)
        if step % 100 == 0:
            recorder.scalar("acc/dev", step, step / 3000)
    recorder.cid(Cid(step=0, phase="live", value=0.5, per_probe=[0.4, 0.6], extra={"probes": 2}))
    recorder.cid(Cid(step=100, phase="pre-round", value=0.3))
    recorder.cid(Cid(step=100, phase="post-round", value=float("nan")))
    recorder.influence(InfluenceLists(step=100, probe=3, a_index=[5, 6, 7], a_scores=[0.1, 0.9, 0.5],
                                      b_index=[8, 9], b_scores=[0.2, float("nan")]))
    recorder.influence(InfluenceLists(step=200, probe=3, a_index=[5], a_scores=[0.3], b_index=[8], b_scores=[0.4]))
    recorder.progress(3000, 3000, 1.5)
    assert count(db, ScalarPoint) == 0  # nothing written before a flush: calls only queue
    recorder.flush()
    assert count(db, ScalarPoint) == 3030 and count(db, CidPoint) == 3

    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["status"] == "running" and job["progress"] == {"step": 3000, "total": 3000, "eta_s": 1.5,
                                                              "eta_guessed": False, "phase": None}
    metrics = client.get(f"/api/jobs/{job_id}/metrics").json()
    assert metrics["names"] == ["acc/dev", "loss/train"] and metrics["last_step"] == 3000
    assert metrics["series"]["loss/train"]["steps"] == list(range(1, 3001))
    newer = client.get(f"/api/jobs/{job_id}/metrics?name=acc/dev&since_step=2800").json()
    assert newer["series"] == {"acc/dev": {"steps": [2900, 3000], "values": [2900 / 3000, 1.0]}}
    thin = client.get(f"/api/jobs/{job_id}/metrics?name=loss/train&max_points=100").json()["series"]["loss/train"]
    assert 90 <= len(thin["steps"]) <= 101 and thin["steps"][0] == 1 and thin["steps"][-1] == 3000

    cid = client.get(f"/api/jobs/{job_id}/cid").json()["points"]
    assert [(p["step"], p["phase"], p["value"]) for p in cid] == [(0, "live", 0.5), (100, "pre-round", 0.3),
                                                                  (100, "post-round", None)]
    assert cid[0]["per_probe"] == [0.4, 0.6] and cid[0]["extra"] == {"p_median": None, "probes": 2}
    assert [p["phase"] for p in client.get(f"/api/jobs/{job_id}/cid?phase=pre-round").json()["points"]] == ["pre-round"]

    lists = client.get(f"/api/jobs/{job_id}/influence?step=100&k=2").json()
    assert lists["probes"] == [3] and lists["steps"] == [100, 200] and lists["b_scores"] == [0.2, None]
    assert [e["index"] for e in lists["top_a"]] == [6, 7] and [e["index"] for e in lists["top_b"]] == [8]
    textlen = client.get(f"/api/jobs/{job_id}/influence?step=100&k=1").json()
    assert textlen["top_a"][0]["text"].split()[0] in ("Positive", "Negative")  # the job's own training texts
    assert textlen["top_a"][0]["label"] in ("short", "long") and textlen["probe_text"]
    assert client.get(f"/api/jobs/{job_id}/influence").json()["step"] == 200  # the latest by default
    assert "recorded steps: 100, 200" in client.get(f"/api/jobs/{job_id}/influence?step=150").json()["detail"]
    assert "recorded probes: 3" in client.get(f"/api/jobs/{job_id}/influence?probe=9").json()["detail"]

    recorder.result(JobResults.model_validate({
        "test": {"acc": 0.75, "per_group": {"a|b": 0.5}, "worst_group_acc": 0.5}, "cid": 0.1, "collapsed": False,
        "note": "text is kept in metrics only"}))
    results = client.get(f"/api/jobs/{job_id}/results").json()
    rows = {(r["split"], r["group"], r["metric"]): r["value"] for r in results["rows"]}
    assert rows == {("test", None, "acc"): 0.75, ("test", None, "worst_group_acc"): 0.5, ("test", "a|b", "acc"): 0.5,
                    (None, None, "cid"): 0.1, (None, None, "collapsed"): 0.0}
    assert results["metrics"]["note"] == "text is kept in metrics only"


def test_the_rest_job_names_the_phase_while_the_step_0_cid_is_measured(client, db):
    """A real run through the store recorder, read over REST in the middle of its first CID point:
    the job says what it is doing, with the step count, before any CID point or label step exists."""
    from jobs.runner import run
    from jobs.spec import JobSpec

    [job_id] = queue_jobs(client, 1)
    claim = claim_next(db, "w1", lease_s=60)
    seen: list[tuple[dict, list]] = []

    class ReadingBack(StoreRecorder):
        """Flushes at the first progress point inside the step-0 CID and reads the job back then."""

        def progress(self, step, total, eta_s, phase=None, eta_guessed=False):
            super().progress(step, total, eta_s, phase, eta_guessed)
            if not seen and (phase or "").startswith("measuring CID (step 0): "):
                self.flush()
                seen.append((client.get(f"/api/jobs/{job_id}").json()["progress"],
                             client.get(f"/api/jobs/{job_id}/cid").json()["points"]))

    spec = JobSpec(**{**claim.spec, "diagnostics": {"probes": 4, "sample": 16, "cid_every": 2}})
    recorder = ReadingBack(db, claim.job_id, claim.attempt, "w1")
    outcome = run(spec, recorder, should_stop=lambda: bool(seen))  # stops before the first label step
    assert outcome.status == "cancelled" and seen
    progress, cid_points = seen[0]
    assert progress["phase"].startswith("measuring CID (step 0): ") and progress["phase"].endswith(" examples")
    assert (progress["step"], progress["total"]) == (0, 4) and cid_points == []


def test_a_full_queue_flushes_itself(client, db):
    queue_jobs(client, 1)
    claim = claim_next(db, "w1", lease_s=60)
    recorder = StoreRecorder(db, claim.job_id, claim.attempt, "w1", max_queued=100)
    for step in range(250):
        recorder.scalar("loss/train", step, 0.5)
    assert count(db, ScalarPoint) == 200


def test_a_worker_that_lost_its_lease_writes_nothing(client, db):
    [job_id] = queue_jobs(client, 1)
    first = claim_next(db, "w1", lease_s=60)
    old = StoreRecorder(db, first.job_id, first.attempt, "w1")
    old.scalar("loss/train", 1, 0.9)
    old.flush()
    time.sleep(0.05)
    second = claim_next(db, "w2", lease_s=0.01)  # w1's heartbeat is older than the lease: taken over
    assert (second.job_id, second.attempt) == (job_id, 2)
    assert client.get(f"/api/jobs/{job_id}/metrics?name=loss/train").json()["series"] == {}  # not the new attempt's
    StoreRecorder(db, second.job_id, second.attempt, "w2").begin(None)  # starting afresh: the partial points go
    assert count(db, ScalarPoint) == 0
    old.scalar("loss/train", 2, 0.8)
    old.flush()
    assert old.lost and count(db, ScalarPoint) == 0
    old.begin(None)
    assert old.lost
    assert heartbeat(db, first) == "lost" and not finish(db, first, "succeeded")
    assert heartbeat(db, second) == "running"
    client.post(f"/api/jobs/{job_id}/cancel")
    assert heartbeat(db, second) == "cancel"
    assert finish(db, second, "cancelled")
    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["status"] == "cancelled" and job["worker_id"] == "w2" and job["attempt"] == 2


def test_a_resumed_attempt_keeps_the_rows_its_checkpoint_covers(client, db):
    [job_id] = queue_jobs(client, 1)
    first = claim_next(db, "w1", lease_s=60)
    old = StoreRecorder(db, job_id, first.attempt, "w1")
    old.begin(None)
    for step in (1, 2):
        old.scalar("loss/train", step, 1.0 / step)
    old.cid(Cid(step=2, phase="live", value=0.5))
    old.log("before the checkpoint")
    mark = old.checkpoint(2)  # flushes: the rows above are in the store, and the mark covers them
    old.scalar("loss/train", 3, 0.3)  # after the checkpoint: a resumed run records it again
    old.cid(Cid(step=3, phase="live", value=0.4))
    old.flush()
    time.sleep(0.05)
    second = claim_next(db, "w2", lease_s=0.01)
    StoreRecorder(db, job_id, second.attempt, "w2").begin(mark)
    series = client.get(f"/api/jobs/{job_id}/metrics?name=loss/train").json()["series"]["loss/train"]
    assert series["steps"] == [1, 2] and series["values"] == [1.0, 0.5]
    assert [p["step"] for p in client.get(f"/api/jobs/{job_id}/cid").json()["points"]] == [2]
    assert [line["message"] for line in client.get(f"/api/jobs/{job_id}/logs").json()["lines"]] == \
        ["before the checkpoint"]
    assert count(db, ScalarPoint) == 2 and count(db, CidPoint) == 1  # the later rows are gone, not hidden


def test_lost_jobs_are_cancelled_or_failed_instead_of_rerun(client, db):
    cancelled, exhausted, fresh = queue_jobs(client, 3)
    for worker in ("w1", "w2"):
        claim_next(db, worker, lease_s=60)
    with db.session() as session:
        session.execute(update(Job).where(Job.id == cancelled).values(cancel_requested=True))
        session.execute(update(Job).where(Job.id == exhausted).values(attempt=3))
        session.commit()
    time.sleep(0.05)
    claim = claim_next(db, "w3", lease_s=0.01, max_attempts=3)
    assert claim.job_id == fresh
    assert client.get(f"/api/jobs/{cancelled}").json()["status"] == "cancelled"
    failed = client.get(f"/api/jobs/{exhausted}").json()
    assert failed["status"] == "failed" and "lost 3 times" in failed["error"]


def test_concurrent_claims_on_sqlite_take_each_job_once(client, settings):
    job_ids = queue_jobs(client, 30)
    claimed: list[tuple[str, int]] = []
    lock = threading.Lock()

    def claimer(name: str):
        db = Database(settings.database_url)  # a connection pool of its own, like another process
        while (claim := claim_next(db, name, lease_s=60)) is not None:
            with lock:
                claimed.append((name, claim.job_id))
        db.dispose()

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(job for _, job in claimed) == job_ids
    jobs = client.get("/api/jobs?limit=100").json()["items"]
    assert all(j["status"] == "running" and j["attempt"] == 1 for j in jobs)
    assert {j["id"]: j["worker_id"] for j in jobs} == {job: name for name, job in claimed}


def test_cancelling_a_job_whose_worker_is_gone_is_immediate(client, db, settings):
    [job_id] = queue_jobs(client, 1)
    claim_next(db, "w1", lease_s=60)
    assert client.post(f"/api/jobs/{job_id}/cancel").json()["status"] == "running"  # its worker will stop it
    with db.session() as session:
        job = session.get(Job, job_id)
        job.heartbeat_at -= timedelta(seconds=settings.lease_s + 1)  # its worker died a lease ago
        session.commit()
    cancelled = client.post(f"/api/jobs/{job_id}/cancel").json()
    assert cancelled["status"] == "cancelled" and cancelled["worker_id"] is None


def test_a_failed_flush_keeps_its_rows_for_the_next(client, db, settings):
    queue_jobs(client, 1)
    claim = claim_next(db, "w1", lease_s=60)
    broken = Database(f"sqlite:///{settings.data_dir / 'missing-dir' / 'x' / 'no.db'}")
    recorder = StoreRecorder(broken, claim.job_id, claim.attempt, "w1")
    for step in range(5):
        recorder.scalar("loss/train", step, 0.1)
    recorder.result(JobResults(cid=0.2))  # its own flush fails quietly: training must go on
    with pytest.raises(OperationalError):  # no tables there
        recorder.flush()
    recorder.db = db
    recorder.flush()
    assert count(db, ScalarPoint) == 5 and count(db, ResultValue) == 1
