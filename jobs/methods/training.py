"""One run of the shared loop, as its events see it: the data tokenised, the label optimiser, the
live CID and the progress; the label step itself, the state a checkpoint keeps, and the final metrics.

jobs.methods.loop drives it; the callbacks (jobs.methods.callbacks) read it and set `stop`.
"""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from jobs.checkpoint import set_torch_random_state, torch_random_state
from jobs.contracts.enums import CidPhase
from jobs.data.dataset import ConfoundedDataset
from jobs.data.stats import confound_pairing, pairing_names
from jobs.evaluate import evaluate_split, is_collapsed
from jobs.influence import Examples
from jobs.methods.label_steps import batch_indices, total_label_steps
from jobs.methods.live_cid import LiveCID
from jobs.methods.method import Method, Run, TrainResult
from jobs.methods.optim import clip_gradients, linear_schedule, make_optimizer
from jobs.methods.run_progress import RunProgress, Sizes, Work
from jobs.models import LoadedModel, encode
from jobs.recorder import Recorder
from jobs.spec import JobSpec


@dataclass(frozen=True)
class Stop:
    """The run stops after label step `step`; whole=False: partway through the method's hook after
    it (the hook saved its state at run.boundary)."""

    step: int
    whole: bool


class Training:
    """Sets a run up (tokenise each split once, the method's setup, the label optimiser and its
    linear schedule, the progress) and holds what the loop and its callbacks share."""

    def __init__(self, method: Method, spec: JobSpec, data: ConfoundedDataset, loaded: LoadedModel,
                 recorder: Recorder, should_stop: Callable[[], bool]):
        self.start_time = time.perf_counter()
        torch.manual_seed(spec.seed)
        self.method, self.spec, self.data, self.recorder = method, spec, data, recorder
        self.model, self.device = loaded.model, loaded.device

        # Data: every split tokenised once; the counterfactual texts too, for the flip rate.
        train_split = method.training_split(data)
        if len(train_split) != len(data.train):
            raise ValueError(f"the training split has {len(train_split)} examples but the dataset's train has "
                             f"{len(data.train)}: CID groups need the same rows")
        self.splits = {"train": train_split,
                       **{k: v for k, v in method.evaluation_splits(data).items() if k != "train"}}

        def tokenise(texts):
            return encode(loaded.tokenizer, texts, spec.train.max_length)

        self.total_steps = total_label_steps(len(train_split), spec.train.batch_size, spec.train.epochs,
                                             spec.train.max_steps)
        recorder.progress(0, self.total_steps, None, phase="tokenising")
        self.encodings = {name: tokenise(split.texts) for name, split in self.splits.items()}
        self.counterfactuals = {}
        if data.counterfactual is not None:
            self.counterfactuals = {name: tokenise([data.counterfactual(t) for t in split.texts])
                                    for name, split in self.splits.items()}
        self.train_examples = Examples.from_encoded(self.encodings["train"], train_split.labels, device=self.device)

        # The CID's groups are always the original train's labels and confounds.
        self.live_cid = LiveCID(spec, self.train_examples, data.train.labels, data.train.confounds,
                                data.access_index(), recorder)
        self.run = Run(spec, data, self.model, self.device, recorder, should_stop, self.train_examples,
                       self.live_cid, self.total_steps)

        # Optimiser over the classifier and whatever the method adds.
        extra_parameters = method.setup(self.run)
        self.optimizer = make_optimizer([*self.model.named_parameters(), *extra_parameters], spec.train.optimizer,
                                        spec.train.lr, spec.train.weight_decay, spec.train.grad_clip,
                                        lr_by_prefix=method.learning_rates(self.run))
        self.schedule = linear_schedule(self.optimizer, self.total_steps, spec.train.warmup)
        self.run.label_optimizer = self.optimizer
        sizes = Sizes(batch=spec.train.batch_size,
                      cid=len(self.live_cid.probe_index) + len(self.live_cid.pool_index),
                      evaluation=sum(len(self.splits[name]) for name in ("train", "dev", "test")),
                      final_evaluation=sum(len(split) for split in self.splits.values())
                      * (2 if self.counterfactuals else 1))
        self.progress = self.run.progress = self.live_cid.progress = RunProgress(
            recorder, self.total_steps, spec.diagnostics.cid_every, spec.train.eval_every, sizes,
            method.work_plan(self.run), lambda kind: method.unit_cost(self.run, kind))
        recorder.log(f"{method.name}: {len(train_split)} training examples, {self.total_steps} label steps, "
                     f"{len(self.live_cid.probe_index)} CID probes, pool {len(self.live_cid.pool_index)}")

        self.first_step = self.step = 0   # the step resumed after, and the latest label step
        self.pending = False  # resumed partway through the hook after first_step: that step's hook goes on first
        self.resumed = False
        self.loss_value = float("nan")
        self.stop: Stop | None = None     # set by a callback (jobs.methods.callbacks.StopCheck)

    def restore(self, resume: dict | None) -> None:
        """Continue from a saved state (state(): jobs.checkpoint), or start at step 0 (None)."""
        if resume is None:
            return
        self.first_step = self.step = int(resume["step"])
        self.loss_value = float(resume.get("loss", float("nan")))
        self.pending, self.resumed = not resume.get("whole", True), True
        self.model.load_state_dict(resume["model"])
        self.optimizer.load_state_dict(resume["optimizer"])
        self.schedule.load_state_dict(resume["schedule"])
        self.method.load_state_dict(resume["method"])
        set_torch_random_state(resume["random"])
        self.live_cid.latest = resume["cid_latest"]
        self.recorder.log(f"resumed from the checkpoint after step {self.first_step} of {self.total_steps}"
                          + (f" (partway through {self.method.name}'s work after it)" if self.pending else ""))

    def state(self, step: int, whole: bool) -> dict:
        """Everything the rest of the run depends on, after label step `step` (jobs.checkpoint);
        whole=False: partway through the method's hook after it (at run.boundary)."""
        return {"step": step, "whole": whole, "loss": self.loss_value, "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict(),
                "method": self.method.state_dict(), "random": torch_random_state(),
                "cid_latest": self.live_cid.latest}

    def label_steps(self) -> Iterator[tuple[int, np.ndarray, bool]]:
        """(step, the batch's train indices, taken) for each label step left; taken: the label step
        was taken before the checkpoint resumed from (a pending step: only its hook is left)."""
        batches = batch_indices(len(self.splits["train"]), self.spec.train.batch_size, self.total_steps,
                                self.spec.seed)
        for step, index in enumerate(itertools.islice(batches, self.first_step - self.pending, None),
                                     start=self.first_step + 1 - self.pending):
            self.step = step
            yield step, index, self.pending and step == self.first_step

    def label_step(self, index: np.ndarray, step: int) -> None:
        """One optimiser step on the method's label loss for the batch `index`."""
        self.model.train()
        loss = self.method.label_loss(self.run, self.train_examples.take(index), index, step)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip_gradients(self.optimizer, self.spec.train.grad_clip)
        self.optimizer.step()
        self.schedule.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.loss_value = float(loss.detach())
        self.recorder.scalar("loss/train", step, self.loss_value)

    def stopped(self) -> TrainResult:
        """The result of a run stopped at `stop` (only "steps" and "wall_s" in the metrics)."""
        step = self.stop.step
        self.recorder.log(f"stopped at step {step} of {self.total_steps}")
        return TrainResult({"steps": step, "wall_s": time.perf_counter() - self.start_time}, stopped=True,
                           collapsed=False, steps=step)

    def finish(self) -> TrainResult:
        """The final metrics (see jobs.methods.loop.run_method) after the last label step."""
        step, model, data = self.step, self.model, self.data
        self.progress.start(Work.FINAL_EVALUATION, step, "evaluating")
        metrics: dict = {}
        pairing = confound_pairing(data)
        for name, split in self.splits.items():
            metrics[name] = evaluate_split(model, self.encodings[name], split,
                                           counterfactual_enc=self.counterfactuals.get(name),
                                           label_names=data.label_names, confound_names=data.confound_names,
                                           pairing=pairing)
        if pairing is not None:  # what "agree" meant above, by name: {confound: label}
            metrics["agreement_pairing"] = pairing_names(data, pairing)
        self.progress.finish(Work.FINAL_EVALUATION, step)
        for name in ("train", "dev", "test"):
            self.recorder.scalar(f"acc/{name}", step, metrics[name]["acc"])
        metrics["cid"] = self.live_cid.measure(model, step, CidPhase.FINAL, record_as=self.method.final_cid_phase)
        self.progress.report("finishing")
        collapsed = is_collapsed(metrics["train"]["acc"], data.num_labels)
        if collapsed:
            self.recorder.log(f"collapsed: train accuracy {metrics['train']['acc']:.3f} is at chance")
        metrics.update(steps=step, collapsed=collapsed, wall_s=time.perf_counter() - self.start_time)
        return TrainResult(metrics, stopped=False, collapsed=collapsed, steps=step)
