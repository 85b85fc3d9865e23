"""Putting examples into batches: stack, de-duplicate, group by length.

A batch pads its rows to the longest; the fast paths take every score from per-example factors
with the padding masked out, so padding changes the cost, never the result."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from jobs.influence.examples import Examples


def stack(*batches: Examples) -> Examples:
    """The rows of all batches in order, padded to the longest: [sum of N, T]."""
    length = max(b.input_ids.shape[1] for b in batches)

    def pad(x: Tensor) -> Tensor:
        return F.pad(x, (0, length - x.shape[1]))

    return Examples(torch.cat([pad(b.input_ids) for b in batches]),
                    torch.cat([pad(b.attention_mask) for b in batches]),
                    torch.cat([b.labels for b in batches]))


def distinct(ex: Examples) -> tuple[Examples, Tensor]:
    """The distinct rows (same tokens, mask and label) and, for every row, its distinct index.

    Returns (unique [U, T'] trimmed to their longest row, inverse [N] long): ex row n is unique
    row inverse[n]. Influence tuning draws A and B examples with replacement and probes can be
    each other's examples: each distinct example costs one backward, however often it occurs."""
    ids = ex.input_ids * ex.attention_mask               # whatever sits under the padding is ignored
    key = torch.cat([ids, ex.attention_mask, ex.labels[:, None]], 1)
    _, inverse = torch.unique(key, dim=0, return_inverse=True)
    first = torch.full((int(inverse.max()) + 1,), len(ex), dtype=torch.long, device=ex.device)
    first.scatter_reduce_(0, inverse, torch.arange(len(ex), device=ex.device), reduce="amin")
    return ex.take(first.cpu().numpy()), inverse


def by_length(ex: Examples, batch_size: int) -> list[Tensor]:
    """Row indices in batches of up to batch_size, shortest rows first: little padding per batch."""
    order = torch.argsort(ex.attention_mask.sum(1), stable=True)
    return list(order.split(batch_size))


def length_buckets(lengths: Tensor, overhead_tokens: float) -> list[Tensor]:
    """Split rows into batches of similar length, fewest padded tokens plus a fixed cost each.

    lengths [N]; overhead_tokens: what one more batch costs, in tokens (a forward and backward
    has a fixed cost; on a small model it is worth many tokens of padding). Returns index
    tensors, shortest rows first. An exact split of the sorted lengths by dynamic programming:
    best[j] = min over i < j of best[i] + (j - i) * length[j - 1] + overhead."""
    order = torch.argsort(lengths, stable=True)
    sorted_lengths = lengths[order].tolist()
    best, cut = [0.0], [0]
    for j in range(1, len(sorted_lengths) + 1):
        options = [(best[i] + (j - i) * sorted_lengths[j - 1] + overhead_tokens, i) for i in range(j)]
        value, start = min(options)
        best.append(value)
        cut.append(start)
    bounds, j = [], len(sorted_lengths)
    while j > 0:
        bounds.append((cut[j], j))
        j = cut[j]
    return [order[i:j] for i, j in reversed(bounds)]
