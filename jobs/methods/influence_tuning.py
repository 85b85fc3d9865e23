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
optimiser's moments are reset after it, as the original did. Its updates differentiate and move
the score's scope alone (influence.update "scope", the original code's way) or every parameter
("all"); label steps always train every parameter.

A round can be paused between two updates (run.boundary): where it stands (RoundState: its
probes, the pass and position in the pass's probe order, the losses so far, the round's
optimiser) is part of state_dict(), so a checkpoint taken there resumes at the next update.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from jobs.contracts.enums import CidPhase, MethodName
from jobs.influence import Examples, InfluenceArguments, ab_groups, scope_parameters
from jobs.influence.engine import PathSink
from jobs.influence.update import accumulate_influence_gradient
from jobs.methods.engine_path import EnginePathLog
from jobs.methods.loop import Method, Run
from jobs.methods.optim import clip_gradients, make_optimizer, reset_moments
from jobs.methods.run_progress import Cost, Units, Work, typical_seconds
from jobs.rounds import is_round_step, round_steps

# Before any update is timed, an update is guessed at this many training examples' time (of a label
# step) per example of its tuples (probe, A and B). Gradient scores: a forward, a backward that keeps
# its graph and the double backward, those two only through the scope's share s of the layers:
# about (1 + 7 s) / 3 (all: 2.7, measured 2.8 on tiny; top 2 of MiniLM's 6: 1.1, measured 1.06;
# benchmarks/service/eta_error.py). The pooled-output score is first order (R4 of
# benchmarks/influence: about 0.4-0.5). Timed updates replace the guess.
GUESSED_EMBEDDING_UPDATE_COST = 0.5



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


