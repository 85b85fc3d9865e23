"""What the API answers with: pydantic models (they are also the OpenAPI documentation)."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from jobs.contracts.cid import CidPoint
from jobs.contracts.datasets import DatasetStats, UploadColumns
from jobs.contracts.enums import (
    POOLING_DESCRIPTION,
    CidPhase,
    ExperimentKind,
    JobStatus,
    MethodName,
    ModelKind,
    Pooling,
)
from jobs.contracts.fragments import dataset_by_name, merge_fragments
from jobs.contracts.influence import InfluenceSnapshot
from jobs.contracts.json_value import JsonObject
from jobs.contracts.lineage import JobLineage
from jobs.contracts.results import JobResults

# Stored times are naive UTC; say so on the wire.
UtcTime = Annotated[datetime, PlainSerializer(lambda t: t.isoformat(timespec="milliseconds") + "Z", return_type=str)]


class Progress(BaseModel):
    step: int | None = Field(None, description="label steps done")
    total: int | None = Field(None, description="label steps of the run (0 while the data loads)")
    eta_s: float | None = Field(None, description="seconds left, estimated by the engine from the speeds measured in "
                                                  "this run (label steps, CID points, influence updates); None "
                                                  "until something has been timed")
    eta_guessed: bool | None = Field(None, description="true while part of eta_s rests on a guess: a kind of work "
                                                       "the run has not timed yet")
    phase: str | None = Field(None, description="what the job is doing now, e.g. 'measuring CID (step 0)', "
                                                "'training', 'influence round 2/4: update 5/16', 'evaluating'")


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    experiment_id: int | None
    params: JsonObject = Field(description="the experiment grid point that made this job")
    status: JobStatus
    cancel_requested: bool
    # Stored as a dict (older specs must still load), published with JobSpec's shape.
    spec: Annotated[JsonObject, WithJsonSchema({"allOf": [{"$ref": "#/components/schemas/JobSpec"}]})] = Field(
        description="the spec as run (JobSpec's shape): every default filled in, "
                                             "the dataset always an object")
    dataset: str = Field(description="spec.dataset.name: a built-in dataset or 'custom'; a spec may name a "
                                     "built-in by this string alone (\"dataset\": \"textlen\")")
    method: MethodName
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
    wall_s: float | None = Field(description="seconds of work over every attempt so far (a lost worker's "
                                             "attempt to its last heartbeat); added to as each attempt ends")
    lineage: JobLineage = Field(description="the job it was made from, the jobs made from it, its experiment")

    @classmethod
    def of(cls, job, lineage: JobLineage | None = None) -> JobOut:
        """A job row as answered; without `lineage`, its parent and experiment alone (no follow-ups)."""
        data = {name: getattr(job, name) for name in cls.model_fields if name not in ("progress", "lineage")}
        data["progress"] = Progress(step=job.progress_step, total=job.progress_total, eta_s=job.eta_s,
                                    eta_guessed=job.eta_guessed, phase=job.progress_phase)
        data["lineage"] = lineage or JobLineage(parent_job_id=job.parent_job_id, experiment_id=job.experiment_id)
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


class CidOut(BaseModel):
    job_id: int
    attempt: int
    points: list[CidPoint]


class Example(BaseModel):
    index: int = Field(description="row of the training split")
    score: float | None
    text: str | None
    label: str | None
    confound: str | None


class Snapshot(BaseModel):
    step: int
    phase: CidPhase = Field(description="the CID phase the lists were measured in")


class ProbeChoice(BaseModel):
    index: int = Field(description="the probe's row in train")
    label: str | None = Field(description="its label's name (None: the dataset could not be loaded)")
    confound: str | None = Field(description="its confound's name")


class InfluenceOut(InfluenceSnapshot):
    job_id: int
    attempt: int
    probe_text: str | None
    steps: list[int] = Field(description="steps at which this probe's lists were recorded")
    snapshots: list[Snapshot] = Field(description="(step, phase) of this probe's lists in training order: a "
                                                  "round's step has a pre-round and a post-round snapshot")
    probes: list[int] = Field(description="probes with lists at any step")
    probe_choices: list[ProbeChoice] = Field(default_factory=list,
                                             description="those probes with their label and confound")
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
    status: JobStatus
    metrics: JobResults | None = Field(description="the engine's final metrics, as it reported them")
    rows: list[ResultRow] = Field(description="the same numbers flattened: per split, per group, worst group")
    artifacts: list[ArtifactOut]


class LogLineOut(BaseModel):
    t: str = Field(description="when it was recorded, ISO 8601 UTC")
    message: str


class LogOut(BaseModel):
    job_id: int
    attempt: int
    lines: list[LogLineOut]


class UploadOut(BaseModel):
    id: int
    name: str
    path: str = Field(description="use as dataset.path with dataset.name 'custom'")
    size_bytes: int
    columns: UploadColumns
    stats: DatasetStats = Field(description="Table 1 of the file (jobs.data.stats.dataset_stats)")
    created_at: UtcTime


# The model picker: GET /api/models and `deconfound models` (jobs/model_catalogue.py builds it).

class FamilyInfo(BaseModel):
    """A model family the engine supports: its config's model_type, what it is, how it pools."""

    model_type: str = Field(description="the config.json model_type, e.g. 'bert', 'qwen2'")
    name: str = Field(description="its usual name, e.g. 'BERT', 'Qwen2/3'")
    kind: ModelKind
    pooling: Pooling = Field(description=POOLING_DESCRIPTION)


