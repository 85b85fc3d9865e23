"""The job spec: one pydantic model that describes a run, shared by the CLI and the REST API.

A preset (jobs/presets.py) fills in values the user did not give; anything the user gives wins.
"""
from __future__ import annotations

import math
import re
from enum import Enum
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from jobs.contracts.enums import METHODS, MethodName, Scope
from jobs.contracts.fragments import dataset_by_name
from jobs.contracts.json_value import JsonObject
from jobs.presets import PRESET_NAMES, apply_preset, preset_for

SCORES = ("cosine", "dot", "embedding")
# The model a spec that names none trains: the pretrained one that ships offline. "tiny" is random,
# so it needs a far larger learning rate than a pretrained encoder to leave chance: at 2e-5 every
# tiny TextLen run collapsed; 1e-3 and 3e-3 both fit train (deconfound run --model tiny --set train.lr=...).
DEFAULT_MODEL = "minilm"
TINY_LR = 1e-3
# The names DatasetSpec.name takes (jobs.data.sources.DATASET_CHOICES describes each; a test keeps
# the two equal); "upload:<id>" is short for a custom dataset with that path.
CUSTOM = "custom"
DATASET_NAMES = ("textlen", "msgs", CUSTOM)
UPLOAD_PREFIX = "upload:"
# The engine seeds NumPy and torch with these: both want a non-negative 32-bit value.
MAX_SEED = 2**32 - 1
# DatasetSpec.confound_rule: "token:WORD" or "regex:PATTERN" (jobs.data.rules builds the rule).
RULE_KINDS = ("token", "regex")
# JobSpec.device: what torch.device takes and a worker can run on. Whether this service has the
# CUDA device is the server's question (backend.services.submission), not the spec's.
DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d{1,2})?")
DEVICE_CHOICES = "'auto', 'cpu', 'mps', 'cuda' or 'cuda:N'"
# Upper bounds of every number and string a spec takes: far above what a real run uses (the paper:
# 3-10 epochs, 40-75 probes, k=5, 240-2000 steps), low enough that no one request asks the worker
# (or the estimate) for unbounded work or memory. They appear in the OpenAPI schema (/docs).
MAX_EPOCHS = 1000
MAX_STEPS = 10_000_000
MAX_BATCH = 4096
MAX_DECAY = 10.0
MAX_GRAD_CLIP = 1e6
MAX_ROUND_EPOCHS = 100
MAX_PROBES = 10_000
MAX_K = 100
MAX_LAYERS = 128
MAX_ADVERSARY_WEIGHT = 100.0
MAX_LAMBDA = 1e6
MAX_SUGGESTIONS = 1000
MAX_SUPPORT = 1_000_000
MAX_SAMPLE = 10_000
MAX_HISTOGRAM_PROBES = 100
MAX_NAME = 200    # column, dataset and option names
MAX_PATH = 255    # a file name, a model name, a path under the data directory (one file name's limit)
MAX_RULE = 1000   # confound_rule: 'token:WORD' or 'regex:PATTERN'
MAX_DEVICE = 32
MAX_OPTIONS = 50
MAX_LORA_RANK = 1024
MAX_LORA_ALPHA = 1e4
MAX_LORA_TARGETS = 32
MAX_OPTION_DEPTH = 8
# LoraSpec.targets: a module name or a dotted suffix of one.
LORA_TARGET_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$"

M = TypeVar("M", bound=BaseModel)


