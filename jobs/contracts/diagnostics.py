"""Diagnostics: the named JSON payloads a method records once per run (jobs.recorder.Recorder.
diagnostic), kept by the store and answered by GET /api/jobs/{id}/diagnostics.

Any method may record any JSON object (`JsonObject`); NeuronTune's five are declared here, and
the engine builds them with these models (jobs.methods.neurontune), so their shape is fixed in
one place for the engine, the service (suggested confounds) and the dashboard (which parses them
with `neurontune_payload`). Every field has a default or is optional, so older rows still read.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from jobs.contracts.json_value import JsonObject  # a payload any method may record: JSON, nothing more


class _Payload(BaseModel):
    # "lambda" is a Python keyword: the field is lam, the key "lambda" (read and written).
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, serialize_by_alias=True, extra="allow")


class Histogram(BaseModel):
    edges: list[float] = Field(default_factory=list, description="bins + 1 edges, shared by the classes")
    counts: list[int] = Field(default_factory=list)


class SuggestedConfound(_Payload):
    """A candidate confound (jobs.discovery.Suggestion): among the `class_name` texts, those with
    `ngram` have a higher biased activation than the rest by `effect` pooled standard deviations
    (Cohen's d; `lower`: its 95% lower bound, the ranking key); `rule` marks it as a dataset confound."""

    ngram: str
    kind: str = Field(description="word, ngram or prefix")
    effect: float
    lower: float
    class_index: int | None = None
    class_name: str
    support: int
    mean_with: float | None = None
    mean_without: float | None = None
    rule: str = Field(description="the dataset confound rule: 'token:WORD' or 'regex:PATTERN'")
    examples: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)


class RankedSuggestion(SuggestedConfound):
    rank: int = Field(description="from 1, the best first")


class LambdaCandidate(_Payload):
    lam: float = Field(alias="lambda")
    zeroed: int = Field(description="neurons zeroed in some class")
    sfit: float | None = None
    dev_acc: float | None = None
    final_loss: float | None = None
    selected: bool = False


class ZeroedClass(BaseModel):
    count: int
    indices: list[int]


class NeuronTuneScores(_Payload):
    """neurontune.scores: delta per class (raw and as histograms) and the selected lambda."""

    lam: float | None = Field(None, alias="lambda")
    activation: str | None = None
    sets: str | None = None
    hidden_size: int | None = None
    delta: dict[str, list[float]] = Field(default_factory=dict, description="class -> delta per neuron [M]")
    histogram: dict[str, Histogram] = Field(default_factory=dict)
    sfit_parent: float | None = None
    sfit: float | None = None


class NeuronTuneZeroed(_Payload):
    """neurontune.zeroed: the neurons zeroed, in union and per class."""

    count: int = 0
    hidden_size: int | None = None
    sets: str | None = None
    indices: list[int] = Field(default_factory=list)
    per_class: dict[str, ZeroedClass] = Field(default_factory=dict)


class NeuronTuneCandidates(_Payload):
    """neurontune.candidates: every lambda tried."""

    select: str | None = None
    lam: float | None = Field(None, alias="lambda")
    candidates: list[LambdaCandidate] = Field(default_factory=list)


class NeuronTuneSuggestions(_Payload):
    """neurontune.suggestions: the ranked suggested confounds."""

    identification: str | None = None
    ranking: str | None = None
    suggestions: list[RankedSuggestion] = Field(default_factory=list)


class ComparedSplit(BaseModel):
    """What the comparison keeps of a split's metrics (jobs.methods.neurontune.COMPARED)."""

    acc: float | None = None
    worst_group_acc: float | None = None
    per_group: dict[str, float | None] = Field(default_factory=dict)
    agree_acc: float | None = None
    disagree_acc: float | None = None
    flip_rate: float | None = None


class Compared(BaseModel):
    parent: ComparedSplit
    tuned: ComparedSplit


class CidCompared(BaseModel):
    parent: float | None = None
    tuned: float | None = None


class NeuronTuneBeforeAfter(_Payload):
    """neurontune.before_after: the parent and the tuned model, split by split, and their CID."""

    parent_source: str | None = None
    parent_steps: int | None = None
    splits: dict[str, Compared] = Field(default_factory=dict)
    cid: CidCompared = Field(default_factory=CidCompared)


class NeuronTuneFindings(_Payload):
    """What NeuronTune found (a job's results' `neurontune`; the payloads above are cut from it)."""

    protocol: dict[str, str] = Field(default_factory=dict, description="what saw which labels")
    activation: str | None = None
    sets: str | None = None
    head_init: str | None = None
    lam: float | None = Field(None, alias="lambda")
    candidates: list[LambdaCandidate] = Field(default_factory=list)
    sfit_parent: float | None = None
    sfit: float | None = None
    hidden_size: int | None = None
    zeroed: list[int] = Field(default_factory=list)
    zeroed_per_class: dict[str, list[int]] = Field(default_factory=dict)
    delta: dict[str, list[float]] = Field(default_factory=dict)
    delta_histogram: dict[str, Histogram] = Field(default_factory=dict)
    head_steps: int | None = None
    suggestions: list[SuggestedConfound] = Field(default_factory=list)


NEURONTUNE_PAYLOADS: dict[str, type[BaseModel]] = {
    "neurontune.scores": NeuronTuneScores,
    "neurontune.zeroed": NeuronTuneZeroed,
    "neurontune.candidates": NeuronTuneCandidates,
    "neurontune.suggestions": NeuronTuneSuggestions,
    "neurontune.before_after": NeuronTuneBeforeAfter,
}


def neurontune_payload(name: str, payload: JsonObject) -> BaseModel:
    """A recorded NeuronTune payload as its model (KeyError for another name)."""
    return NEURONTUNE_PAYLOADS[name].model_validate(payload)