class ModelInfo(BaseModel):
    """One model a job can name (its `name` goes in the spec's `model`)."""

    name: str = Field(description="what to put in the job spec's model: a built-in name or a path under the "
                                  "data directory (models/<name>)")
    source: Literal["builtin", "local"]
    description: str = ""
    family: str | None = Field(None, description="config.json model_type (None: no readable config)")
    kind: Literal["encoder", "decoder"] | None = Field(None, description="None: a family outside the supported list")
    pooling: Literal["pooler", "cls", "last"] | None = None
    supported: bool = Field(description="the family is one of `families`; else the generic path, or a clear error")
    parameters: int | None = Field(None, description="parameters of the encoder/decoder (weights' shapes, or the "
                                                     "config's architecture; not loaded); None: unknown")
    size_bytes: int | None = Field(None, description="bytes of its weight files on disk (None: built in elsewhere)")
    note: str | None = Field(None, description="why something is unknown, or what to expect")


class ModelsOut(BaseModel):
    """Built-in models, the supported families and the model directories under the data directory."""

    builtin: list[ModelInfo]
    local: list[ModelInfo] = Field(description="directories with a config.json under <data dir>/models")
    families: list[FamilyInfo]
    default: str = Field(description="the model a spec that names none trains")
    hub_reachable: bool = Field(False, description="whether Hugging Face names can be downloaded here")
    note: str = ""


# What the job-data, catalogue and diagnostics routes answer (the dashboard reads them).

class Estimate(BaseModel):
    spec: JsonObject = Field(description="the spec as it would run: preset and defaults filled in")
    train_size: int | None = Field(description="training examples (None: the dataset could not be loaded)")
    label_steps: int
    rounds: int = Field(description="influence-tuning rounds")
    cid_points: int = Field(description="CID measurements (live, around rounds, final)")
    example_gradients: dict[str, int] = Field(description="forward+backward passes of one example, by part")
    total_example_gradients: int
    seconds: float | None = Field(description="extrapolated from finished jobs of the same model; None if none")
    basis: str = Field(description="what `seconds` rests on, in words")


class CidDisplayOut(BaseModel):
    job_id: int
    attempt: int
    total: int = Field(description="points after since_step before thinning")
    points: list[CidPoint] = Field(description="recording order; per_probe and extra left out (None)")


class SampleRow(BaseModel):
    index: int = Field(description="row of the split")
    text: str


class SampleGroup(BaseModel):
    label: str
    confound: str
    count: int = Field(description="rows of this group in the split")
    rows: list[SampleRow]