class _Strict(BaseModel):
    # NaN and Infinity (which Python's JSON parser lets through) are refused in every float field.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class DatasetSpec(_Strict):
    """Which data. `name` is a built-in ("textlen", "msgs") or "custom" (with `path`)."""

    name: str = Field("textlen", max_length=MAX_NAME)
    path: str | None = Field(None, max_length=MAX_PATH, description="custom: a CSV/JSONL file, or hf:<dataset> where a hub is reachable")
    text_column: str = Field("text", max_length=MAX_NAME)
    label_column: str = Field("label", max_length=MAX_NAME)
    confound_column: str | None = Field("confound", max_length=MAX_NAME)
    confound_rule: str | None = Field(
        None, max_length=MAX_RULE, description="define the confound from the text instead of a column: "
                          "'token:WORD' (present or not) or 'regex:PATTERN'; on a built-in dataset it "
                          "replaces the annotated confound")
    access_rate: float = Field(1.0, gt=0, le=1.0, description="share of train whose confound methods may use (Table 3)")
    seed: int = Field(2021, ge=0, le=MAX_SEED, description="seed of the dataset's own sampling (the paper uses 2021)")
    options: JsonObject = Field(default_factory=dict, max_length=MAX_OPTIONS,
                                    description="source-specific parameters, e.g. TextLen sizes")

    @field_validator("options", mode="before")
    @classmethod
    def _finite_options(cls, options: Any) -> Any:
        """Options are free-form JSON: refuse NaN/Infinity (naming where), too deep a nesting and too
        long a name or value here, before the JSON type is checked."""
        if not isinstance(options, dict):
            return options  # the type check refuses it
        if bad := next(_non_finite(options), None):
            raise ValueError(f"options.{'.'.join(map(str, bad))}: Input should be a finite number")
        for key, value in options.items():
            if len(key) > MAX_NAME or (isinstance(value, str) and len(value) > MAX_PATH):
                raise ValueError(f"options.{key[:MAX_NAME]}: at most {MAX_NAME} characters in a name "
                                 f"and {MAX_PATH} in a value")
        return options

    @field_validator("confound_rule")
    @classmethod
    def _check_confound_rule(cls, rule: str | None) -> str | None:
        if rule is not None and (problem := rule_problem(rule)):
            raise ValueError(problem)
        return rule


def rule_problem(rule: str) -> str | None:
    """What is wrong with a confound rule's syntax, in one line (None: nothing): a known kind, a
    non-empty body, and for a regex one that compiles. Whether it marks any text is the data's
    question (jobs.data.rules)."""
    kind, sep, body = rule.partition(":")
    if not sep or kind not in RULE_KINDS or not body:
        return f"expected 'token:WORD' or 'regex:PATTERN', got {rule!r}"
    if kind == "regex":
        try:
            re.compile(body)
        except (re.error, RecursionError, OverflowError) as error:
            return f"bad regular expression {body!r}: {error}"
    return None


