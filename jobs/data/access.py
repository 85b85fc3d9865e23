"""Confound access (the paper's Table 3): the share of train whose confound values methods may read.

Influence tuning, embedding tuning and the adversary need each example's confound group; the
paper limits them to a random m% of train to show how little annotation they need.
"""
from __future__ import annotations

import numpy as np


def access_subset(n_train: int, rate: float, seed: int) -> np.ndarray:
    """Sorted int64 indices [M] of a random M = round(rate * n_train) training examples (at least 1).

    rate: share in (0, 1]; 1 gives every index. The subset is fixed by `seed`.
    """
    if not 0 < rate <= 1:
        raise ValueError(f"access rate must be in (0, 1], got {rate}")
    if n_train < 1:
        raise ValueError("access subset of an empty train split")
    size = min(n_train, max(1, round(rate * n_train)))
    chosen = np.random.default_rng(seed).choice(n_train, size=size, replace=False)
    return np.sort(chosen).astype(np.int64)
