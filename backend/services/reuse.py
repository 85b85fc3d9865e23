"""Reusing finished runs: a new experiment's job whose spec equals a job that already succeeded
(in any earlier experiment) is filled in with a copy of that run instead of being queued again.

    reuse_finished(session, new_jobs)     # each job with a finished twin becomes its copy

Adding Table 3 to a finished Table 2 (`deconfound reproduce textlen --scale cpu --access-rates
5,10 --reuse`) then runs only the new access-rate jobs. Opt-in, because "the same spec" does not
mean "the same code": a copied run is what the engine gave when it ran.

A copy holds the source's final metrics, status and wall time, and every row its current attempt
recorded (curves, CID points, A/B lists, results, log lines, diagnostics), under the new job's
id as attempt 1, plus a log line naming the source. Saved models are not copied: they stay the
source job's (GET /api/jobs/{source}/results).
"""
from __future__ import annotations

from sqlalchemy import insert, literal, select
from sqlalchemy.orm import Session

from backend.store.models import Job, LogLine, ResultValue, utcnow
from backend.store.recorder import TRAINING_TABLES
from jobs.contracts.enums import JobStatus

# What a run recorded: its training rows and its final results (saved models stay the source's).
COPIED_TABLES = (*TRAINING_TABLES, ResultValue)


def finished_twin(session: Session, job: Job) -> Job | None:
    """The newest succeeded job whose spec equals `job`'s."""
    candidates = session.scalars(
        select(Job).where(Job.status == JobStatus.SUCCEEDED, Job.method == job.method, Job.seed == job.seed,
                          Job.dataset == job.dataset, Job.model == job.model, Job.id != job.id)
        .order_by(Job.id.desc()))
    return next((found for found in candidates if found.spec == job.spec), None)


def copy_run(session: Session, source: Job, target: Job) -> None:
    """Make `target` (a job just added, queued) a finished copy of `source`'s run."""
    now = utcnow()
    target.status, target.attempt, target.metrics, target.wall_s = source.status, 1, source.metrics, source.wall_s
    target.started_at, target.finished_at, target.heartbeat_at = now, now, now
    target.progress_step, target.progress_total, target.eta_s = source.progress_step, source.progress_total, 0.0
    session.flush()
    for table in COPIED_TABLES:
        columns = [c for c in table.__table__.columns if c.name not in ("id", "job_id", "attempt")]
        rows = select(literal(target.id), literal(1), *columns).where(
            table.job_id == source.id, table.attempt == source.attempt).order_by(table.id)
        session.execute(insert(table).from_select(["job_id", "attempt", *[c.name for c in columns]], rows))
    session.add(LogLine(job_id=target.id, attempt=1, created_at=now,
                        message=f"copied from job {source.id} (an identical spec that had succeeded), not run again"))


def reuse_finished(session: Session, jobs: list[Job]) -> None:
    """Fill in each of `jobs` (flushed, queued) that has a finished twin with a copy of its run."""
    for job in jobs:
        source = finished_twin(session, job)
        if source is not None:
            copy_run(session, source, job)
