"""Influence tuning (paper section 4): label steps alternate with rounds that minimise
J = (mean I(A, p) - mean I(B, p))^2, pulling a probe's same-confound and other-confound
training examples toward equal influence on it.

A round (every `interval` label steps, while more than interval/2 steps remain):
    CID "pre-round" -> model.eval() -> sample probes from the access set
    for each of `round_epochs` passes, for every `tuples_per_update` probes:
        per probe k A (same label and confound, not the probe) and k B (same label, other
        confound), drawn from the access set -> J and dJ/dtheta -> one influence-optimiser step
    CID "post-round" -> model.train()
The round has its own optimiser (no schedule), made fresh each round; with BertAdam the label
optimiser's moments are reset after it, as the original did.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from jobs.influence import Examples, ab_groups
from jobs.influence.fast.update import accumulate_influence_gradient
from jobs.methods.loop import Method, Run
from jobs.methods.optim import clip_gradients, make_optimizer, reset_moments
from jobs.methods.run_progress import Cost, Units, Work, typical_seconds

# Before any update is timed, an update is guessed at this many training examples' time (of a label
# step) per example of its tuples (probe, A and B). Gradient scores: a forward, a backward that keeps
# its graph and the double backward, those two only through the scope's share s of the layers:
# about (1 + 7 s) / 3 (all: 2.7, measured 2.8 on tiny; top 2 of MiniLM's 6: 1.1, measured 1.06;
# benchmarks/service/eta_error.py). The pooled-output score is first order (R4 of
# benchmarks/influence: about 0.4-0.5). Timed updates replace the guess.
GUESSED_EMBEDDING_UPDATE_COST = 0.5

# Examples (probes + A + B) per influence_loss call: the gradient score keeps a differentiable
# full gradient per example, so memory grows with this; the pooled-output score is light.
EXAMPLES_PER_CALL = {"cosine": 96, "dot": 96, "embedding": 1024}


def sample_tuples(probes: np.ndarray, labels: np.ndarray, confounds: np.ndarray, allowed: np.ndarray, k: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per probe, k A and k B training indices from `allowed` (with replacement only when a group
    has fewer than k). Probes lacking an A or a B example are dropped.

    Returns (kept probes [P], a [P, k], b [P, k])."""
    kept, a_rows, b_rows = [], [], []
    for probe in probes:
        a_group, b_group = ab_groups(int(probe), labels, confounds, allowed)
        if len(a_group) == 0 or len(b_group) == 0:
            continue
        kept.append(int(probe))
        a_rows.append(rng.choice(a_group, size=k, replace=len(a_group) < k))
        b_rows.append(rng.choice(b_group, size=k, replace=len(b_group) < k))
    if not kept:
        return np.zeros(0, np.int64), np.zeros((0, k), np.int64), np.zeros((0, k), np.int64)
    return np.asarray(kept, np.int64), np.stack(a_rows).astype(np.int64), np.stack(b_rows).astype(np.int64)


