"""The measures R1, R2 and R4 (R3, the peers, is in peers.py) and their training baselines.

Every ratio is ours / baseline with both sides timed in the same run, on the same model,
sequence lengths and examples, so machine load affects both sides alike.
    baseline  one AdamW training step on a batch of 64 (train mode, dropout on), per example
    R1        one influence-tuning update, all parameters, word embeddings included (TextLen's
              best setting: 64 tuples, k = 5), over (distinct examples in its tuples x baseline)
    R2        CID diagnostic: 40 probes x N training examples, all parameters, over N x baseline
    R4        one embedding-tuning update (same tuples, pooled-output cosine), as R1
Informational rows time the previous default (per-example loops) on a slice of the same work.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.influence.measure import measure
from benchmarks.influence.workload import Workload, sample_tuples
from jobs.influence import InfluenceArguments, eval_mode, pairwise_scores, scope_parameters
from jobs.influence.scores import _gradient_scores
from jobs.influence.update import accumulate_influence_gradient


@dataclass
class Row:
    """One line of the table (and one object of the JSON)."""

    model: str
    name: str
    ours_s: float
    baseline_s: float
    ratio: float
    goal: float | None
    peak_mb: float
    note: str = ""
    device: str = "cpu"

    def as_dict(self) -> dict:
        return asdict(self)


def train_seconds_per_example(model, work: Workload, device, steps: int = 5, batch: int = 64, seed: int = 0):
    """Median over `steps` AdamW steps (after one warm-up) of a batch-64 step, divided by 64;
    and the step's peak memory. Runs on a copy: the measured model stays as it was."""
    model = copy.deepcopy(model).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
    rng = np.random.default_rng(seed)
    times, peaks = [], []
    for step in range(steps + 1):
        rows = work.train.take(rng.choice(len(work.train), size=batch, replace=False))

        def one_step(rows=rows):
            optimizer.zero_grad(set_to_none=True)
            logits, _ = model(rows.input_ids, rows.attention_mask)
            F.cross_entropy(logits, rows.labels).backward()
            optimizer.step()

        m = measure(one_step, device)
        if step:
            times.append(m.seconds)
            peaks.append(m.peak_mb)
    return float(np.median(times)) / batch, max(peaks)


def _tuples(work: Workload, num_probes: int, k: int, seed: int):
    probes, a, b = sample_tuples(work, num_probes, k, seed)
    distinct = len(set(probes.tolist()) | set(a.reshape(-1).tolist()) | set(b.reshape(-1).tolist()))
    return work.train.take(probes), work.train.take(a.reshape(-1)), work.train.take(b.reshape(-1)), distinct


def update(model, work: Workload, device, per_example: float, kind: str, num_probes: int, k: int,
           examples_per_call: int | None, seed: int = 1, reference: bool = False, scope: str = "all"):
    """One influence-optimiser step (AdamW) over num_probes tuples, on a copy of the model:
    (seconds, peak MiB, distinct examples, ratio)."""
    model = copy.deepcopy(model).eval()
    probes, a, b, distinct = _tuples(work, num_probes, k, seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-5)

    def step():
        optimizer.zero_grad(set_to_none=True)
        args = InfluenceArguments(kind=kind, scope=scope, examples_per_call=examples_per_call, reference=reference)
        j = accumulate_influence_gradient(model, probes, a, b, args)
        optimizer.step()
        return j

    m = measure(step, device)
    return m.seconds, m.peak_mb, distinct, m.seconds / (distinct * per_example)


def r1(model, name, work, device, per_example, num_probes=64, k=5, examples_per_call: int | None = 96,
       scope: str = "all", with_loop: bool = True) -> list[Row]:
    """examples_per_call None: sized from the memory free (jobs.influence.chunking)."""
    seconds, peak, distinct, ratio = update(model, work, device, per_example, "cosine", num_probes, k,
                                            examples_per_call, scope=scope)
    per_call = "sized from free memory" if examples_per_call is None else f"<= {examples_per_call} per call"
    rows = [Row(name, "R1 influence-tuning update", seconds, distinct * per_example, ratio, 4.0, peak,
                f"{num_probes} tuples k={k}, {distinct} distinct examples, {per_call}, scope {scope}")]
    if not with_loop:
        return rows
    # the previous default, one create_graph backward per example, on one tuple
    seconds, peak, distinct, ratio = update(model, work, device, per_example, "cosine", 1, k, 2 * k + 1,
                                            reference=True)
    rows.append(Row(name, "R1 (per-example loop, 1 tuple)", seconds, distinct * per_example, ratio, None, peak,
                    "previous default, for comparison"))
    return rows


def r4(model, name, work, device, per_example, num_probes=64, k=5) -> list[Row]:
    seconds, peak, distinct, ratio = update(model, work, device, per_example, "embedding", num_probes, k, 1024)
    return [Row(name, "R4 embedding-tuning update", seconds, distinct * per_example, ratio, 1.5, peak,
                f"{num_probes} tuples k={k}, {distinct} distinct examples")]


def r2(model, name, work, device, per_example, num_train=1500, num_probes=40, loop_train=0,
       scope: str = "all") -> list[Row]:
    """CID's score matrix; with loop_train > 0 also the previous default's cost per training
    example (its probe gradients, a fixed cost, are timed apart and left out)."""
    model.eval()
    probes, train = work.train.take(np.arange(num_probes)), work.train.take(np.arange(num_train))
    m = measure(lambda: pairwise_scores(model, probes, train, InfluenceArguments(kind="cosine", scope=scope)), device)
    rows = [Row(name, "R2 CID scores", m.seconds, num_train * per_example, m.seconds / (num_train * per_example),
                1.5, m.peak_mb, f"{num_probes} probes x {num_train} training examples, scope {scope}")]
    if loop_train:
        params = [p for _, p in scope_parameters(model, "all")]
        with eval_mode(model):
            def loop(n):
                return measure(lambda: _gradient_scores(model, probes, train.take(np.arange(n)), "cosine", params,
                                                        False), device)
            fixed, full = loop(1), loop(1 + loop_train)
        per_train = (full.seconds - fixed.seconds) / loop_train
        rows.append(Row(name, "R2 (per-example loop)", per_train * num_train, num_train * per_example,
                        per_train / per_example, None, full.peak_mb,
                        f"previous default, timed on {loop_train} examples, probe gradients left out"))
    return rows