class SamplesOut(BaseModel):
    dataset: str
    split: str
    label_names: list[str]
    confound_names: list[str]
    groups: list[SampleGroup]


class GroupExamples(BaseModel):
    size: int = Field(description="examples scored in this group")
    most: list[Example] = Field(description="highest influence first")
    least: list[Example] = Field(description="lowest influence first")


class ProbeExamplesOut(BaseModel):
    job_id: int
    step: int
    phase: CidPhase
    probe: Example = Field(description="the probe itself (score is None)")
    a: GroupExamples = Field(description="same label, same confound as the probe")
    b: GroupExamples = Field(description="same label, other confound")


class DiagnosticOut(BaseModel):
    job_id: int
    attempt: int
    name: str
    created_at: datetime
    payload: JsonObject = Field(description="what the method recorded; NeuronTune's are declared in "
                                            "jobs.contracts.diagnostics (NEURONTUNE_PAYLOADS)")


class DiagnosticsOut(BaseModel):
    job_id: int
    attempt: int
    names: list[str] = Field(description="recorded names, in recording order")
    items: dict[str, JsonObject] = Field(description="name -> payload (the newest of each name)")


class ChainOut(BaseModel):
    job_id: int
    parent_job: int | None = Field(description="the finetune job whose saved model NeuronTune tuned (None: "
                                               "finetuned inside the NeuronTune job, or not a job's model)")
    neurontune_job: int | None = Field(description="the NeuronTune job of the chain")
    follow_ups: list[int] = Field(description="influence-tuning jobs made from its suggested confounds")
    compare: list[int] = Field(description="the chain's jobs in order: parent, NeuronTune, follow-ups")


class TuneRequest(BaseModel):
    """What the follow-up job changes besides method and confound (each a partial spec section)."""

    model_config = {"extra": "forbid"}

    train: JsonObject = Field(default_factory=dict, description="e.g. {\"max_steps\": 200}")
    influence: JsonObject = Field(default_factory=dict, description="e.g. {\"interval\": 25}")
    diagnostics: JsonObject = Field(default_factory=dict)


def _dataset_by_name(fragment: JsonObject) -> JsonObject:
    """A spec fragment whose `"dataset": "msgs"` is spelled out, so that a part's dataset fields
    merge into it rather than replace it."""
    return {**fragment, "dataset": dataset_by_name(fragment["dataset"])} if "dataset" in fragment else fragment


SpecFragment = Annotated[JsonObject, AfterValidator(_dataset_by_name)]


# The most entries of any one list of an experiment (seeds, datasets, grid fields, values of one
# field): the service refuses an experiment of too many jobs, but only after expanding the grid.
MAX_GRID = 100
GridValues = Annotated[list[Any], Field(max_length=MAX_GRID)]


class ExperimentPart(BaseModel):
    """One more grid of an experiment; left-out fields are the experiment's own."""

    model_config = ConfigDict(extra="forbid")

    base: SpecFragment = Field(default_factory=dict,
                               description="spec fields merged over the experiment's base for this part")
    methods: list[str] | None = Field(None, min_length=1, max_length=MAX_GRID)
    seeds: list[int] | None = Field(None, min_length=1, max_length=MAX_GRID)
    datasets: list[str | JsonObject] | None = Field(None, max_length=MAX_GRID)
    grid: dict[str, GridValues] = Field(default_factory=dict, max_length=MAX_GRID,
                                        description="dotted spec field -> values")


