"""A job's life in SQL: claim, heartbeat, finish, release.

A worker claims the oldest claimable job: queued, or running with a heartbeat older than the
lease (its worker died). The claim is atomic: on PostgreSQL the candidate row is locked with
FOR UPDATE SKIP LOCKED, so concurrent workers pass over each other's rows; on SQLite the
transaction holds the write lock from its start (BEGIN IMMEDIATE), so claims are serialised.
Either way the UPDATE is also a compare-and-set on (status, attempt).

A job's `wall_s` counts every attempt: an attempt that ends (finish, release, or a lost worker
found out at a claim or by requeue_lost) adds its time to it; a lost attempt's time is its
start to its last heartbeat. A job taken up from a lost worker is claimed with `lost=True`, so
its log can say "worker lost; resumed from step N (attempt k)".

Claiming bumps the job's attempt; readers show only the current attempt's rows, and the new
attempt's recorder (backend.store.recorder.StoreRecorder.begin) deletes the older ones, keeping those a
checkpoint it resumes from covers. Every later write of the worker is guarded by (attempt,
worker id): a worker that lost its lease cannot touch the job again.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, true, update

from backend.store.db import Database
from backend.store.models import Job, utcnow
from jobs.contracts.enums import ACTIVE_STATUSES, JobStatus, StrEnum
from jobs.contracts.json_value import JsonObject


@dataclass(frozen=True)
class Claim:
    job_id: int
    attempt: int
    worker_id: str
    spec: JsonObject
    lost: bool = False  # the previous attempt's worker was lost (killed, gone): this one takes over


# The phase of a job put back in the queue because its worker was lost (requeue_lost); its next
# claim reads it as a takeover.
LOST_PHASE = "worker lost; waiting for a worker to resume it"


def _span_s(started_at, ended_at) -> float:
    """Seconds from an attempt's start to its end (0 where either is unknown)."""
    if started_at is None or ended_at is None:
        return 0.0
    return max(0.0, (ended_at - started_at).total_seconds())


def _owned(claim: Claim):
    return and_(Job.id == claim.job_id, Job.attempt == claim.attempt, Job.worker_id == claim.worker_id,
                Job.status == JobStatus.RUNNING)


def claim_next(db: Database, worker_id: str, lease_s: float, max_attempts: int = 3,
               experiment_id: int | None = None) -> Claim | None:
    """Take the oldest claimable job for `worker_id` (of one experiment, when given), or None."""
    now = utcnow()
    expired = and_(Job.status == JobStatus.RUNNING, Job.heartbeat_at < now - timedelta(seconds=lease_s))
    with db.writing() as session:
        # Jobs whose worker died: a cancel asked for meanwhile wins; too many lost attempts fail.
        session.execute(update(Job).where(expired, Job.cancel_requested.is_(True))
                        .values(status=JobStatus.CANCELLED, finished_at=now, worker_id=None))
        session.execute(update(Job).where(expired, Job.attempt >= max_attempts)
                        .values(status=JobStatus.FAILED, finished_at=now, worker_id=None,
                                error=f"the job's worker was lost {max_attempts} times (killed, out of memory?)"))
        row = session.execute(
            select(Job.id, Job.status, Job.attempt, Job.spec, Job.started_at, Job.heartbeat_at, Job.wall_s,
                   Job.progress_phase)
            .where(or_(Job.status == JobStatus.QUEUED, expired),
                   true() if experiment_id is None else Job.experiment_id == experiment_id)
            .order_by(Job.id).limit(1).with_for_update(skip_locked=True, of=Job)).first()
        if row is None:
            return None
        attempt = row.attempt + 1
        lost = row.status == JobStatus.RUNNING or row.progress_phase == LOST_PHASE
        wall_s = row.wall_s
        if row.status == JobStatus.RUNNING:  # its worker died: its time counts up to its last heartbeat
            wall_s = (wall_s or 0.0) + _span_s(row.started_at, row.heartbeat_at)
        taken = session.execute(
            update(Job).where(Job.id == row.id, Job.status == row.status, Job.attempt == row.attempt)
            .values(status=JobStatus.RUNNING, attempt=attempt, worker_id=worker_id, started_at=now, heartbeat_at=now,
                    finished_at=None, error=None, metrics=None, progress_step=None, progress_total=None,
                    eta_s=None, progress_phase=None, eta_guessed=None, wall_s=wall_s)).rowcount
        if not taken:
            return None
        return Claim(row.id, attempt, worker_id, row.spec, lost=lost)


