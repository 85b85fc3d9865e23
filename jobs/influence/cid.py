"""Confound influence difference (CID, paper section 6.1): how much a probe's same-confound
training examples out-influence its other-confound ones.

For a probe p with label y and confound c:
    A = {training examples with label y and confound c, p itself excluded}
    B = {training examples with label y and a confound other than c}
    CID(p) = mean I over A - mean I over B
and the model's CID is the mean over probes. The original code counted p inside A, adding its
self-influence 1 to A's mean: a bias toward confounded, so p is left out here.

A and B are drawn from a fixed candidate pool (cid_pool) so that one measurement costs a bounded
number of backward passes and the trajectory over training compares like with like.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats
from torch import nn

from jobs.influence.arguments import InfluenceArguments
from jobs.influence.engine import PathSink
from jobs.influence.examples import Examples
from jobs.influence.scores import ProgressSink, pairwise_scores


@dataclass
class ProbeCID:
    """One probe's A/B scores (indices point into train) and their difference.

    p_value: Welch's t-test of A against B; nan where undefined (a group under 2, no variance)."""

    probe: int
    a_index: list[int]
    a_scores: list[float]
    b_index: list[int]
    b_scores: list[float]
    cid: float
    p_value: float


@dataclass
class CIDResult:
    """value: mean CID over the probes that had both groups (nan if none did)."""

    value: float
    per_probe: list[ProbeCID]


def _ab_masks(probe: int, labels: np.ndarray, confounds: np.ndarray,
              candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    same_label = labels[candidates] == labels[probe]
    same_confound = confounds[candidates] == confounds[probe]
    return same_label & same_confound & (candidates != probe), same_label & ~same_confound


def ab_groups(probe: int, labels: np.ndarray, confounds: np.ndarray,
              candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Training indices (from `candidates`) of the probe's A group and B group.

    labels, confounds: [N_train] over the whole training set; probe, candidates: indices into it."""
    candidates = np.asarray(candidates, dtype=np.int64)
    in_a, in_b = _ab_masks(probe, np.asarray(labels), np.asarray(confounds), candidates)
    return candidates[in_a], candidates[in_b]


def welch_p_value(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Welch t-test p-value of two samples; nan where the test is undefined."""
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # zero variance in both groups: scipy warns and returns nan
        return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def cid_from_scores(scores: np.ndarray, probe_index: np.ndarray, candidate_index: np.ndarray,
                    labels: np.ndarray, confounds: np.ndarray) -> CIDResult:
    """CID from a [P, N] score matrix: scores[i, n] = I(train[candidate_index[n]], train[probe_index[i]]).

    labels and confounds index the whole training set. Probes with an empty A or B are skipped."""
    scores = np.asarray(scores, dtype=np.float64)
    probe_index = np.asarray(probe_index, dtype=np.int64)
    candidate_index = np.asarray(candidate_index, dtype=np.int64)
    labels, confounds = np.asarray(labels), np.asarray(confounds)
    if scores.shape != (len(probe_index), len(candidate_index)):
        raise ValueError(f"scores {scores.shape} do not match {len(probe_index)} probes x "
                         f"{len(candidate_index)} candidates")
    per_probe = []
    for row, probe in zip(scores, probe_index, strict=True):
        in_a, in_b = _ab_masks(int(probe), labels, confounds, candidate_index)
        if not in_a.any() or not in_b.any():
            continue
        a_scores, b_scores = row[in_a], row[in_b]
        per_probe.append(ProbeCID(
            probe=int(probe),
            a_index=candidate_index[in_a].tolist(), a_scores=a_scores.tolist(),
            b_index=candidate_index[in_b].tolist(), b_scores=b_scores.tolist(),
            cid=float(a_scores.mean() - b_scores.mean()),
            p_value=welch_p_value(a_scores, b_scores)))
    value = float(np.mean([p.cid for p in per_probe])) if per_probe else float("nan")
    return CIDResult(value=value, per_probe=per_probe)


def cid_pool(labels: np.ndarray, confounds: np.ndarray, per_group: int, seed: int,
             allowed: np.ndarray | None = None) -> np.ndarray:
    """A fixed candidate pool: up to `per_group` training indices from each (label, confound)
    group, drawn once with `seed` from `allowed` (all of train if None). Sorted, shape [M]."""
    labels, confounds = np.asarray(labels), np.asarray(confounds)
    allowed = np.arange(len(labels)) if allowed is None else np.unique(np.asarray(allowed, dtype=np.int64))
    rng = np.random.default_rng(seed)
    pool = []
    for label in np.unique(labels[allowed]):
        for confound in np.unique(confounds[allowed]):
            group = allowed[(labels[allowed] == label) & (confounds[allowed] == confound)]
            pool.append(rng.choice(group, size=min(per_group, len(group)), replace=False))
    return np.sort(np.concatenate(pool)).astype(np.int64) if pool else np.empty(0, dtype=np.int64)


def measure_cid(model: nn.Module, train: Examples, labels: np.ndarray, confounds: np.ndarray,
                probe_index: np.ndarray, pool_index: np.ndarray, args: InfluenceArguments | None = None,
                progress: ProgressSink | None = None, on_path: PathSink | None = None) -> CIDResult:
    """The model's CID now: scores (args) of the pool on the probes, split into A and B per probe.

    train: the whole training set tokenised (rows are training indices); probe_index and
    pool_index index into it. Costs P + len(pool) backward passes (kind "embedding": forwards).
    progress: told of the pool examples scored; on_path: of the engine's path (pairwise_scores)."""
    scores = pairwise_scores(model, train.take(probe_index), train.take(pool_index), args,
                             progress=progress or False, on_path=on_path)
    return cid_from_scores(scores.double().numpy(), probe_index, pool_index, labels, confounds)