class ExperimentIn(BaseModel):
    """A grid: every combination of methods x seeds x datasets x hyperparameter values is one job.
    `parts` add further grids to the same experiment (e.g. Table 3's access-rate runs)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("experiment", min_length=1, max_length=200)
    kind: ExperimentKind = Field(
        ExperimentKind.COMPARE, description="compare: methods side by side; sweep: a hyperparameter grid whose "
                               "best point per (dataset, method) by mean dev accuracy is selected; "
                               "reproduce: the paper's protocol (`deconfound reproduce`)")
    protocol: str | None = Field(None, max_length=50, description="reproduce: the dataset whose protocol this is")
    scale: str | None = Field(None, max_length=50, description="reproduce: paper, cpu or tiny (jobs/presets.py)")
    base: SpecFragment = Field(default_factory=dict, description="spec fields every job shares")
    methods: list[str] = Field(
        default_factory=lambda: ["finetune"], max_length=20,
        description="empty only with parts: an experiment made of its parts alone (each method with its "
                    "own base, nothing merged from another method's)")
    seeds: list[int] = Field(default_factory=lambda: [2021], min_length=1, max_length=MAX_GRID)
    datasets: list[str | JsonObject] = Field(
        default_factory=list, max_length=MAX_GRID,
        description="dataset names or dataset specs; empty: the base spec's dataset")
    grid: dict[str, GridValues] = Field(
        default_factory=dict, max_length=MAX_GRID, description="dotted spec field -> values, e.g. {\"influence.lr\": [1e-5, 3e-5]}")
    parts: list[ExperimentPart] = Field(default_factory=list, max_length=100,
                                        description="further grids whose jobs join this experiment")
    reuse: bool = Field(False, description="copy each job whose spec equals a job that already succeeded "
                                           "(any experiment) instead of running it again (backend/services/reuse.py); "
                                           "not part of what the experiment is")

    @model_validator(mode="after")
    def _some_jobs(self) -> ExperimentIn:
        if not self.methods and not self.parts:
            raise ValueError("methods is empty and there are no parts: the experiment would have no jobs")
        return self

    def settings(self) -> JsonObject:
        """What makes the experiment (stored as its grid; a rerun must match it): all but `reuse`."""
        return self.model_dump(mode="json", exclude={"reuse"})

    def resolved_parts(self) -> list[JsonObject]:
        """The experiment's own grid, then each part with the left-out fields filled in."""
        own = {"base": self.base, "methods": self.methods, "seeds": self.seeds, "datasets": self.datasets,
               "grid": self.grid}
        return [own] + [{"base": merge_fragments(self.base, part.base), "methods": part.methods or self.methods,
                         "seeds": part.seeds or self.seeds,
                         "datasets": self.datasets if part.datasets is None else part.datasets,
                         "grid": part.grid} for part in self.parts]


class ReproduceIn(BaseModel):
    """The paper's protocol as one experiment (what `deconfound reproduce` submits)."""

    model_config = ConfigDict(extra="forbid")

    dataset: Literal["textlen", "msgs", "custom"] = Field(description="a built-in, or custom: your own data at `data`")
    data: str | None = Field(None, min_length=1, max_length=255,
                             description="your own data (dataset custom): 'upload:<id>', or a file or directory of "
                                         "train/dev/test files under the data directory")
    scale: Literal["paper", "cpu", "tiny"] = "cpu"
    seeds: list[int] | None = Field(None, min_length=1, max_length=20, description="default: the scale's")
    methods: list[str] | None = Field(
        None, min_length=1, max_length=10,
        description="a subset of the dataset's Table-2 methods (default all); e.g. influence-tuning and "
                    "embedding-tuning with access rates runs Table 3 alone")
    access_rates: list[float] = Field(
        default_factory=list, max_length=20,
        description="Table 3: confound access rates in percent (0 < rate <= 100) for influence and "
                    "embedding tuning; 100 is Table 2's own run")
    name: str | None = Field(None, min_length=1, max_length=200, description="default 'reproduce <dataset> <scale>'")
    reuse: bool = Field(False, description="copy jobs identical to ones that already succeeded instead of running "
                                           "them again (e.g. Table 2's when Table 3 is added)")


class ReproducePreview(BaseModel):
    """What POST /api/experiments/reproduce would queue, before it is queued."""

    name: str
    jobs: int = Field(description="jobs the experiment makes (a collapsed trial's retries run inside its job)")
    jobs_by_method: dict[str, int]
    reused: int = Field(0, description="with reuse: jobs that would be copies of identical finished jobs, not run")
    seeds: list[int]
    estimated_s: float | None = Field(description="wall seconds on one worker from the scale's per-job "
                                                  "estimates (the cpu scale: this 2-core machine); None "
                                                  "when the scale has none")


