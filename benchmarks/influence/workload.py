"""The benchmark's workload: TextLen-shaped examples and influence-tuning tuples.

TextLen (paper, section 6) cannot be shipped, so the benchmark makes look-alikes offline: label 1
sentences of int(N(25, 4)) words, label 0 of int(N(15, 4)), each after a "positive ." or
"negative ." prefix that agrees with the label for 90% of the rows, words drawn from the
tokenizer's whole-word vocabulary (so that word-embedding gradients touch as many distinct rows
as real text does). Tuples follow the paper's sampler: per probe k A examples (same label and
prefix, not the probe) and k B examples (same label, other prefix), with replacement.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jobs.influence import Examples
from jobs.models import encode


@dataclass
class Workload:
    train: Examples          # [N] tokenised, max length 64
    labels: np.ndarray       # [N]
    confounds: np.ndarray    # [N] 1 = "positive ." prefix


def textlen_like(tokenizer, size: int, seed: int = 2021, device=None) -> Workload:
    rng = np.random.default_rng(seed)
    words = sorted(w for w in tokenizer.vocab if w.isalpha() and w.islower() and len(w) >= 3)
    labels = (np.arange(size) < size // 2).astype(np.int64)          # first half long (1)
    confounds = np.where(rng.random(size) < 0.9, labels, 1 - labels)
    texts = []
    for label, confound in zip(labels, confounds, strict=True):
        length = max(3, int(rng.normal(25 if label else 15, 4)))
        prefix = "positive . " if confound else "negative . "
        texts.append(prefix + " ".join(rng.choice(words, length)))
    order = rng.permutation(size)                                      # shuffled, as TextLen is
    labels, confounds = labels[order], confounds[order]
    texts = [texts[i] for i in order]
    train = Examples.from_encoded(encode(tokenizer, texts, 64), labels, device=device)
    return Workload(train, labels, confounds)


def sample_tuples(work: Workload, num_probes: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """probes [P], a [P, k], b [P, k]: training indices, drawn as influence tuning draws them."""
    rng = np.random.default_rng(seed)
    probes = rng.choice(len(work.labels), size=num_probes, replace=False)
    a_rows, b_rows = [], []
    index = np.arange(len(work.labels))
    for p in probes:
        same_label = work.labels == work.labels[p]
        same_confound = work.confounds == work.confounds[p]
        a_group, b_group = index[same_label & same_confound & (index != p)], index[same_label & ~same_confound]
        a_rows.append(rng.choice(a_group, size=k, replace=len(a_group) < k))
        b_rows.append(rng.choice(b_group, size=k, replace=len(b_group) < k))
    return probes, np.stack(a_rows), np.stack(b_rows)
