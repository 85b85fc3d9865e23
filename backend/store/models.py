"""The tables. A job's points (scalars, CID, influence lists, results, log lines, diagnostics) carry the job
`attempt` that wrote them: a job re-claimed after a crash deletes the older attempts' rows, and
reads only ever select the current attempt, so points of two attempts never mix.

Times are naive UTC datetimes (the same on SQLite and PostgreSQL).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from jobs.contracts.enums import CidPhase, ExperimentKind, JobStatus, MethodName, StrEnum
from jobs.contracts.json_value import JsonObject

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL points tables may grow past 2^31.
BigId = BigInteger().with_variant(Integer(), "sqlite")

class EnumString(TypeDecorator):
    """A VARCHAR column holding one StrEnum's values: written as plain strings (the schema is String's,
    no migration), read back as members. A value the enum no longer names is read as the string."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else self.enum._value2member_map_.get(value, value)


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {JsonObject: JSON, list[Any]: JSON}


def _job_fk() -> Any:
    return mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)


class Experiment(Base):
    """A group of jobs made from one grid (methods x seeds x datasets x hyperparameters)."""

    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # ExperimentIn.kind (jobs.contracts.api); the grid keeps the request as submitted.
    kind: Mapped[ExperimentKind] = mapped_column(EnumString(ExperimentKind, 20), default=ExperimentKind.COMPARE,
                                                 server_default=ExperimentKind.COMPARE.value)
    grid: Mapped[JsonObject] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int | None] = mapped_column(ForeignKey("experiments.id", ondelete="SET NULL"),
                                                      index=True)
    params: Mapped[JsonObject] = mapped_column(JSON, default=dict)  # the experiment grid point
    # The job this one was made from (jobs.contracts.lineage): NeuronTune's tuned job, a follow-up's NeuronTune job.
    # No ON DELETE: SQLite adds the column without rebuilding jobs, and reflects no action of an inline
    # REFERENCES; deleting a parent clears its children's parent_job_id (backend.services.jobs.delete_finished).
    parent_job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    spec: Mapped[JsonObject] = mapped_column(JSON)
    # Copied out of the spec so lists can filter on them with an index.
    dataset: Mapped[str] = mapped_column(String(200), index=True)
    method: Mapped[MethodName] = mapped_column(EnumString(MethodName, 50), index=True)
    model: Mapped[str] = mapped_column(String(500))
    seed: Mapped[int] = mapped_column(BigInteger)  # up to 2^32 - 1: past PostgreSQL's int4

    status: Mapped[JobStatus] = mapped_column(EnumString(JobStatus, 20), default=JobStatus.QUEUED, index=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    attempt: Mapped[int] = mapped_column(Integer, default=0)  # claims so far; points carry it
    worker_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    progress_step: Mapped[int | None] = mapped_column(Integer)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    eta_s: Mapped[float | None] = mapped_column(Float)
    # What the running job is doing, in words ("measuring CID (step 0)", "influence round 2/4: update 5/16").
    progress_phase: Mapped[str | None] = mapped_column(String(200))
    eta_guessed: Mapped[bool | None] = mapped_column(Boolean)  # eta_s rests partly on a guess (not yet timed)
    error: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[JsonObject | None] = mapped_column(JSON)  # the runner's final metrics
    wall_s: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_jobs_claim", "status", "heartbeat_at"),)


class ScalarPoint(Base):
    """A training-curve point, e.g. loss/train or acc/dev at a label step."""

    __tablename__ = "scalar_points"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = _job_fk()
    attempt: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    step: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_scalar_points_read", "job_id", "attempt", "name", "step"),)


class CidPoint(Base):
    """Mean CID over the probe set at a step, with its phase (live, pre-round, post-round, final)."""

    __tablename__ = "cid_points"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = _job_fk()
    attempt: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer)
    phase: Mapped[CidPhase] = mapped_column(EnumString(CidPhase, 20))
    value: Mapped[float | None] = mapped_column(Float)  # None: no probe had both groups (NaN)
    per_probe: Mapped[list[Any] | None] = mapped_column(JSON)
    extra: Mapped[JsonObject | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_cid_points_read", "job_id", "attempt", "step"),)


class InfluenceList(Base):
    """One probe's A and B influence scores at a step (Figure 1's histograms)."""

    __tablename__ = "influence_lists"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = _job_fk()
    attempt: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer)
    # A round's step has a "pre-round" and a "post-round" snapshot.
    phase: Mapped[CidPhase] = mapped_column(EnumString(CidPhase, 16), default=CidPhase.LIVE,
                                            server_default=CidPhase.LIVE.value)
    probe: Mapped[int] = mapped_column(Integer)
    a_index: Mapped[list[Any]] = mapped_column(JSON)
    a_scores: Mapped[list[Any]] = mapped_column(JSON)
    b_index: Mapped[list[Any]] = mapped_column(JSON)
    b_scores: Mapped[list[Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_influence_lists_read", "job_id", "attempt", "probe", "step"),)


class ResultValue(Base):
    """One final number: metric of a split (group None) or of a (label|confound) group in it.
    Run-level numbers (CID, steps) have split None."""

    __tablename__ = "result_values"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = _job_fk()
    attempt: Mapped[int] = mapped_column(Integer)
    split: Mapped[str | None] = mapped_column(String(50))
    group: Mapped[str | None] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(100))
    value: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_result_values_read", "job_id", "attempt"),)


class LogLine(Base):
    __tablename__ = "log_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = _job_fk()
    attempt: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    message: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_log_lines_read", "job_id", "attempt"),)


class Diagnostic(Base):
    """A method's structured findings under a name (jobs.recorder.Recorder.diagnostic), e.g.
    NeuronTune's score histograms, zeroed neurons and suggested confounds: one JSON payload."""

    __tablename__ = "diagnostics"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = _job_fk()
    attempt: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    payload: Mapped[JsonObject] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_diagnostics_read", "job_id", "attempt", "name"),)


class Artifact(Base):
    """A saved model directory, relative to the data directory."""

    __tablename__ = "artifacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = _job_fk()
    attempt: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(50), default="model")
    path: Mapped[str] = mapped_column(String(1000))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_artifacts_job", "job_id"),)


class UploadedDataset(Base):
    """A user's CSV/JSONL file, stored under the data directory with a server-chosen name."""

    __tablename__ = "uploaded_datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))  # the uploader's file name, for display only
    path: Mapped[str] = mapped_column(String(1000))  # relative to the data directory
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    columns: Mapped[JsonObject] = mapped_column(JSON)  # text/label/confound column, confound rule
    stats: Mapped[JsonObject] = mapped_column(JSON)  # Table 1
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


POINT_TABLES = (ScalarPoint, CidPoint, InfluenceList, ResultValue, LogLine, Diagnostic, Artifact)