def _non_finite(value: Any, location: tuple = ()) -> Any:
    """Locations of NaN and +-Infinity in a JSON value (and of anything nested deeper than
    MAX_OPTION_DEPTH, which no source's options need: walked without recursion)."""
    stack = [(value, location)]
    while stack:
        value, location = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            yield location
        elif isinstance(value, dict | list) and len(location) >= MAX_OPTION_DEPTH:
            raise ValueError(f"options.{'.'.join(map(str, location))}: nested deeper than {MAX_OPTION_DEPTH} levels")
        elif isinstance(value, dict):
            stack.extend((item, (*location, key)) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((item, (*location, index)) for index, item in reversed(list(enumerate(value))))


def spelled_out(dataset: Any) -> Any:
    """A dataset as a user types it, as DatasetSpec fields: "textlen" -> {"name": "textlen"}, and
    "upload:3" (alone or as the name) -> {"name": "custom", "path": "upload:3"}. An upload's name
    with another path as well is left as it is, for JobSpec to refuse."""
    dataset = dataset_by_name(dataset)
    if not isinstance(dataset, dict):
        return dataset
    name = dataset.get("name")
    if not (isinstance(name, str) and name.startswith(UPLOAD_PREFIX)) or dataset.get("path") not in (None, name):
        return dataset
    return {**dataset, "name": CUSTOM, "path": name}


def upload_field(dataset: Any) -> str:
    """Where a spec names its upload: the dataset itself ("upload:3"), its name, or its path."""
    if isinstance(dataset, str):
        return "dataset"
    name = dataset.get("name") if isinstance(dataset, dict) else None
    return "dataset.name" if isinstance(name, str) and name.startswith(UPLOAD_PREFIX) else "dataset.path"


class TrainSpec(_Strict):
    """Label training (the paper's Appendix A)."""

    epochs: float = Field(10, gt=0, le=MAX_EPOCHS)
    batch_size: int = Field(64, ge=1, le=MAX_BATCH)
    lr: float = Field(2e-5, gt=0, le=1.0, description=(
        f"2e-5 suits pretrained encoders; unset with model 'tiny' (random weights), {TINY_LR:g}"))
    warmup: float = Field(0.1, ge=0, le=1)
    weight_decay: float = Field(0.01, ge=0, le=MAX_DECAY)
    max_length: int = Field(64, ge=8, le=512)
    optimizer: Literal["adamw", "bertadam"] = "adamw"
    grad_clip: float | None = Field(1.0, gt=0, le=MAX_GRAD_CLIP)
    max_steps: int | None = Field(None, ge=1, le=MAX_STEPS, description="stop after this many label steps (tests, quick looks)")
    eval_every: int = Field(50, ge=1, le=MAX_STEPS, description="label steps between dev/test accuracy points")


class InfluenceSpec(_Strict):
    """Influence / embedding tuning rounds."""

    interval: int | None = Field(None, ge=1, le=MAX_STEPS, description=(
        "label steps between rounds; unset: a fifth of the run's label steps, at most 50 (jobs/rounds.py). "
        "A run needs more than interval * 1.5 label steps for one round"))
    round_epochs: int = Field(5, ge=1, le=MAX_ROUND_EPOCHS, description="passes over the round's probe set")
    probes_per_round: int = Field(75, ge=1, le=MAX_PROBES, description="probes sampled from train for each round")
    k: int = Field(5, ge=1, le=MAX_K, description="A and B examples per probe")
    tuples_per_update: int = Field(64, ge=1, le=MAX_BATCH, description="probes whose J-gradients are averaged per update")
    lr: float = Field(3e-5, gt=0, le=1.0)
    scope: Scope = Scope.ALL
    top_layers: int = Field(2, ge=1, le=MAX_LAYERS, description="transformer blocks (from the top) in the 'top' scope, plus what sits between them and the head (final norm, pooler) and the head; ALBERT: its shared layer group")
    update: Literal["scope", "all"] = Field("scope", description=(
        "which parameters an influence update differentiates and moves: 'scope' (the paper's code: the "
        "scope's parameters alone; label steps still train every parameter) or 'all' (every parameter, "
        "the score still taken over the scope). Same thing with scope 'all'"))
    optimizer: Literal["adamw", "bertadam"] = "adamw"


class AdversarialSpec(_Strict):
    weight: float = Field(0.3, ge=0, le=MAX_ADVERSARY_WEIGHT, description="gradient-reversal weight lambda")
    lr: float | None = Field(None, gt=0, le=1.0, description=(
        "the adversary's own learning rate (null: train.lr, as the paper). A new linear adversary at the "
        "encoder's lr barely moves, and the encoder can then fool it by encoding the confound inverted: "
        "acc/adversary falls below chance"))


class NeuronTuneSpec(_Strict):
    """NeuronTune (Zheng et al., ICML 2025): zero the penultimate neurons that go with errors, retrain the head.

    Uses class labels only (confounds hidden); see jobs/methods/neurontune.py."""

    parent_artifact: str | None = Field(
        None, max_length=MAX_PATH, description="model directory saved by a finished job; none: finetune with `train` first")
    activation: Literal["relu", "identity", "abs"] = Field(
        "relu", description="neuron activation scored and fed to the head: ReLU(pooled) as the authors' text models")
    lambdas: list[Annotated[float, Field(ge=-MAX_LAMBDA, le=MAX_LAMBDA)]] = Field(
        default_factory=lambda: [0.0], min_length=1, max_length=20,
        description="thresholds lambda (biased: delta > lambda); several are selected among by `select`")
    sets: Literal["union", "per_class"] = Field(
        "union", description="zero a neuron biased for any class everywhere, or only in that class's logit")
    head_init: Literal["reinit", "continue"] = Field(
        "reinit", description="retrain the head from a fresh initialisation or from the parent's weights")
    head_epochs: float = Field(20, gt=0, le=MAX_EPOCHS, description="passes over the tuning set (class-balanced batches)")
    head_batch_size: int = Field(64, ge=1, le=MAX_BATCH)
    head_lr: float = Field(1e-2, gt=0, le=1.0, description="AdamW on standardised activations")
    head_weight_decay: float = Field(0.0, ge=0, le=MAX_DECAY)
    select: Literal["sfit", "dev_acc"] = Field(
        "sfit", description="choose among lambdas by SFit (published) or by dev accuracy; class labels only")
    suggestions: int = Field(10, ge=0, le=MAX_SUGGESTIONS, description="suggested confounds to report")
    min_support: int = Field(5, ge=2, le=MAX_SUPPORT, description="texts with and without an n-gram it needs to be suggested")


class DiagnosticsSpec(_Strict):
    """Live CID and Figure-1 histograms."""

    cid_every: int = Field(50, ge=0, le=MAX_STEPS, description="label steps between live CID points; 0 = only around rounds and at the end")
    probes: int = Field(40, ge=1, le=MAX_PROBES)
    sample: int = Field(100, ge=2, le=MAX_SAMPLE, description="training examples per A and B group per probe (bounds the cost)")
    score: Literal["cosine", "dot", "embedding"] = "cosine"
    scope: Scope = Scope.ALL
    top_layers: int = Field(2, ge=1, le=MAX_LAYERS)
    histogram_probes: int = Field(4, ge=0, le=MAX_HISTOGRAM_PROBES, description="probes whose A/B lists are kept at each CID point")


def _constructed(model: type[M], data: JsonObject) -> M:
    """model.model_construct(**data), its enum fields made members as validation makes them."""
    members = {name: field.annotation(data[name]) for name, field in model.model_fields.items()
               if name in data and isinstance(field.annotation, type) and issubclass(field.annotation, Enum)}
    return model.model_construct(**{**data, **members})


class LoraSpec(_Strict):
    """PEFT LoRA adapters on the encoder (jobs/lora.py): the base model frozen, the adapters and
    the classifier head trained. Influence scope "lora" is the adapters' parameters."""

    r: int = Field(8, ge=1, le=MAX_LORA_RANK, description="rank of each adapter")
    alpha: float = Field(16, gt=0, le=MAX_LORA_ALPHA, description="scaling: an adapter adds (alpha / r) B A x")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout on the adapters' input while training "
                                                        "(influence is always taken in eval mode, without it)")
    targets: list[Annotated[str, Field(min_length=1, max_length=MAX_NAME, pattern=LORA_TARGET_PATTERN)]] = Field(
        default_factory=lambda: ["q", "v"], min_length=1, max_length=MAX_LORA_TARGETS, description=(
            "modules that get an adapter: q, k, v, o (the attention projections under each family's own "
            "names: query/value in BERT, q_proj/v_proj in Llama and Qwen...), qkv (a fused projection: "
            "GPT-2's c_attn, ModernBERT's Wqkv), or any module-name suffix (e.g. intermediate.dense). "
            "A string is split at commas, spaces and '+': \"q,v\""))

    @field_validator("targets", mode="before")
    @classmethod
    def _split_targets(cls, value: Any) -> Any:
        """"q,v" (the CLI's and the form's spelling) is ["q", "v"]."""
        return [t for t in re.split(r"[\s,+]+", value) if t] if isinstance(value, str) else value

    @field_validator("targets")
    @classmethod
    def _distinct_targets(cls, targets: list[str]) -> list[str]:
        if len(set(targets)) != len(targets):
            raise ValueError(f"a LoRA target is repeated: {', '.join(targets)}")
        return targets


