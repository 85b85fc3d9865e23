"""Drain rate: jobs per minute that 1, 2 and 4 worker processes take off a PostgreSQL queue.

For each worker count, a fresh database gets `--jobs` tiny jobs (the tests' 4-step job) and
that many `deconfound worker --exit-when-idle` processes are started. Two figures per count:
end to end (from starting the workers until the last one exits, so start-up included) and
steady state (from the first claim to the last finish, read from the jobs' own timestamps).
Also checked: every job ran once (attempt 1).

    .venv/bin/python benchmarks/service/drain_rate.py [--jobs 24] [--workers 1 2 4]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import support
from sqlalchemy import func, select

from backend.services.jobs import new_job
from backend.store.db import Database
from backend.store.models import Job
from jobs.spec import JobSpec

TINY_JOB = {"model": "tiny", "method": "finetune",
            "dataset": {"name": "textlen", "options": {"train_size": 64, "dev_size": 32, "test_size": 32}},
            "train": {"max_steps": 4, "eval_every": 2}, "diagnostics": {"probes": 4, "sample": 4, "cid_every": 2}}


def drain(workers: int, jobs: int, threads: int) -> dict[str, float]:
    with support.scratch_postgres() as url, tempfile.TemporaryDirectory() as tmp:
        db = Database(url)
        db.migrate()
        with db.session() as session:
            session.add_all(new_job(JobSpec.model_validate({**TINY_JOB, "seed": seed})) for seed in range(jobs))
            session.commit()
        env = support.service_env(Path(tmp), url, OMP_NUM_THREADS=str(threads))
        start = time.perf_counter()
        processes = support.start_workers(workers, env, "--exit-when-idle")
        for process in processes:
            process.wait()
        wall = time.perf_counter() - start
        with db.session() as session:
            first, last = session.execute(select(func.min(Job.started_at), func.max(Job.finished_at))).one()
            statuses = Counter(session.scalars(select(Job.status)))
            attempts = Counter(session.scalars(select(Job.attempt)))
            per_worker = Counter(session.scalars(select(Job.worker_id)))
        db.dispose()
    steady = (last - first).total_seconds()
    return {"workers": workers, "jobs": jobs, "end_to_end_s": wall, "jobs_per_min_end_to_end": jobs / wall * 60,
            "steady_s": steady, "jobs_per_min_steady": jobs / steady * 60, "statuses": dict(statuses),
            "attempts": dict(attempts), "jobs_per_worker": sorted(per_worker.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=24)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker (OMP_NUM_THREADS)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    results = []
    for workers in args.workers:
        figures = drain(workers, args.jobs, args.threads)
        results.append(figures)
        print(f"{workers} worker(s): {figures['jobs_per_min_end_to_end']:6.1f} jobs/min end to end "
              f"({figures['end_to_end_s']:.1f} s), {figures['jobs_per_min_steady']:6.1f} jobs/min steady; "
              f"statuses {figures['statuses']}, attempts {figures['attempts']}, "
              f"jobs per worker {figures['jobs_per_worker']}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
