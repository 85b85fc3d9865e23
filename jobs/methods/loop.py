"""The training loop every method shares: label steps, evaluation points and live CID.

    tokenise each split once -> label optimiser + linear schedule -> CID at step 0
        (or, resuming, everything a checkpoint saved: jobs.checkpoint)
    for each label step: batch -> method.label_loss -> clip -> step
                         method.after_label_step (influence rounds)
                         live CID / accuracy points / progress; checkpoint when due;
                         stop when asked (saving a checkpoint first)
        (inside a hook's long work, an influence round, run.boundary() is a place to pause: a
         checkpoint is saved there when due or when stopping, and a resume goes on from it)
    final accuracies (per group, worst group, flip rate) and the final CID

Progress (the phase and the ETA from this run's own timings) goes through jobs.methods.run_progress.

A method changes the loop only through the hooks of `Method`; the defaults are finetuning.
Steps are label (optimiser) steps: ceil(N / batch) per epoch, every example seen once an epoch.
"""
from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from jobs.checkpoint import Checkpointer, set_torch_random_state, torch_random_state
from jobs.data.dataset import ConfoundedDataset, Split
from jobs.evaluate import evaluate_split, is_collapsed, predict
from jobs.influence import Examples
from jobs.methods.live_cid import LiveCID
from jobs.methods.optim import clip_gradients, linear_schedule, make_optimizer
from jobs.methods.run_progress import Cost, RunProgress, Sizes, Units, Work
from jobs.models import Classifier, Encoded, LoadedModel, encode
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

    name = "finetune"

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


def total_label_steps(num_examples: int, batch_size: int, epochs: float, max_steps: int | None) -> int:
    """ceil(N / batch) steps per epoch times `epochs` (rounded up), capped by max_steps."""
    total = math.ceil(math.ceil(num_examples / batch_size) * epochs)
    return min(total, max_steps) if max_steps else total


def batch_indices(num_examples: int, batch_size: int, total_steps: int, seed: int) -> Iterator[np.ndarray]:
    """`total_steps` batches of train indices: each epoch a fresh permutation cut into batches
    (the last one of an epoch may be smaller)."""
    rng = np.random.default_rng([seed, 0])
    step = 0
    while step < total_steps:
        order = rng.permutation(num_examples)
        for start in range(0, num_examples, batch_size):
            if step == total_steps:
                return
            yield order[start:start + batch_size]
            step += 1


def _accuracy(model, enc: Encoded, split: Split) -> float:
    return float((predict(model, enc) == split.labels).mean())