def parse_lora(text: str) -> dict[str, Any]:
    """`--lora r=8,alpha=16,targets=q,v` -> {"r": "8", "alpha": "16", "targets": ["q", "v"]}
    (LoraSpec converts the numbers). A part without '=' continues the list of the key before it;
    an empty text: the defaults."""
    out: dict[str, Any] = {}
    key = None
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if sep:
            key = name.strip()
            if key in out:
                raise ValueError(f"--lora: '{key}' given twice")
            out[key] = [value.strip()] if key == "targets" else value.strip()
        elif key == "targets":
            out[key].append(part)
        else:
            raise ValueError(f"--lora expects KEY=VALUE parts (r, alpha, dropout, targets), got '{part}'")
    return out


def _part_model(annotation: Any) -> type[BaseModel] | None:
    """The model class of a spec part: TrainSpec, or LoraSpec of `LoraSpec | None`; None for a value."""
    members = get_args(annotation) or (annotation,)
    return next((m for m in members if isinstance(m, type) and issubclass(m, BaseModel)), None)


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
                                 description='which data; a built-in may be given by its name alone ("textlen"), '
                                             'an uploaded file by the name the dashboard shows ("upload:3")')
    model: str = Field(DEFAULT_MODEL, min_length=1, max_length=MAX_PATH, description=(
        "'minilm' (all-MiniLM-L6-v2, pretrained, offline), 'tiny' (random, for tests), a Hugging Face name "
        "or a local path"))
    method: MethodName = MethodName.FINETUNE
    preset: str | None = Field(None, json_schema_extra={"enum": [*PRESET_NAMES, None]}, description=(
        "the paper's settings under the spec's own values: 'paper' (the one for the dataset and method) "
        "or '<dataset>/<method>'"))
    seed: int = Field(2021, ge=0, le=MAX_SEED)
    device: str = Field("auto", max_length=MAX_DEVICE, description="'auto' (CUDA when present), 'cpu', 'cuda', 'cuda:1'...")
    dtype: Literal["float32", "float64"] = "float32"
    train: TrainSpec = Field(default_factory=TrainSpec)
    influence: InfluenceSpec = Field(default_factory=InfluenceSpec)
    adversarial: AdversarialSpec = Field(default_factory=AdversarialSpec)
    neurontune: NeuronTuneSpec = Field(default_factory=NeuronTuneSpec)
    diagnostics: DiagnosticsSpec = Field(default_factory=DiagnosticsSpec)
    lora: LoraSpec | None = Field(None, description=(
        "train LoRA adapters on the frozen encoder (with the classifier head) instead of every weight; "
        "null: full finetuning"))
    retry_collapsed: int = Field(0, ge=0, le=10, description="retries with the next seed when training collapses to chance")
    reference: bool = Field(False, description="use the slow reference influence paths (debugging)")

    @classmethod
    def stored(cls, data: JsonObject) -> JobSpec:
        """A spec that was validated when it was submitted (and stored as its model_dump), rebuilt
        without checking it again: the service validates once, at the API. Missing fields (a spec
        stored by an older version) take their defaults, except influence.update: a spec stored
        before it existed ran its influence updates on every parameter, so it goes on so ("all")."""
        if isinstance(data.get("influence"), dict) and "update" not in data["influence"]:
            data = {**data, "influence": {**data["influence"], "update": "all"}}
        parts = {name: _constructed(part, data[name]) for name, field in cls.model_fields.items()
                 if isinstance(data.get(name), dict) and (part := _part_model(field.annotation)) is not None}
        return _constructed(cls, {**data, **parts})

    # Where the submitted spec named an uploaded dataset, for the service's "no such upload" message.
    _upload_field: str = PrivateAttr("dataset.path")

    @model_validator(mode="wrap")
    @classmethod
    def _note_upload_field(cls, data: Any, handler: Any) -> JobSpec:
        spec = handler(data)
        if isinstance(data, dict) and "dataset" in data:
            spec._upload_field = upload_field(data["dataset"])
        return spec

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        """Spell out the dataset shorthands, then fill in the preset underneath the user's values. A
        preset that does not apply is left for the field checks (_check_preset) to name."""
        if isinstance(data, dict) and "dataset" in data:  # the preset reads the dataset's name
            data = {**data, "dataset": spelled_out(data["dataset"])}
        if isinstance(data, dict) and isinstance(data.get("preset"), str) and data["preset"] in PRESET_NAMES:
            try:
                data = apply_preset(data["preset"], data)
            except (ValueError, AttributeError, TypeError):  # no such "paper" preset, or a malformed spec
                pass
        return _model_default_lr(data)

    @field_validator("dataset", mode="before",
                     json_schema_input_type=DatasetSpec | Annotated[str, Field(max_length=MAX_PATH)])
    @classmethod
    def _dataset_by_name(cls, value: Any) -> Any:
        """`"dataset": "textlen"` is short for `{"name": "textlen"}`, `"upload:3"` for a custom dataset
        with that path: this puts the string form in the JSON schema (/docs); _apply_preset has
        already spelled it out for a preset to read."""
        return spelled_out(value)

    @field_validator("dataset")
    @classmethod
    def _check_dataset(cls, dataset: DatasetSpec) -> DatasetSpec:
        if dataset.name.startswith(UPLOAD_PREFIX):  # left so by spelled_out: a path as well
            raise ValueError(f"dataset.name '{dataset.name}' names an upload and dataset.path '{dataset.path}' "
                             f"another file: give one (an upload by its name alone, or name 'custom' with a path)")
        if dataset.name not in DATASET_NAMES:
            raise ValueError(f"unknown dataset '{dataset.name}'; valid: {', '.join(DATASET_NAMES)}, "
                             f"{UPLOAD_PREFIX}<id>")
        return dataset

    @field_validator("method", mode="before")
    @classmethod
    def _check_method(cls, method: Any) -> Any:
        """An unknown method, named with the valid ones (pydantic's own enum message says less)."""
        if isinstance(method, str) and method not in METHODS:
            raise ValueError(f"unknown method '{method}'; valid: {', '.join(METHODS)}")
        return method

    @field_validator("model")
    @classmethod
    def _check_model_name(cls, model: str) -> str:
        """A name or a path, never empty: "" (or ".") would name the data directory itself."""
        if not model.strip() or model.strip() in (".", "./"):
            raise ValueError("a model name is needed: 'minilm', 'tiny', a Hugging Face name or a model "
                             "directory under the data directory")
        return model

    @model_validator(mode="after")
    def _check_update_moves_something(self) -> JobSpec:
        """Embedding tuning's score is the pooled outputs' cosine, which the head plays no part in:
        updating the head scope alone would move nothing."""
        influence = self.influence
        if (self.method == MethodName.EMBEDDING_TUNING and influence.scope == Scope.HEAD
                and influence.update == "scope"):
            raise ValueError("embedding tuning with influence.scope 'head' and influence.update 'scope' would "
                             "move nothing (the pooled-output score does not depend on the head): use scope "
                             "'top' or 'all', or influence.update 'all'")
        return self

    @model_validator(mode="after")
    def _check_lora_scope(self) -> JobSpec:
        """Scope "lora" needs adapters: the spec's own, or (NeuronTune) those of the saved parent."""
        from_parent = self.method == "neurontune" and self.neurontune.parent_artifact
        for name, part in (("influence", self.influence), ("diagnostics", self.diagnostics)):
            if part.scope == "lora" and self.lora is None and not from_parent:
                raise ValueError(f"{name}.scope 'lora' is the LoRA adapters' parameters, and the spec has "
                                 "none: set lora (e.g. --lora r=8,alpha=16,targets=q,v) or another scope")
        return self

    @field_validator("device")
    @classmethod
    def _check_device(cls, device: str) -> str:
        if not DEVICE_PATTERN.fullmatch(device):
            raise ValueError(f"unknown device {device!r}; valid: {DEVICE_CHOICES}")
        return device

    @field_validator("preset")
    @classmethod
    def _check_preset(cls, preset: str | None, info: ValidationInfo) -> str | None:
        """A known name, and for 'paper' one that exists for the spec's dataset and method (checked
        after those two fields, which come first)."""
        if preset is None:
            return None
        if preset not in PRESET_NAMES:
            raise ValueError(f"unknown preset '{preset}'; valid: {', '.join(PRESET_NAMES)}")
        dataset, method = info.data.get("dataset"), info.data.get("method")
        if dataset is not None and method is not None:
            try:
                preset_for(preset, dataset.name, method)
            except ValueError as error:  # names the valid presets
                raise ValueError(str(error)) from None
        return preset
