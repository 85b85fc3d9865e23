"""Jobs: submit, list, read, cancel, delete (routes over backend.services.jobs)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy.orm import Session, object_session

from backend.api.deps import (
    BODY_413,
    MAX_INT,
    TOKEN_401,
    Id,
    get_db,
    get_session,
    get_settings,
    require_token,
)
from backend.services import jobs as service
from backend.services.lineage import lineage, lineages
from backend.settings import Settings
from backend.store.db import Database
from jobs.contracts.api import JobList, JobOut
from jobs.contracts.enums import JOB_STATUSES
from jobs.spec import JobSpec

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

# What the service may still refuse once JobSpec has validated the body (backend.services.submission).
REJECTED_400 = {400: {"description": "the spec is well formed but this server cannot run it: a model that is no "
                                     "built-in, directory under the data directory or (hub reachable) hub name; a "
                                     "file or upload that does not exist or lies outside the data directory; a custom "
                                     "dataset without a path; an influence-tuning run with no round"}}
INVALID_422 = {422: {"description": "the spec does not fit JobSpec: a bound, NaN/Infinity, a seed outside 0..2^32-1, "
                                    "an unknown dataset, method or preset (naming the valid ones); located by field"}}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=JobOut, dependencies=[Depends(require_token)],
             responses={**TOKEN_401, **BODY_413, **REJECTED_400, **INVALID_422})
def submit_job(spec: JobSpec, session: Session = Depends(get_session),
               settings: Settings = Depends(get_settings)) -> JobOut:
    """Queue a job. The body is a job spec (JobSpec); a preset fills in what it does not say."""
    job = service.submit(spec, settings, session)
    return JobOut.of(job, lineage(session, job))


@router.get("", response_model=JobList, responses={400: {"description": "an unknown status"}})
def list_jobs(status_: str | None = Query(None, alias="status", description=f"one of {', '.join(JOB_STATUSES)}"),
              dataset: str | None = None, method: str | None = None,
              experiment: int | None = Query(None, ge=0, le=MAX_INT, description="experiment id"),
              limit: int = Query(50, ge=1, le=1000), offset: int = Query(0, ge=0, le=MAX_INT),
              session: Session = Depends(get_session)) -> JobList:
    """Jobs, newest first, filtered and paginated."""
    jobs, total = service.list_jobs(session, status_, dataset, method, experiment, limit, offset)
    found = lineages(session, jobs)
    return JobList(items=[JobOut.of(j, found[j.id]) for j in jobs], total=total, limit=limit, offset=offset)


@router.get("/{job_id}", response_model=JobOut, responses={404: {"description": "no such job"}})
def read_job(job_id: Id, session: Session = Depends(get_session)) -> JobOut:
    job = service.get_job(session, job_id)
    return JobOut.of(job, lineage(session, job))


@router.post("/{job_id}/cancel", response_model=JobOut, dependencies=[Depends(require_token)],
             responses={**TOKEN_401, 404: {"description": "no such job"},
                        409: {"description": "the job has already finished"}})
def cancel_job(job_id: Id, db: Database = Depends(get_db), settings: Settings = Depends(get_settings)) -> JobOut:
    """A queued job is cancelled at once; a running one stops within a few seconds (its worker
    checks every heartbeat) and is then recorded as cancelled; one whose worker is gone (no
    heartbeat for a lease) is cancelled at once."""
    return service.cancel(db, settings, job_id, then=lambda job: JobOut.of(job, lineage(object_session(job), job)))


@router.delete("/{job_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[Depends(require_token)],
               responses={**TOKEN_401, 404: {"description": "no such job"},
                          409: {"description": "the job has not finished: cancel it first"}})
def delete_job(job_id: Id, db: Database = Depends(get_db), settings: Settings = Depends(get_settings)) -> Response:
    """Delete a finished job with all its points, results, its saved model and any checkpoint."""
    service.delete_finished(db, settings, job_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
