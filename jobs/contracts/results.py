"""A job's final results: what the engine reports once (jobs.recorder.Recorder.result), the store
keeps as JSON (jobs.metrics, this model's model_dump(mode="json")) and the API answers typed.

Accuracies are fractions in [0, 1]; None where a group or subset is empty or undefined. Older
rows (and methods that add their own numbers) carry fields not named here: they are kept.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from jobs.contracts.diagnostics import NeuronTuneFindings
from jobs.contracts.enums import POOLING_DESCRIPTION, JobStatus, ModelKind, Pooling
from jobs.contracts.json_value import JsonObject

SPLITS = ("train", "dev", "test", "control_test")


class SplitMetrics(BaseModel):
    """One split's accuracy, broken down the ways a confound shows up (jobs.evaluate.accuracy_report)."""

    model_config = ConfigDict(extra="allow")

    acc: float | None = None
    per_group: dict[str, float | None] = Field(default_factory=dict,
                                               description="accuracy per '<label>|<confound>' group")
    worst_group_acc: float | None = Field(None, description="the lowest group accuracy")
    agree_acc: float | None = Field(None, description="accuracy where the confound agrees with the label")
    disagree_acc: float | None = Field(None, description="accuracy where it does not")
    flip_rate: float | None = Field(None, description="predictions that change when the confound is swapped "
                                                      "or removed (None without counterfactual texts)")
    n: int | None = Field(None, description="examples in the split")

    @property
    def agree_gap(self) -> float | None:
        """agree minus disagree accuracy: how much the confound helps."""
        if self.agree_acc is None or self.disagree_acc is None:
            return None
        return self.agree_acc - self.disagree_acc


class ParentResults(BaseModel):
    """NeuronTune: the parent model (before tuning), evaluated like the tuned one."""

    model_config = ConfigDict(extra="allow")

    train: SplitMetrics | None = None
    dev: SplitMetrics | None = None
    test: SplitMetrics | None = None
    cid: float | None = None
    source: str | None = Field(None, description="finetune (trained in the job) or 'artifact <path>'")
    steps: int | None = None


class ArchitectureUsed(BaseModel):
    """The model a job trained, as its family's adapter read it (jobs.families): recorded in the
    job's log, as its "model" diagnostic when the model loads, and in its results."""

    model_config = ConfigDict(extra="allow")

    model_type: str = Field(description="the config's model_type")
    family: str = Field(description="the declared family's name, or 'generic' (blocks found by the generic path)")
    kind: ModelKind
    pooling: Pooling = Field(description=POOLING_DESCRIPTION)
    blocks: int = Field(description="transformer blocks found (0: none found, scope 'top' is refused)")
    after_blocks: list[str] = Field(default_factory=list, description="what sits between the blocks and the head "
                                                                      "(final norm, pooler): in scope 'top'")
    notes: list[str] = Field(default_factory=list, description="what loading changed (a pad token given)")

    def summary(self) -> str:
        """One line: 'Llama decoder (llama), pooling: the last real token, 2 blocks'."""
        pooling = {"pooler": "the pooler output", "cls": "the first token ([CLS])",
                   "last": "the last real token"}[self.pooling]
        generic = " via the generic path" if self.family == "generic" else ""
        return (f"{self.family} {self.kind} ({self.model_type}){generic}, pooling: {pooling}, "
                f"{self.blocks} block{'s' if self.blocks != 1 else ''}")


class JobResults(BaseModel):
    """The engine's final numbers of a job: per split, CID, and how the run ended."""

    model_config = ConfigDict(extra="allow")

    train: SplitMetrics | None = None
    dev: SplitMetrics | None = None
    test: SplitMetrics | None = None
    control_test: SplitMetrics | None = None
    cid: float | None = Field(None, description="final CID (None: no probe had both an A and a B group)")
    agreement_pairing: dict[str, str] | None = Field(None, description="confound -> the label it goes with "
                                                                       "(what agree/disagree accuracy mean)")
    steps: int | None = Field(None, description="label steps taken")
    collapsed: bool | None = Field(None, description="train accuracy ended at chance")
    wall_s: float | None = None
    seed: int | None = Field(None, description="the seed of the trial that was kept")
    attempts: int | None = Field(None, description="trials run (a collapsed trial may be retried)")
    status: JobStatus | None = None
    checkpoint_step: int | None = Field(None, description="cancelled: where a resume starts")
    artifact_dir: str | None = None
    # NeuronTune
    cid_before: float | None = None
    cid_after: float | None = None
    parent: ParentResults | None = None
    neurontune: NeuronTuneFindings | None = Field(None, description="NeuronTune's findings (also its diagnostics)")
    architecture: ArchitectureUsed | None = Field(None, description="the model's family, kind and pooling")

    def split(self, name: str) -> SplitMetrics | None:
        """A split's metrics by name, also one a method added beyond SPLITS."""
        found = getattr(self, name, None) if name in SPLITS else (self.model_extra or {}).get(name)
        if isinstance(found, dict):
            return SplitMetrics.model_validate(found)
        return found if isinstance(found, SplitMetrics) else None

    def splits(self) -> dict[str, SplitMetrics]:
        """Every evaluated split, train/dev/test/control_test first."""
        names = [*SPLITS, *(k for k, v in (self.model_extra or {}).items()
                            if isinstance(v, dict) and "acc" in v and "per_group" in v)]
        return {name: found for name in names if (found := self.split(name)) is not None}


def results_of(stored: JsonObject | None) -> JobResults | None:
    """A stored metrics JSON as JobResults (None stays None; an old row's extra keys are kept)."""
    return None if stored is None else JobResults.model_validate(stored)
