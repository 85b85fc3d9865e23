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

import time

import numpy as np
import torch

from jobs.influence import Examples, ab_groups
from jobs.influence.fast.update import accumulate_influence_gradient
from jobs.methods.loop import Method, Run
from jobs.methods.optim import clip_gradients, make_optimizer, reset_moments

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
        return []

    def after_label_step(self, run: Run, step: int) -> bool:
        interval = run.spec.influence.interval
        if step % interval != 0 or run.total_steps - step <= interval / 2:
            return False
        run.cid.measure(run.model, step, "pre-round")
        if not self.influence_round(run, step):
            return True  # stopped inside the round; the loop sees should_stop next
        run.cid.measure(run.model, step, "post-round")
        return True

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
                    j = influence_update(model, optimizer, run.train, kept, a, b, self.kind, settings.scope,
                                         settings.top_layers, run.spec.train.grad_clip, run.spec.reference)
                    self.updates += 1
                    losses.append(j)
                    run.recorder.scalar("loss/influence", self.updates, j)
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