class Lease(StrEnum):
    """What a heartbeat found: the job still ours and running, a cancel asked for, or the job lost
    (another worker took it over, or it ended meanwhile)."""

    HELD = "running"
    CANCEL = "cancel"
    LOST = "lost"


def heartbeat(db: Database, claim: Claim) -> Lease:
    """Renew the lease."""
    with db.writing() as session:
        row = session.execute(update(Job).where(_owned(claim)).values(heartbeat_at=utcnow())
                              .returning(Job.cancel_requested)).first()
    if row is None:
        return Lease.LOST
    return Lease.CANCEL if row.cancel_requested else Lease.HELD


def finish(db: Database, claim: Claim, status: JobStatus, error: str | None = None, wall_s: float | None = None,
           artifacts: list[Any] = ()) -> bool:
    """Record the end of the attempt (and its artifacts); False if the job was no longer ours.
    wall_s: this attempt's seconds, added to those of the earlier attempts."""
    now = utcnow()
    total = Job.wall_s if wall_s is None else func.coalesce(Job.wall_s, 0.0) + wall_s
    with db.writing() as session:
        owned = session.execute(update(Job).where(_owned(claim)).values(
            status=status, error=error, wall_s=total, finished_at=now, heartbeat_at=now)).rowcount
        if owned:
            session.add_all(artifacts)
        return bool(owned)


def release(db: Database, claim: Claim) -> bool:
    """Put a job back in the queue (its worker is shutting down); the next claim resumes it from
    its checkpoint. The attempt's time so far goes into wall_s."""
    now = utcnow()
    with db.writing() as session:
        row = session.execute(select(Job.started_at, Job.wall_s).where(_owned(claim))).first()
        if row is None:
            return False
        return bool(session.execute(update(Job).where(_owned(claim)).values(
            status=JobStatus.QUEUED, worker_id=None, heartbeat_at=None, started_at=None,
            wall_s=(row.wall_s or 0.0) + _span_s(row.started_at, now))).rowcount)


def requeue_lost(db: Database, is_gone: Callable[[str], bool], max_attempts: int | None = None) -> list[int]:
    """Running jobs whose worker `is_gone(worker_id)` (known dead: killed, its machine restarted)
    go back to the queue now, without waiting for their lease to expire; they resume from their
    last checkpoint. As at lease expiry, a cancel asked for meanwhile wins, and with
    `max_attempts` a job lost that many times fails. Returns the ids put back in the queue."""
    now, requeued = utcnow(), []
    with db.writing() as session:
        rows = session.execute(select(Job.id, Job.worker_id, Job.attempt, Job.cancel_requested, Job.started_at,
                                      Job.heartbeat_at, Job.wall_s).where(Job.status == JobStatus.RUNNING)).all()
        for row in rows:
            if not row.worker_id or not is_gone(row.worker_id):
                continue
            if row.cancel_requested:
                values = dict(status=JobStatus.CANCELLED, finished_at=now)
            elif max_attempts is not None and row.attempt >= max_attempts:
                values = dict(status=JobStatus.FAILED, finished_at=now,
                              error=f"the job's worker was lost {max_attempts} times (killed, out of memory?)")
            else:
                values = dict(status=JobStatus.QUEUED, heartbeat_at=None, started_at=None, progress_phase=LOST_PHASE)
            wall_s = (row.wall_s or 0.0) + _span_s(row.started_at, row.heartbeat_at)
            taken = session.execute(update(Job).where(Job.id == row.id, Job.status == JobStatus.RUNNING,
                                                      Job.worker_id == row.worker_id, Job.attempt == row.attempt)
                                    .values(worker_id=None, wall_s=wall_s, **values)).rowcount
            if taken and values["status"] == JobStatus.QUEUED:
                requeued.append(row.id)
    return requeued


def unfinished(db: Database, experiment_id: int | None = None) -> int:
    """Jobs queued or running (a running one may come back to the queue if its worker died),
    of one experiment when given."""
    with db.session() as session:
        return session.scalar(select(func.count()).where(
            Job.status.in_(ACTIVE_STATUSES),
            true() if experiment_id is None else Job.experiment_id == experiment_id))
