"""What a method is to the shared loop: its hooks (`Method`), what they may use while the loop runs
(`Run`), and what a run gives back (`TrainResult`). The defaults are plain finetuning; a method
overrides its loss and hooks only (jobs.methods.loop runs them, jobs.methods.callbacks does the rest).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from jobs.contracts.enums import CidPhase, MethodName
from jobs.data.dataset import ConfoundedDataset, Split
from jobs.influence import Examples
from jobs.methods.live_cid import LiveCID
from jobs.methods.run_progress import Cost, RunProgress, Units, Work
from jobs.models import Classifier
from jobs.recorder import Recorder
from jobs.spec import JobSpec


@dataclass
class TrainResult:
    """metrics: the final metrics (see `run_method`); stopped: should_stop() ended the run early;
    collapsed: the training accuracy ended at chance; steps: label steps taken."""

    metrics: dict
    stopped: bool
    collapsed: bool
    steps: int


@dataclass
class Run:
    """What a method's hooks may use while the loop runs."""

    spec: JobSpec
    data: ConfoundedDataset
    model: Classifier
    device: torch.device
    recorder: Recorder
    should_stop: Callable[[], bool]
    train: Examples                 # the training split tokenised, on the device; rows = train indices
    cid: LiveCID
    total_steps: int
    label_optimizer: torch.optim.Optimizer | None = None
    progress: RunProgress | None = None  # reports the phase and the ETA (made after Method.setup)
    interrupted: bool = False          # a hook stopped at a boundary on should_stop() (its state saved there)
    # Saves the state inside the hook's work after label step `step` when due (or `stopping`); see boundary().
    pause: Callable[[int, bool], None] | None = None

    def boundary(self, step: int) -> bool:
        """Call inside after_label_step (after label step `step`) wherever the method's state is
        whole (state_dict() would resume from there): a checkpoint is saved when one is due or a
        stop was asked. True when the method should stop here (then set `interrupted`)."""
        stopping = self.should_stop()
        if self.pause is not None:
            self.pause(step, stopping)
        return stopping


class Method:
    """Hooks that make a method out of the shared loop. The defaults are plain finetuning."""

    name = MethodName.FINETUNE
    # The phase of the CID point measured at the end (NeuronTune's parent: "pre-round", its "before").
    final_cid_phase = CidPhase.FINAL

    def training_split(self, data: ConfoundedDataset) -> Split:
        """The split the label loss trains on."""
        return data.train

    def evaluation_splits(self, data: ConfoundedDataset) -> dict[str, Split]:
        """Splits evaluated at the end, by metrics key; "train", "dev" and "test" are also
        evaluated every eval_every steps."""
        return data.splits()

    def setup(self, run: Run) -> list[tuple[str, torch.nn.Parameter]]:
        """Called once before training; returns extra (name, parameter) pairs for the label
        optimiser (modules that live beside the classifier, like an adversary)."""
        return []

    def learning_rates(self, run: Run) -> dict[str, float]:
        """Learning rates of the label optimiser by parameter-name prefix, for parameters that
        should not move at spec.train.lr (setup's extra modules); {} for none."""
        return {}

    def label_loss(self, run: Run, batch: Examples, index: np.ndarray, step: int) -> Tensor:
        """The loss of one label step (model in train mode); index: the batch's train indices."""
        logits, _ = run.model(batch.input_ids, batch.attention_mask)
        return F.cross_entropy(logits, batch.labels)

    def after_label_step(self, run: Run, step: int) -> bool:
        """Runs after label step `step` (1-based); True if it measured CID at this step. A long
        hook calls run.boundary(step) where its state is whole and stops there when it says so,
        setting run.interrupted. Resumed from a checkpoint taken at such a boundary, it is called
        again with the same step and goes on from there (its state_dict said where)."""
        return False

    def work_plan(self, run: Run) -> dict[int, Units]:
        """The units of work `after_label_step` runs, by label step (an influence round: its
        updates and its two CID points); for the ETA. {} for plain finetuning."""
        return {}

    def unit_cost(self, run: Run, kind: Work) -> Cost | None:
        """Seconds of one unit of a kind of work the method times itself (influence updates), or
        None for the loop's own kinds."""
        return None

    def state_dict(self) -> dict:
        """What a checkpoint keeps of the method between label steps, and at run.boundary()
        inside its hook (setup's modules, random generators, a round under way); {} for plain
        finetuning."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore state_dict()'s output (after setup)."""