def updated_parameters(model, scope: str = "all", top_layers: int = 2,
                       update: str = "scope") -> list[tuple[str, torch.nn.Parameter]]:
    """(name, parameter) pairs an influence update differentiates and moves (influence.update):
    "scope" the score's scope alone, as the paper's code; "all" every trainable parameter."""
    if update == "all":
        return [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if update != "scope":
        raise ValueError(f"unknown influence update '{update}'; valid: scope, all")
    return scope_parameters(model, scope, top_layers)


def influence_update(model, optimizer: torch.optim.Optimizer, train: Examples, probes: np.ndarray, a: np.ndarray,
                     b: np.ndarray, args: InfluenceArguments | None = None, grad_clip: float | None = 1.0,
                     update: str = "scope", on_path: PathSink | None = None) -> float:
    """One influence-optimiser step on the mean gradient of J (args: kind, scope, path) over the
    P given tuples.

    train: the training set (rows = indices); probes [P], a and b [P, k] index it. The gradient
    is accumulated in memory-bounded calls that group tuples sharing examples (see
    jobs.influence.update); args.reference uses the slow per-example path (debugging).
    update "scope": dJ/dtheta is taken for the scope's parameters alone (the others get no
    gradient, so no optimiser moves them); "all": for every parameter.
    Returns J (the mean over the P probes, before the step)."""
    args = args or InfluenceArguments()
    optimizer.zero_grad(set_to_none=True)
    inputs = None if update == "all" else [p for _, p in updated_parameters(model, args.scope, args.top_layers,
                                                                           update)]
    mean_j = accumulate_influence_gradient(model, train.take(probes), train.take(a.reshape(-1)),
                                           train.take(b.reshape(-1)), args, inputs=inputs, on_path=on_path)
    clip_gradients(optimizer, grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return mean_j


@dataclass
class RoundState:
    """Where the running round stands between two updates: what a checkpoint inside it keeps.
    The method's random generator (state_dict's "rng") holds the rest: the draws still to come."""

    step: int                             # the label step the round follows
    started: float                        # perf_counter() at its start (less the time before a resume)
    probes: np.ndarray | None = None      # the round's probes; None until drawn (after the pre-round CID)
    epoch: int = 0                        # passes over the probes completed
    order: np.ndarray | None = None       # this pass's probe order; None until drawn
    position: int = 0                     # where the next update's probes start in `order`
    losses: list[float] = field(default_factory=list)  # J of each update so far
    optimizer: dict | None = None         # a resumed round's optimiser state, loaded when the round goes on

    def to_dict(self, optimizer: torch.optim.Optimizer | None) -> dict:
        return {"step": self.step, "elapsed_s": time.perf_counter() - self.started, "probes": self.probes,
                "epoch": self.epoch, "order": self.order, "position": self.position, "losses": list(self.losses),
                "optimizer": optimizer.state_dict() if optimizer is not None else self.optimizer}

    @classmethod
    def from_dict(cls, state: dict) -> RoundState:
        return cls(step=state["step"], started=time.perf_counter() - state["elapsed_s"], probes=state["probes"],
                   epoch=state["epoch"], order=state["order"], position=state["position"],
                   losses=list(state["losses"]), optimizer=state["optimizer"])


class InfluenceTuning(Method):
    """Finetuning with influence-loss rounds over the gradient-cosine score."""

    name = MethodName.INFLUENCE_TUNING
    kind = "cosine"

    def setup(self, run: Run):
        self.rng = np.random.default_rng([run.spec.seed, 2])
        self.updates = 0  # influence-optimiser steps so far: the x axis of "loss/influence"
        self.update_seconds: list[float] = []  # wall time of each update, for the ETA
        self.round_seconds: list[float] = []   # wall time of each whole round, CID before and after included
        self.round: RoundState | None = None   # the round under way (between label steps: None)
        self.round_optimizer: torch.optim.Optimizer | None = None  # its optimiser, once made
        self.engine_path: EnginePathLog | None = None  # the path of the updates, in the job (first round)
        return []

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "updates": self.updates,
                "update_seconds": list(self.update_seconds), "round_seconds": list(self.round_seconds),
                "round": None if self.round is None else self.round.to_dict(self.round_optimizer)}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.updates = state["updates"]
        self.update_seconds, self.round_seconds = list(state["update_seconds"]), list(state["round_seconds"])
        self.round = RoundState.from_dict(state["round"]) if state.get("round") else None
        self.round_optimizer = None

    def round_steps(self, run: Run) -> list[int]:
        """The label steps after which a round runs: every `interval`, while more than interval/2 remain."""
        return round_steps(run.spec.influence.interval, run.total_steps)

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
        # lora: the adapters sit in every layer (as q, v do), so the double backward runs through all of them
        share = {"all": 1.0, "top": min(settings.top_layers / layers, 1.0), "head": 0.0, "lora": 1.0}[settings.scope]
        return (1 + 7 * share) / 3

    def work_plan(self, run: Run) -> dict[int, Units]:
        """A round's updates and its CID points before and after, at each round's step."""
        return {step: {Work.UPDATE: self.updates_per_round(run), Work.CID: 2} for step in self.round_steps(run)}

    def unit_cost(self, run: Run, kind: Work) -> Cost | None:
        return self.update_s(run) if kind == Work.UPDATE else None

    def after_label_step(self, run: Run, step: int) -> bool:
        if not is_round_step(run.spec.influence.interval, run.total_steps, step):
            return False
        if self.round is None:  # a new round (one resumed from a checkpoint has its pre-round CID already)
            self.round = RoundState(step, started=time.perf_counter())
            run.cid.measure(run.model, step, CidPhase.PRE_ROUND)
        if not self.influence_round(run, step):
            run.interrupted = True  # stopped between two updates: the round's state was saved there
            return True
        run.cid.measure(run.model, step, CidPhase.POST_ROUND)
        self.round_seconds.append(time.perf_counter() - self.round.started)
        self.round, self.round_optimizer = None, None
        return True

    def report_round_progress(self, run: Run, step: int, done: int, total: int, j: float) -> None:
        """After `done` updates of the round at label `step`: the phase names the update under way
        ("influence round 2/4: update 5/16"; the CID point after the last reports itself), the ETA
        counts what is left of the round, then the rest of the run."""
        run.progress.updates_done(step, done)
        if done < total:
            run.progress.report(run.progress.round_phase(step, done + 1))

    def influence_round(self, run: Run, step: int) -> bool:
        """The updates of the round at label step `step` (self.round: a new round, or one resumed
        from a checkpoint, which goes on from its next update); False if a stop was asked: it
        stops between two updates, where run.boundary saved the round's state."""
        settings, model, state = run.spec.influence, run.model, self.round
        assert state is not None and state.step == step, "a round resumed at another step"
        allowed = run.data.access_index()
        labels, confounds = run.data.train.labels, run.data.train.confounds
        if state.probes is None:
            state.probes = self.rng.choice(allowed, size=min(settings.probes_per_round, len(allowed)), replace=False)
        # The round's optimiser holds what its updates move (influence.update): the scope alone, or all.
        optimizer = make_optimizer(updated_parameters(model, settings.scope, settings.top_layers, settings.update),
                                   settings.optimizer, settings.lr, run.spec.train.weight_decay,
                                   run.spec.train.grad_clip)
        if state.optimizer is not None:  # resumed: the moments the round had built up
            optimizer.load_state_dict(state.optimizer)
            state.optimizer = None
        self.round_optimizer = optimizer
        if self.engine_path is None:
            self.engine_path = EnginePathLog(run.recorder, "update")
        model.eval()
        total_updates = self.updates_per_round(run)
        try:
            while True:
                # Between two updates the round's state is whole: saved when due, and when stopping.
                if run.boundary(step):
                    return False
                if state.epoch == settings.round_epochs:
                    break
                if state.order is None:
                    state.order = self.rng.permutation(state.probes)
                start, state.position = state.position, state.position + settings.tuples_per_update
                kept, a, b = sample_tuples(state.order[start:state.position], labels, confounds, allowed,
                                           settings.k, self.rng)
                if state.position >= len(state.order):  # the pass is done
                    state.epoch, state.order, state.position = state.epoch + 1, None, 0
                if len(kept) == 0:
                    continue
                update_start = time.perf_counter()
                args = InfluenceArguments(kind=self.kind, scope=settings.scope, top_layers=settings.top_layers,
                                          reference=run.spec.reference)
                j = influence_update(model, optimizer, run.train, kept, a, b, args, run.spec.train.grad_clip,
                                     settings.update, on_path=self.engine_path)
                self.update_seconds.append(time.perf_counter() - update_start)
                self.updates += 1
                state.losses.append(j)
                run.recorder.scalar("loss/influence", self.updates, j)
                self.report_round_progress(run, step, len(state.losses), total_updates, j)
        finally:
            model.train()
        if "bertadam" in (run.spec.train.optimizer, settings.optimizer):
            reset_moments(run.label_optimizer)
        losses = state.losses
        if losses:
            run.recorder.log(f"{self.name} round at step {step}: {len(losses)} updates, J {losses[0]:.4g} -> "
                             f"{losses[-1]:.4g}, {time.perf_counter() - state.started:.1f}s")
        else:
            run.recorder.log(f"{self.name} round at step {step}: no probe had both an A and a B example "
                             "in the access set; nothing to tune")
        return True
