"""Jobs: submit (checked against this server), list, read, cancel and delete, in the store.

Raises the kinds of backend.services.errors; the routes (backend.api.jobs) only parse and shape.
"""
from __future__ import annotations

import shutil
from datetime import timedelta

from pydantic import ValidationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from backend.services.errors import Conflict, InvalidSpec, NotFound, Rejected
from backend.services.lineage import artifact_parent
from backend.services.submission import accepted_spec, check_spec
from backend.settings import Settings
from backend.store.db import Database
from backend.store.models import POINT_TABLES, Job, utcnow
from backend.store.paths import inside
from jobs.contracts.enums import FINISHED_STATUSES, JOB_STATUSES, JobStatus
from jobs.contracts.json_value import JsonObject
from jobs.spec import JobSpec


def new_job(spec: JobSpec, experiment_id: int | None = None, params: dict | None = None,
            parent_job_id: int | None = None) -> Job:
    """A queued job row for an accepted spec (not yet added to a session); parent_job_id: the job
    it is made from (backend.services.lineage)."""
    return Job(spec=spec.model_dump(mode="json"), dataset=spec.dataset.name, method=spec.method,
               model=spec.model, seed=spec.seed, experiment_id=experiment_id, params=params or {},
               parent_job_id=parent_job_id, status=JobStatus.QUEUED, attempt=0, cancel_requested=False, created_at=utcnow())


def checked_spec(raw: JsonObject, settings: Settings, session: Session, prefix: tuple = ("body",)) -> JobSpec:
    """A spec given as a dict (a grid point, a follow-up): JobSpec, then this server's checks.
    Raises InvalidSpec (its errors under `prefix`) or Rejected."""
    try:
        return check_spec(raw, settings.data_dir, session)
    except ValidationError as error:
        raise InvalidSpec(error, prefix) from None


def submit(spec: JobSpec, settings: Settings, session: Session) -> Job:
    """Queue a validated spec once this server accepts it (Rejected otherwise)."""
    accepted = accepted_spec(spec, settings.data_dir, session)
    job = new_job(accepted, parent_job_id=artifact_parent(session, accepted))
    session.add(job)
    session.commit()
    return job


def get_job(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


def list_jobs(session: Session, status: str | None, dataset: str | None, method: str | None,
              experiment: int | None, limit: int, offset: int) -> tuple[list[Job], int]:
    """A page of jobs, newest first, and how many match."""
    if status is not None and status not in JOB_STATUSES:
        raise Rejected(f"unknown status '{status}'; valid: {', '.join(JOB_STATUSES)}")
    query = select(Job)
    for column, value in ((Job.status, status), (Job.dataset, dataset), (Job.method, method),
                          (Job.experiment_id, experiment)):
        if value is not None:
            query = query.where(column == value)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    jobs = session.scalars(query.order_by(Job.id.desc()).limit(limit).offset(offset)).all()
    return list(jobs), total


def _locked(session: Session, job_id: int) -> Job:
    job = session.scalars(select(Job).where(Job.id == job_id).with_for_update()).first()
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


def cancel(db: Database, settings: Settings, job_id: int, then=lambda job: job):
    """A queued job is cancelled at once; a running one is asked to stop (its worker checks every
    heartbeat); one whose worker is gone (no heartbeat for a lease) is cancelled at once.
    Returns then(job) inside the transaction."""
    with db.writing() as session:
        job = _locked(session, job_id)
        if job.status in FINISHED_STATUSES:
            raise Conflict(f"job {job_id} has already finished ({job.status})")
        now = utcnow()
        stale = job.heartbeat_at is not None and job.heartbeat_at < now - timedelta(seconds=settings.lease_s)
        if job.status == JobStatus.QUEUED or stale:  # nobody is running it: cancelled now
            job.status, job.finished_at, job.worker_id = JobStatus.CANCELLED, now, None
        job.cancel_requested = True
        session.flush()
        return then(job)


def delete_finished(db: Database, settings: Settings, job_id: int) -> None:
    """Delete a finished job with all its points, results, its saved model and any checkpoint."""
    with db.writing() as session:
        job = _locked(session, job_id)
        if job.status not in FINISHED_STATUSES:
            raise Conflict(f"job {job_id} is {job.status}; only finished jobs can be deleted (cancel it first)")
        for table in POINT_TABLES:
            session.execute(delete(table).where(table.job_id == job_id))
        session.execute(update(Job).where(Job.parent_job_id == job_id).values(parent_job_id=None))
        session.delete(job)
    shutil.rmtree(inside(settings.data_dir, settings.artifact_dir(job_id), "artifact dir"), ignore_errors=True)
    shutil.rmtree(inside(settings.data_dir, settings.checkpoint_dir(job_id), "checkpoint dir"), ignore_errors=True)
