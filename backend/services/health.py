"""Liveness: the database answers, and how many jobs wait and run."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.store.models import Job
from jobs.contracts.catalogue import HealthOut
from jobs.contracts.enums import JobStatus


def health(session: Session) -> HealthOut:
    counts = dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
    workers = session.scalars(select(Job.worker_id).where(Job.status == JobStatus.RUNNING).distinct()).all()
    return HealthOut(status="ok", database=session.get_bind().dialect.name, jobs=counts,
                     busy_workers=sorted(w for w in workers if w))