def influence_update(model, optimizer: torch.optim.Optimizer, train: Examples, probes: np.ndarray, a: np.ndarray,
                     b: np.ndarray, kind: str = "cosine", scope: str = "all", top_layers: int = 2,
                     grad_clip: float | None = 1.0, reference: bool = False) -> float:
    """One influence-optimiser step on the mean gradient of J over the P given tuples.

    train: the training set (rows = indices); probes [P], a and b [P, k] index it. The gradient
    is accumulated in memory-bounded calls that group tuples sharing examples (see
    jobs.influence.fast.update); reference=True uses the slow per-example path (debugging).
    Returns J (the mean over the P probes, before the step)."""
    optimizer.zero_grad(set_to_none=True)
    mean_j = accumulate_influence_gradient(
        model, train.take(probes), train.take(a.reshape(-1)), train.take(b.reshape(-1)), kind=kind, scope=scope,
        top_layers=top_layers, examples_per_call=EXAMPLES_PER_CALL[kind], reference=reference)
    clip_gradients(optimizer, grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return mean_j


class InfluenceTuning(Method):
    """Finetuning with influence-loss rounds over the gradient-cosine score."""

    name = "influence-tuning"
    kind = "cosine"

    def setup(self, run: Run):
        self.rng = np.random.default_rng([run.spec.seed, 2])
        self.updates = 0  # influence-optimiser steps so far: the x axis of "loss/influence"
        self.update_seconds: list[float] = []  # wall time of each update, for the ETA
        self.round_seconds: list[float] = []   # wall time of each whole round, CID before and after included
        return []

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "updates": self.updates,
                "update_seconds": list(self.update_seconds), "round_seconds": list(self.round_seconds)}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.updates = state["updates"]
        self.update_seconds, self.round_seconds = list(state["update_seconds"]), list(state["round_seconds"])

    def round_steps(self, run: Run) -> list[int]:
        """The label steps after which a round runs: every `interval`, while more than interval/2 remain."""
        interval = run.spec.influence.interval
        return [s for s in range(interval, run.total_steps + 1, interval) if run.total_steps - s > interval / 2]

    def updates_per_round(self, run: Run) -> int:
        settings = run.spec.influence
        probes = min(settings.probes_per_round, len(run.data.access_index()))
        return settings.round_epochs * math.ceil(probes / settings.tuples_per_update)

    def update_s(self, run: Run) -> Cost | None:
        """Seconds per influence update before the run's progress has timed one (it times them
        itself, jobs.methods.run_progress): as timed before a resume, else guessed from a training
        example's time (None before there is one)."""
        if self.update_seconds:
            return Cost(typical_seconds(self.update_seconds[-20:]), False)
        per_example = run.progress.label_example_s()
        if per_example is None:
            return None
        settings = run.spec.influence
        examples = settings.tuples_per_update * (2 * settings.k + 1)
        return Cost(self.guessed_update_cost(run) * examples * per_example.seconds, True)

    def guessed_update_cost(self, run: Run) -> float:
        """Training examples' time per example of an update's tuples, before one is timed."""
        if self.kind == "embedding":
            return GUESSED_EMBEDDING_UPDATE_COST
        settings = run.spec.influence
        layers = len(run.model.layer_names()) or 1
        share = {"all": 1.0, "top": min(settings.top_layers / layers, 1.0), "head": 0.0}[settings.scope]
        return (1 + 7 * share) / 3

    def work_plan(self, run: Run) -> dict[int, Units]:
        """A round's updates and its CID points before and after, at each round's step."""
        return {step: {Work.UPDATE: self.updates_per_round(run), Work.CID: 2} for step in self.round_steps(run)}

    def unit_cost(self, run: Run, kind: Work) -> Cost | None:
        return self.update_s(run) if kind == Work.UPDATE else None

    def after_label_step(self, run: Run, step: int) -> bool:
        if step not in self.round_steps(run):
            return False
        started = time.perf_counter()
        run.cid.measure(run.model, step, "pre-round")
        if not self.influence_round(run, step):
            run.interrupted = True  # stopped inside the round: the loop stops without saving this state
            return True
        run.cid.measure(run.model, step, "post-round")
        self.round_seconds.append(time.perf_counter() - started)
        return True

    def report_round_progress(self, run: Run, step: int, done: int, total: int, j: float) -> None:
        """After `done` updates of the round at label `step`: the phase names the update under way
        ("influence round 2/4: update 5/16"; the CID point after the last reports itself), the ETA
        counts what is left of the round, then the rest of the run."""
        run.progress.updates_done(step, done)
        if done < total:
            run.progress.report(run.progress.round_phase(step, done + 1))

    def influence_round(self, run: Run, step: int) -> bool:
        """One round at label step `step`; False if should_stop() cut it short."""
        settings, model = run.spec.influence, run.model
        started = time.perf_counter()
        allowed = run.data.access_index()
        labels, confounds = run.data.train.labels, run.data.train.confounds
        probes = self.rng.choice(allowed, size=min(settings.probes_per_round, len(allowed)), replace=False)
        optimizer = make_optimizer(model.named_parameters(), settings.optimizer, settings.lr,
                                   run.spec.train.weight_decay, run.spec.train.grad_clip)
        model.eval()
        losses = []
        total_updates = self.updates_per_round(run)
        try:
            for _ in range(settings.round_epochs):
                order = self.rng.permutation(probes)
                for start in range(0, len(order), settings.tuples_per_update):
                    if run.should_stop():
                        return False
                    kept, a, b = sample_tuples(order[start:start + settings.tuples_per_update], labels, confounds,
                                               allowed, settings.k, self.rng)
                    if len(kept) == 0:
                        continue
                    update_start = time.perf_counter()
                    j = influence_update(model, optimizer, run.train, kept, a, b, self.kind, settings.scope,
                                         settings.top_layers, run.spec.train.grad_clip, run.spec.reference)
                    self.update_seconds.append(time.perf_counter() - update_start)
                    self.updates += 1
                    losses.append(j)
                    run.recorder.scalar("loss/influence", self.updates, j)
                    self.report_round_progress(run, step, len(losses), total_updates, j)
        finally:
            model.train()
        if "bertadam" in (run.spec.train.optimizer, settings.optimizer):
            reset_moments(run.label_optimizer)
        if losses:
            run.recorder.log(f"{self.name} round at step {step}: {len(losses)} updates, J {losses[0]:.4g} -> "
                             f"{losses[-1]:.4g}, {time.perf_counter() - started:.1f}s")
        else:
            run.recorder.log(f"{self.name} round at step {step}: no probe had both an A and a B example "
                             "in the access set; nothing to tune")
        return True
