"""The store on the real PostgreSQL: three worker processes drain twelve jobs, each run exactly once."""
from __future__ import annotations

from collections import Counter

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend.api import create_app
from backend.store.db import Database
from backend.store.models import LogLine, ScalarPoint
from tests.helpers import wait_exit

from .conftest import TINY_JOB, make_settings, worker_log


def test_three_workers_drain_twelve_jobs_each_exactly_once(tmp_path, pg_url, spawn_worker):
    settings = make_settings(tmp_path / "data", database_url=pg_url)
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        assert client.get("/healthz").json()["database"] == "postgresql"
        job_ids = [client.post("/api/jobs", json={**TINY_JOB, "seed": seed}).json()["id"] for seed in range(12)]
        workers = [spawn_worker(settings, "--exit-when-idle") for _ in range(3)]
        for worker in workers:
            assert wait_exit(worker) == 0, worker_log(worker)
        jobs = client.get("/api/jobs?limit=100").json()["items"]
        assert sorted(j["id"] for j in jobs) == job_ids
        assert all(j["status"] in ("succeeded", "collapsed") and j["attempt"] == 1 for j in jobs), jobs
        ran_by = Counter(j["worker_id"] for j in jobs)
        assert sum(ran_by.values()) == 12 and len(ran_by) <= 3

    db = Database(pg_url)
    with db.session() as session:
        # Every job's engine started once ("attempt 1: ..." is the runner's first line) ...
        starts = Counter(session.scalars(select(LogLine.job_id).where(LogLine.message.like("attempt 1:%"))))
        assert starts == Counter({job_id: 1 for job_id in job_ids})
        # ... and wrote each of its points once.
        duplicates = session.execute(select(ScalarPoint.job_id, ScalarPoint.name, ScalarPoint.step)
                                     .group_by(ScalarPoint.job_id, ScalarPoint.name, ScalarPoint.step)
                                     .having(func.count() > 1)).all()
        assert duplicates == []
        assert session.scalar(select(func.count(func.distinct(ScalarPoint.job_id)))) == 12
    db.dispose()