def run_method(method: Method, spec: JobSpec, data: ConfoundedDataset, loaded: LoadedModel, recorder: Recorder,
               should_stop: Callable[[], bool] = lambda: False, checkpointer: Checkpointer | None = None,
               resume: dict | None = None) -> TrainResult:
    """Train `loaded.model` in place with `method` and return the final metrics:

    {"train", "dev", "test" (and any other evaluation split): evaluate_split dicts,
     "cid": final CID, "steps": label steps, "collapsed": bool, "wall_s": seconds}.
    When should_stop() turns true the run ends within a step with stopped=True and only
    "steps" and "wall_s" in the metrics. With a checkpointer, the state after a label step is
    saved when it is due and when the run is stopped (a stop asked for during a step lets that
    step finish first), and inside a hook's long work (an influence round) at run.boundary(),
    between two updates, when due or stopping; `resume` (a saved state) continues a run from
    where it was saved, giving the numbers the run would have given unstopped."""
    start_time = time.perf_counter()
    torch.manual_seed(spec.seed)
    model, device = loaded.model, loaded.device

    # Data: every split tokenised once; the counterfactual texts too, for the flip rate.
    train_split = method.training_split(data)
    if len(train_split) != len(data.train):
        raise ValueError(f"the training split has {len(train_split)} examples but the dataset's train has "
                         f"{len(data.train)}: CID groups need the same rows")
    splits = {"train": train_split, **{k: v for k, v in method.evaluation_splits(data).items() if k != "train"}}

    def tokenise(texts):
        return encode(loaded.tokenizer, texts, spec.train.max_length)

    total_steps = total_label_steps(len(train_split), spec.train.batch_size, spec.train.epochs, spec.train.max_steps)
    recorder.progress(0, total_steps, None, phase="tokenising")
    encodings = {name: tokenise(split.texts) for name, split in splits.items()}
    counterfactuals = {}
    if data.counterfactual is not None:
        counterfactuals = {name: tokenise([data.counterfactual(t) for t in split.texts])
                           for name, split in splits.items()}
    train_examples = Examples.from_encoded(encodings["train"], train_split.labels, device=device)

    # The CID's groups are always the original train's labels and confounds.
    live_cid = LiveCID(spec, train_examples, data.train.labels, data.train.confounds, data.access_index(), recorder)
    run = Run(spec, data, model, device, recorder, should_stop, train_examples, live_cid, total_steps)

    # Optimiser over the classifier and whatever the method adds.
    extra_parameters = method.setup(run)
    optimizer = make_optimizer([*model.named_parameters(), *extra_parameters], spec.train.optimizer,
                               spec.train.lr, spec.train.weight_decay, spec.train.grad_clip,
                               lr_by_prefix=method.learning_rates(run))
    schedule = linear_schedule(optimizer, total_steps, spec.train.warmup)
    run.label_optimizer = optimizer
    sizes = Sizes(batch=spec.train.batch_size, cid=len(live_cid.probe_index) + len(live_cid.pool_index),
                  evaluation=sum(len(splits[name]) for name in ("train", "dev", "test")),
                  final_evaluation=sum(len(split) for split in splits.values()) * (2 if counterfactuals else 1))
    run.progress = live_cid.progress = RunProgress(
        recorder, total_steps, spec.diagnostics.cid_every, spec.train.eval_every, sizes, method.work_plan(run),
        lambda kind: method.unit_cost(run, kind))
    recorder.log(f"{method.name}: {len(train_split)} training examples, {total_steps} label steps, "
                 f"{len(live_cid.probe_index)} CID probes, pool {len(live_cid.pool_index)}")

    def state_after(step: int, whole: bool) -> dict:
        """Everything the rest of the run depends on, after label step `step` (jobs.checkpoint);
        whole=False: partway through the method's hook after it (at run.boundary)."""
        return {"step": step, "whole": whole, "loss": loss_value, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                "method": method.state_dict(), "random": torch_random_state(), "cid_latest": live_cid.latest}

    def save_checkpoint(step: int, whole: bool = True) -> None:
        nonlocal saved_point
        try:
            checkpointer.save(state_after(step, whole), recorder)
            saved_point = (step, whole)
        except Exception as error:  # a full disk or a busy store: training goes on without it
            recorder.log(f"checkpoint after step {step} not saved: {type(error).__name__}: {error}")

    def pause(step: int, stopping: bool) -> None:
        if checkpointer is not None and (stopping or checkpointer.due()):
            save_checkpoint(step, whole=False)

    run.pause = pause

    def stopped(step: int, consistent: bool = True) -> TrainResult:
        # Between steps the state is whole and saved unless it was already; a hook that stopped at
        # a boundary has saved its own (consistent=False).
        if checkpointer is not None and consistent and saved_point != (step, True):
            save_checkpoint(step)
        recorder.log(f"stopped at step {step} of {total_steps}")
        return TrainResult({"steps": step, "wall_s": time.perf_counter() - start_time}, stopped=True,
                           collapsed=False, steps=step)

    first_step, loss_value = 0, float("nan")
    pending = False  # resumed partway through the hook after first_step: that step's hook goes on first
    if resume is not None:
        first_step, loss_value = int(resume["step"]), float(resume.get("loss", float("nan")))
        pending = not resume.get("whole", True)
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        schedule.load_state_dict(resume["schedule"])
        method.load_state_dict(resume["method"])
        set_torch_random_state(resume["random"])
        live_cid.latest = resume["cid_latest"]
        recorder.log(f"resumed from the checkpoint after step {first_step} of {total_steps}"
                     + (f" (partway through {method.name}'s work after it)" if pending else ""))
    saved_point = (first_step, not pending)  # what the checkpoint on disk holds (at the start: nothing to add)
    if should_stop():
        return stopped(first_step, consistent=not pending)
    if spec.diagnostics.cid_every and resume is None:
        live_cid.measure(model, 0, "live")

    run.progress.begin_steps(first_step)
    step = first_step
    batches = batch_indices(len(train_split), spec.train.batch_size, total_steps, spec.seed)
    # A pending step took its label step before the checkpoint: only its hook and diagnostics are left.
    for step, index in enumerate(itertools.islice(batches, first_step - pending, None),
                                 start=first_step + 1 - pending):
        label_step_done = pending and step == first_step
        if not label_step_done and should_stop():
            return stopped(step - 1)
        step_start = time.perf_counter()

        if not label_step_done:  # one label step
            model.train()
            loss = method.label_loss(run, train_examples.take(index), index, step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            clip_gradients(optimizer, spec.train.grad_clip)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            loss_value = float(loss.detach())
            recorder.scalar("loss/train", step, loss_value)
            run.progress.finish(Work.LABEL_STEP, step, time.perf_counter() - step_start)

        # What the method does between label steps, then the diagnostics of this step.
        measured = method.after_label_step(run, step)
        if should_stop() and run.interrupted:
            return stopped(step, consistent=False)
        if step < total_steps:
            every = spec.diagnostics.cid_every
            if every and step % every == 0 and not measured:
                live_cid.measure(model, step, "live")
            if step % spec.train.eval_every == 0:
                evaluation_start = time.perf_counter()
                for name in ("train", "dev", "test"):
                    recorder.scalar(f"acc/{name}", step, _accuracy(model, encodings[name], splits[name]))
                run.progress.finish(Work.EVALUATION, step, time.perf_counter() - evaluation_start)
        run.progress.report("training")
        if checkpointer is not None and step < total_steps and checkpointer.due():
            save_checkpoint(step)

    # Final metrics.
    run.progress.start(Work.FINAL_EVALUATION, step, "evaluating")
    metrics: dict = {}
    for name, split in splits.items():
        metrics[name] = evaluate_split(model, encodings[name], split, counterfactual_enc=counterfactuals.get(name),
                                       label_names=data.label_names, confound_names=data.confound_names)
    run.progress.finish(Work.FINAL_EVALUATION, step)
    for name in ("train", "dev", "test"):
        recorder.scalar(f"acc/{name}", step, metrics[name]["acc"])
    metrics["cid"] = live_cid.measure(model, step, "final")
    run.progress.report("finishing")
    collapsed = is_collapsed(metrics["train"]["acc"], data.num_labels)
    if collapsed:
        recorder.log(f"collapsed: train accuracy {metrics['train']['acc']:.3f} is at chance")
    metrics.update(steps=step, collapsed=collapsed, wall_s=time.perf_counter() - start_time)
    return TrainResult(metrics, stopped=False, collapsed=collapsed, steps=step)
