"""Jobs: submit, list, read, cancel, delete."""
from __future__ import annotations

import shutil
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from backend.api.deps import get_db, get_session, get_settings, require_token
from backend.api.schemas import JobList, JobOut
from backend.db import Database
from backend.models import FINISHED_STATUSES, JOB_STATUSES, POINT_TABLES, Job, utcnow
from backend.paths import inside
from backend.settings import Settings
from backend.submission import Rejected, accepted_spec, check_spec
from jobs.spec import JobSpec

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

# What the service may still refuse once JobSpec has validated the body (backend.submission).
REJECTED_400 = {400: {"description": "the spec is well formed but this server cannot run it: a model that is no "
                                     "built-in, directory under the data directory or (hub reachable) hub name; a "
                                     "file or upload that does not exist or lies outside the data directory; a custom "
                                     "dataset without a path; an influence-tuning run with no round"}}
INVALID_422 = {422: {"description": "the spec does not fit JobSpec: a bound, NaN/Infinity, a seed outside 0..2^32-1, "
                                    "an unknown dataset, method or preset (naming the valid ones); located by field"}}


def validation_error(error: ValidationError, prefix: tuple = ("body",)) -> RequestValidationError:
    """pydantic's errors as FastAPI's 422, each located in the request body."""
    return RequestValidationError([{**e, "loc": (*prefix, *e["loc"])}
                                   for e in error.errors(include_url=False, include_context=False)])


def accepted(spec: JobSpec, settings: Settings, session: Session) -> JobSpec:
    """A body JobSpec checked against this server (backend.submission), or the 400 for it."""
    try:
        return accepted_spec(spec, settings.data_dir, session)
    except Rejected as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None


def checked_spec(raw: dict[str, Any], settings: Settings, session: Session, prefix: tuple = ("body",)) -> JobSpec:
    """A spec given as a dict (a grid point, a follow-up) through backend.submission.check_spec:
    the same checks as a typed body, its 422s located under `prefix`, its refusals 400."""
    try:
        return check_spec(raw, settings.data_dir, session)
    except ValidationError as error:
        raise validation_error(error, prefix) from None
    except Rejected as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None


def new_job(spec: JobSpec, experiment_id: int | None = None, params: dict | None = None) -> Job:
    return Job(spec=spec.model_dump(mode="json"), dataset=spec.dataset.name, method=spec.method,
               model=spec.model, seed=spec.seed, experiment_id=experiment_id, params=params or {},
               status="queued", attempt=0, cancel_requested=False, created_at=utcnow())


def get_job(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job {job_id}")
    return job


@router.post("", status_code=status.HTTP_201_CREATED, response_model=JobOut, dependencies=[Depends(require_token)],
             responses={**REJECTED_400, **INVALID_422})
def submit_job(spec: JobSpec, session: Session = Depends(get_session),
               settings: Settings = Depends(get_settings)) -> JobOut:
    """Queue a job. The body is a job spec (JobSpec); a preset fills in what it does not say."""
    job = new_job(accepted(spec, settings, session))
    session.add(job)
    session.commit()
    return JobOut.of(job)


@router.get("", response_model=JobList)
def list_jobs(status_: str | None = Query(None, alias="status", description=f"one of {', '.join(JOB_STATUSES)}"),
              dataset: str | None = None, method: str | None = None,
              experiment: int | None = Query(None, description="experiment id"),
              limit: int = Query(50, ge=1, le=1000), offset: int = Query(0, ge=0),
              session: Session = Depends(get_session)) -> JobList:
    """Jobs, newest first, filtered and paginated."""
    if status_ is not None and status_ not in JOB_STATUSES:
        raise HTTPException(status.HTTP_400_BAD_REQUEST,
                            f"unknown status '{status_}'; valid: {', '.join(JOB_STATUSES)}")
    query = select(Job)
    for column, value in ((Job.status, status_), (Job.dataset, dataset), (Job.method, method),
                          (Job.experiment_id, experiment)):
        if value is not None:
            query = query.where(column == value)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    jobs = session.scalars(query.order_by(Job.id.desc()).limit(limit).offset(offset)).all()
    return JobList(items=[JobOut.of(j) for j in jobs], total=total, limit=limit, offset=offset)


@router.get("/{job_id}", response_model=JobOut)
def read_job(job_id: int, session: Session = Depends(get_session)) -> JobOut:
    return JobOut.of(get_job(session, job_id))


@router.post("/{job_id}/cancel", response_model=JobOut, dependencies=[Depends(require_token)],
             responses={409: {"description": "the job has already finished"}})
def cancel_job(job_id: int, db: Database = Depends(get_db), settings: Settings = Depends(get_settings)) -> JobOut:
    """A queued job is cancelled at once; a running one stops within a few seconds (its worker
    checks every heartbeat) and is then recorded as cancelled; one whose worker is gone (no
    heartbeat for a lease) is cancelled at once."""
    with db.writing() as session:
        job = session.scalars(select(Job).where(Job.id == job_id).with_for_update()).first()
        if job is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job {job_id}")
        if job.status in FINISHED_STATUSES:
            raise HTTPException(status.HTTP_409_CONFLICT, f"job {job_id} has already finished ({job.status})")
        now = utcnow()
        stale = job.heartbeat_at is not None and job.heartbeat_at < now - timedelta(seconds=settings.lease_s)
        if job.status == "queued" or stale:  # nobody is running it: cancelled now
            job.status, job.finished_at, job.worker_id = "cancelled", now, None
        job.cancel_requested = True
        session.flush()
        return JobOut.of(job)


@router.delete("/{job_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[Depends(require_token)],
               responses={409: {"description": "the job has not finished: cancel it first"}})
def delete_job(job_id: int, db: Database = Depends(get_db), settings: Settings = Depends(get_settings)) -> Response:
    """Delete a finished job with all its points, results, its saved model and any checkpoint."""
    with db.writing() as session:
        job = session.scalars(select(Job).where(Job.id == job_id).with_for_update()).first()
        if job is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job {job_id}")
        if job.status not in FINISHED_STATUSES:
            raise HTTPException(status.HTTP_409_CONFLICT,
                                f"job {job_id} is {job.status}; only finished jobs can be deleted (cancel it first)")
        for table in POINT_TABLES:
            session.execute(delete(table).where(table.job_id == job_id))
        session.delete(job)
    shutil.rmtree(inside(settings.data_dir, settings.artifact_dir(job_id), "artifact dir"), ignore_errors=True)
    shutil.rmtree(inside(settings.data_dir, settings.checkpoint_dir(job_id), "checkpoint dir"), ignore_errors=True)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
