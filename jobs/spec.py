"""The job spec: one pydantic model that describes a run, shared by the CLI and the REST API.

A preset (jobs/presets.py) fills in values the user did not give; anything the user gives wins.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

METHODS = ("finetune", "influence-tuning", "embedding-tuning", "adversarial", "no-confound", "neurontune")
SCOPES = ("all", "top", "head")
SCORES = ("cosine", "dot", "embedding")
# The model a spec that names none trains: the pretrained one that ships offline. "tiny" is random,
# so it needs a far larger learning rate than a pretrained encoder to leave chance: at 2e-5 every
# tiny TextLen run collapsed; 1e-3 and 3e-3 both fit train (deconfound run --model tiny --set train.lr=...).
DEFAULT_MODEL = "minilm"
TINY_LR = 1e-3


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetSpec(_Strict):
    """Which data. `name` is a built-in ("textlen", "msgs") or "custom" (with `path`)."""

    name: str = "textlen"
    path: str | None = Field(None, description="custom: a CSV/JSONL file, or hf:<dataset> where a hub is reachable")
    text_column: str = "text"
    label_column: str = "label"
    confound_column: str | None = "confound"
    confound_rule: str | None = Field(
        None, description="define the confound from the text instead of a column: "
                          "'token:WORD' (present or not) or 'regex:PATTERN'; on a built-in dataset it "
                          "replaces the annotated confound")
    access_rate: float = Field(1.0, gt=0, le=1.0, description="share of train whose confound methods may use (Table 3)")
    seed: int = Field(2021, description="seed of the dataset's own sampling (the paper uses 2021)")
    options: dict[str, Any] = Field(default_factory=dict, description="source-specific parameters, e.g. TextLen sizes")


def dataset_by_name(value: Any) -> Any:
    """A dataset given by its name alone ("textlen") as the DatasetSpec fields it stands for."""
    return {"name": value} if isinstance(value, str) else value


class TrainSpec(_Strict):
    """Label training (the paper's Appendix A)."""

    epochs: float = Field(10, gt=0)
    batch_size: int = Field(64, ge=1, le=4096)
    lr: float = Field(2e-5, gt=0, le=1.0, description=(
        f"2e-5 suits pretrained encoders; unset with model 'tiny' (random weights), {TINY_LR:g}"))
    warmup: float = Field(0.1, ge=0, le=1)
    weight_decay: float = Field(0.01, ge=0)
    max_length: int = Field(64, ge=8, le=512)
    optimizer: Literal["adamw", "bertadam"] = "adamw"
    grad_clip: float | None = Field(1.0, gt=0)
    max_steps: int | None = Field(None, ge=1, description="stop after this many label steps (tests, quick looks)")
    eval_every: int = Field(50, ge=1, description="label steps between dev/test accuracy points")


class InfluenceSpec(_Strict):
    """Influence / embedding tuning rounds."""

    interval: int | None = Field(None, ge=1, description=(
        "label steps between rounds; unset: a fifth of the run's label steps, at most 50 (jobs/rounds.py). "
        "A run needs more than interval * 1.5 label steps for one round"))
    round_epochs: int = Field(5, ge=1, description="passes over the round's probe set")
    probes_per_round: int = Field(75, ge=1, description="probes sampled from train for each round")
    k: int = Field(5, ge=1, description="A and B examples per probe")
    tuples_per_update: int = Field(64, ge=1, description="probes whose J-gradients are averaged per update")
    lr: float = Field(3e-5, gt=0, le=1.0)
    scope: Literal["all", "top", "head"] = "all"
    top_layers: int = Field(2, ge=1, description="encoder layers in the 'top' scope (plus pooler and head)")
    optimizer: Literal["adamw", "bertadam"] = "adamw"


class AdversarialSpec(_Strict):
    weight: float = Field(0.3, ge=0, description="gradient-reversal weight lambda")
    lr: float | None = Field(None, gt=0, le=1.0, description=(
        "the adversary's own learning rate (null: train.lr, as the paper). A new linear adversary at the "
        "encoder's lr barely moves, and the encoder can then fool it by encoding the confound inverted: "
        "acc/adversary falls below chance"))


class NeuronTuneSpec(_Strict):
    """NeuronTune (Zheng et al., ICML 2025): zero the penultimate neurons that go with errors, retrain the head.

    Uses class labels only (confounds hidden); see jobs/methods/neurontune.py."""

    parent_artifact: str | None = Field(
        None, description="model directory saved by a finished job; none: finetune with `train` first")
    activation: Literal["relu", "identity", "abs"] = Field(
        "relu", description="neuron activation scored and fed to the head: ReLU(pooled) as the authors' text models")
    lambdas: list[float] = Field(
        default_factory=lambda: [0.0], min_length=1, max_length=20,
        description="thresholds lambda (biased: delta > lambda); several are selected among by `select`")
    sets: Literal["union", "per_class"] = Field(
        "union", description="zero a neuron biased for any class everywhere, or only in that class's logit")
    head_init: Literal["reinit", "continue"] = Field(
        "reinit", description="retrain the head from a fresh initialisation or from the parent's weights")
    head_epochs: float = Field(20, gt=0, description="passes over the tuning set (class-balanced batches)")
    head_batch_size: int = Field(64, ge=1, le=4096)
    head_lr: float = Field(1e-2, gt=0, le=1.0, description="AdamW on standardised activations")
    head_weight_decay: float = Field(0.0, ge=0)
    select: Literal["sfit", "dev_acc"] = Field(
        "sfit", description="choose among lambdas by SFit (published) or by dev accuracy; class labels only")
    suggestions: int = Field(10, ge=0, description="suggested confounds to report")
    min_support: int = Field(5, ge=2, description="texts with and without an n-gram it needs to be suggested")


class DiagnosticsSpec(_Strict):
    """Live CID and Figure-1 histograms."""

    cid_every: int = Field(50, ge=0, description="label steps between live CID points; 0 = only around rounds and at the end")
    probes: int = Field(40, ge=1)
    sample: int = Field(100, ge=2, description="training examples per A and B group per probe (bounds the cost)")
    score: Literal["cosine", "dot", "embedding"] = "cosine"
    scope: Literal["all", "top", "head"] = "all"
    top_layers: int = Field(2, ge=1)
    histogram_probes: int = Field(4, ge=0, description="probes whose A/B lists are kept at each CID point")


def _model_default_lr(data: Any) -> Any:
    """With model 'tiny' and no train.lr given (by the user or a preset), TINY_LR: the pretrained
    default leaves a random model at chance."""
    if not isinstance(data, dict) or data.get("model") != "tiny":
        return data
    train = data.get("train")
    if train is None:
        return {**data, "train": {"lr": TINY_LR}}
    if isinstance(train, dict) and "lr" not in train:
        return {**data, "train": {**train, "lr": TINY_LR}}
    return data


class JobSpec(_Strict):
    """Everything that defines a run. Units: steps are label (optimiser) steps."""

    dataset: DatasetSpec = Field(default_factory=DatasetSpec,
                                 description='which data; a built-in may be given by its name alone: "textlen"')
    model: str = Field(DEFAULT_MODEL, description=(
        "'minilm' (all-MiniLM-L6-v2, pretrained, offline), 'tiny' (random, for tests), a Hugging Face name "
        "or a local path"))
    method: str = "finetune"
    preset: str | None = None
    seed: int = 2021
    device: str = Field("auto", description="'auto' (CUDA when present), 'cpu', 'cuda', 'cuda:1'...")
    dtype: Literal["float32", "float64"] = "float32"
    train: TrainSpec = Field(default_factory=TrainSpec)
    influence: InfluenceSpec = Field(default_factory=InfluenceSpec)
    adversarial: AdversarialSpec = Field(default_factory=AdversarialSpec)
    neurontune: NeuronTuneSpec = Field(default_factory=NeuronTuneSpec)
    diagnostics: DiagnosticsSpec = Field(default_factory=DiagnosticsSpec)
    retry_collapsed: int = Field(0, ge=0, le=10, description="retries with the next seed when training collapses to chance")
    reference: bool = Field(False, description="use the slow reference influence paths (debugging)")

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("dataset"), str):  # the preset reads its name
            data = {**data, "dataset": dataset_by_name(data["dataset"])}
        if isinstance(data, dict) and data.get("preset"):
            from jobs.presets import apply_preset
            data = apply_preset(data["preset"], data)
        return _model_default_lr(data)

    @field_validator("dataset", mode="before", json_schema_input_type=DatasetSpec | str)
    @classmethod
    def _dataset_by_name(cls, value: Any) -> Any:
        """`"dataset": "textlen"` is short for `{"name": "textlen"}`: this puts the string form in the
        JSON schema (/docs); _apply_preset has already spelled it out for a preset to read."""
        return dataset_by_name(value)

    @model_validator(mode="after")
    def _check_method(self) -> JobSpec:
        if self.method not in METHODS:
            raise ValueError(f"unknown method '{self.method}'; valid: {', '.join(METHODS)}")
        return self
