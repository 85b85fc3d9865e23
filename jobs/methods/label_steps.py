"""How many label steps a run takes and which examples each one sees."""
from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np


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
