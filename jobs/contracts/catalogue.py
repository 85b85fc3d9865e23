"""The service's catalogue and liveness answers: GET /healthz, /api/datasets, /api/methods and
/api/presets (the models' picker is jobs.contracts.api.ModelsOut)."""
from __future__ import annotations

from pydantic import BaseModel, Field

from jobs.contracts.api import UploadOut
from jobs.contracts.datasets import DatasetStats
from jobs.contracts.enums import JobStatus, MethodName
from jobs.contracts.json_value import JsonObject


class HealthOut(BaseModel):
    status: str = Field(description="'ok' once the database answers")
    database: str = Field(description="the database's dialect: sqlite or postgresql")
    jobs: dict[JobStatus, int] = Field(description="jobs per status (statuses with none are left out)")
    busy_workers: list[str] = Field(description="workers running a job now")


class BuiltinDataset(BaseModel):
    name: str
    description: str
    builtin: bool = True
    stats: DatasetStats | None = Field(description="Table 1 at the default options (jobs.data.stats."
                                                     "dataset_stats); None: it cannot be loaded (error)")
    error: str | None


class DatasetsOut(BaseModel):
    builtin: list[BuiltinDataset]
    uploaded: list[UploadOut]
    custom: str = Field(description="how a job names an uploaded dataset")


class MethodInfo(BaseModel):
    name: MethodName
    description: str


class MethodsOut(BaseModel):
    methods: list[MethodInfo]


class PresetsOut(BaseModel):
    names: list[str] = Field(description="what a spec's `preset` takes")
    presets: dict[str, JsonObject] = Field(description="'<dataset>/<method>' -> the spec fragment it fills in")
    paper: str = Field(description="what the preset 'paper' resolves to")
