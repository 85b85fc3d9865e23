"""What the API answers with: pydantic models (they are also the OpenAPI documentation)."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

# Stored times are naive UTC; say so on the wire.
UtcTime = Annotated[datetime, PlainSerializer(lambda t: t.isoformat(timespec="milliseconds") + "Z", return_type=str)]


class Progress(BaseModel):
    step: int | None = None
    total: int | None = None
    eta_s: float | None = Field(None, description="seconds left, estimated by the engine")


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    experiment_id: int | None
    params: dict[str, Any] = Field(description="the experiment grid point that made this job")
    status: str = Field(description="queued, running, succeeded, failed, cancelled or collapsed")
    cancel_requested: bool
    spec: dict[str, Any]
    dataset: str
    method: str
    model: str
    seed: int
    attempt: int = Field(description="claims by a worker so far; points of earlier attempts are gone")
    worker_id: str | None
    created_at: UtcTime
    started_at: UtcTime | None
    heartbeat_at: UtcTime | None
    finished_at: UtcTime | None
    progress: Progress
    error: str | None
    wall_s: float | None

    @classmethod
    def of(cls, job) -> JobOut:
        data = {name: getattr(job, name) for name in cls.model_fields if name != "progress"}
        data["progress"] = Progress(step=job.progress_step, total=job.progress_total, eta_s=job.eta_s)
        return cls.model_validate(data)


class JobList(BaseModel):
    items: list[JobOut]
    total: int
    limit: int
    offset: int


class Series(BaseModel):
    steps: list[int]
    values: list[float]


class MetricsOut(BaseModel):
    job_id: int
    attempt: int
    names: list[str] = Field(description="every scalar name the job has recorded")
    series: dict[str, Series] = Field(description="name -> points with step > since_step, by step")
    last_step: int | None = Field(description="the largest step returned: pass it back as since_step")


class CidPointOut(BaseModel):
    step: int
    phase: str
    value: float | None = Field(description="None when no probe had both an A and a B group")
    per_probe: list[float | None] | None
    extra: dict[str, Any] | None


class CidOut(BaseModel):
    job_id: int
    attempt: int
    points: list[CidPointOut]


class Example(BaseModel):
    index: int = Field(description="row of the training split")
    score: float | None
    text: str | None
    label: str | None
    confound: str | None


class Snapshot(BaseModel):
    step: int
    phase: str = Field(description="the CID phase the lists were measured in (live, pre-round, post-round, final)")


class InfluenceOut(BaseModel):
    job_id: int
    attempt: int
    step: int
    phase: str
    probe: int
    probe_text: str | None
    steps: list[int] = Field(description="steps at which this probe's lists were recorded")
    snapshots: list[Snapshot] = Field(description="(step, phase) of this probe's lists in training order: a "
                                                  "round's step has a pre-round and a post-round snapshot")
    probes: list[int] = Field(description="probes with lists at any step")
    a_index: list[int]
    a_scores: list[float | None]
    b_index: list[int]
    b_scores: list[float | None]
    top_a: list[Example] = Field(description="the k most influential A examples (same label, same confound)")
    top_b: list[Example] = Field(description="the k most influential B examples (same label, other confound)")


class ResultRow(BaseModel):
    split: str | None
    group: str | None
    metric: str
    value: float | None


class ArtifactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    path: str = Field(description="relative to the data directory")
    size_bytes: int


class ResultsOut(BaseModel):
    job_id: int
    attempt: int
    status: str
    metrics: dict[str, Any] | None = Field(description="the engine's final metrics, as it reported them")
    rows: list[ResultRow] = Field(description="the same numbers flattened: per split, per group, worst group")
    artifacts: list[ArtifactOut]


class LogOut(BaseModel):
    job_id: int
    attempt: int
    lines: list[dict[str, Any]]


class UploadOut(BaseModel):
    id: int
    name: str
    path: str = Field(description="use as dataset.path with dataset.name 'custom'")
    size_bytes: int
    columns: dict[str, Any]
    stats: dict[str, Any]
    created_at: UtcTime


class ExperimentIn(BaseModel):
    """A grid: every combination of methods x seeds x datasets x hyperparameter values is one job."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("experiment", min_length=1, max_length=200)
    base: dict[str, Any] = Field(default_factory=dict, description="spec fields every job shares")
    methods: list[str] = Field(default_factory=lambda: ["finetune"], min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [2021], min_length=1)
    datasets: list[str | dict[str, Any]] = Field(
        default_factory=list, description="dataset names or dataset specs; empty: the base spec's dataset")
    grid: dict[str, list[Any]] = Field(
        default_factory=dict, description="dotted spec field -> values, e.g. {\"influence.lr\": [1e-5, 3e-5]}")


class ExperimentOut(BaseModel):
    id: int
    name: str
    grid: dict[str, Any]
    created_at: UtcTime
    job_ids: list[int]
    status_counts: dict[str, int]


class TableRow(BaseModel):
    dataset: str
    method: str
    params: dict[str, Any]
    jobs: int
    finished: int = Field(description="jobs with a test accuracy (succeeded or collapsed)")
    test_acc_mean: float | None
    test_acc_std: float | None = Field(description="sample standard deviation over seeds")
    p_vs_finetune: float | None = Field(description="Welch's t-test of test accuracy against finetuning "
                                                    "on the same dataset (two-sided)")
    worst_group_acc_mean: float | None
    worst_group_acc_std: float | None
    group_acc_mean: dict[str, float | None] = Field(description="test accuracy per (label|confound) group")
    cid_mean: float | None


class TableOut(BaseModel):
    experiment_id: int
    rows: list[TableRow]