class ExperimentProgress(BaseModel):
    total: int
    done: int = Field(description="jobs finished in any way: succeeded, collapsed, failed or cancelled")
    succeeded: int
    collapsed: int = Field(description="finished at chance train accuracy even after the spec's retries")
    failed: int
    cancelled: int
    running: int
    queued: int
    workers: int = Field(description="distinct workers running this experiment's jobs now")
    eta_s: float | None = Field(description="seconds of work left / workers (at least one): a queued job costs "
                                            "the mean wall of its method's finished jobs (before any, the scale's "
                                            "estimate, calibrated by the jobs done), a running job its own ETA; "
                                            "None while some job's cost is unknown")


class ExperimentOut(BaseModel):
    id: int
    name: str
    kind: ExperimentKind
    grid: JsonObject = Field(description="the request that made the experiment, as submitted")
    created_at: UtcTime
    job_ids: list[int]
    status_counts: dict[str, int]
    progress: ExperimentProgress


class TableRow(BaseModel):
    dataset: str
    method: str
    params: JsonObject = Field(description="the grid point (hyperparameters) of this row")
    access_rate: float = Field(description="share of train whose confound the method may use (Table 3); 1 = all")
    jobs: int
    finished: int = Field(description="succeeded jobs with a test accuracy (collapsed trials are left out)")
    test_acc_mean: float | None
    test_acc_std: float | None = Field(description="sample standard deviation over seeds")
    p_vs_finetune: float | None = Field(description="Welch's t-test of test accuracy against finetuning "
                                                    "on the same dataset (two-sided): the finetuning row of the "
                                                    "same hyperparameters, else the selected one")
    worst_group_acc_mean: float | None
    worst_group_acc_std: float | None
    group_acc_mean: dict[str, float | None] = Field(description="test accuracy per (label|confound) group")
    dev_acc_mean: float | None = Field(description="mean dev accuracy over seeds: what selection compares")
    dev_acc_std: float | None
    flip_rate_mean: float | None = Field(description="test predictions that change when the confound is "
                                                     "swapped or removed, mean over seeds")
    cid_mean: float | None
    selected: bool = Field(description="the highest mean dev accuracy of its (dataset, method, access rate)")


class TableOut(BaseModel):
    experiment_id: int
    kind: ExperimentKind
    rows: list[TableRow]
    selected_rows: list[TableRow] = Field(description="the selected row of each (dataset, method, access rate): "
                                                      "each method's result under model selection on dev")


class CidMethodMean(BaseModel):
    mean: float | None = Field(description="mean CID over the jobs with a value at this point")
    n: int = Field(description="jobs averaged")


class CidTrajectoryRow(BaseModel):
    dataset: str
    step: int = Field(description="label step")
    phase: CidPhase
    methods: dict[str, CidMethodMean] = Field(description="by method; in a sweep, method and grid point "
                                                        "('finetune train.lr=2e-05')")


class CidTrajectoriesOut(BaseModel):
    """Figure 3 as numbers: per step and phase, each method's CID averaged over its succeeded
    full-access jobs (a job's current attempt)."""

    experiment_id: int
    rows: list[CidTrajectoryRow]


class SearchSpaceOut(BaseModel):
    name: str = Field(description="pass as a sweep's named grid, e.g. `deconfound sweep --grid paper`")
    dataset: str
    method: MethodName
    grid: dict[str, list[Any]]
    points: int = Field(description="grid points (jobs per seed)")


class ProtocolOut(BaseModel):
    """What `reproduce` runs on one dataset."""

    dataset: str
    methods: list[MethodName] = Field(description="Table 2's methods, in the table's order")
    access_rate_methods: list[MethodName] = Field(description="the methods Table 3 repeats at each confound access rate")


class ScaleOut(BaseModel):
    name: str
    description: str
    model: str
    seeds: list[int]
    minutes: dict[str, float] = Field(description="estimated wall minutes per '<dataset>/<method>' job, where known")
