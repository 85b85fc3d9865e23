"""One influence-tuning update's gradient, for any number of tuples, in memory-bounded calls.

dJ/dtheta for the mean of J over P tuples is the sum over calls of (tuples in call / P) times
that call's dJ/dtheta. Each call costs one backward per DISTINCT example in it, so tuples that
share examples (B groups are small: TextLen's same-label other-prefix group has 75 rows for
~29 probes x 5 draws per label) should share a call: tuples are packed greedily by overlap.
"""
from __future__ import annotations

import torch
from torch import nn

from jobs.influence.arguments import InfluenceArguments
from jobs.influence.chunking import auto_examples_per_call
from jobs.influence.engine import PathSink
from jobs.influence.examples import Examples
from jobs.influence.fast.batching import distinct, stack
from jobs.influence.loss import influence_loss  # the public entry point, fast path by default


def pack_by_overlap(members: list[set[int]], per_call: int) -> list[list[int]]:
    """Tuples (each a set of distinct-example ids) in groups of at most per_call: each group
    is seeded with the first tuple left and grown by the tuple sharing most examples with it."""
    left, groups = list(range(len(members))), []
    while left:
        group = [left.pop(0)]
        covered = set(members[group[0]])
        while left and len(group) < per_call:
            best = max(left, key=lambda i: (len(members[i] & covered), -i))
            left.remove(best)
            group.append(best)
            covered |= members[best]
        groups.append(group)
    return groups


def accumulate_influence_gradient(model: nn.Module, probes: Examples, a: Examples, b: Examples,
                                  args: InfluenceArguments | None = None,
                                  inputs: list[nn.Parameter] | None = None, on_path: PathSink | None = None) -> float:
    """Add dJ/dtheta of the mean J over the P tuples to every parameter's .grad (given `inputs`:
    to theirs alone, and the backward differentiates nothing else); return that J.

    probes [P], a and b [P*k] as for influence_loss. Calls hold about args.per_call() examples
    (probe + 2k each; at least one tuple; unless set, as many as fit the memory free, at most that:
    jobs.influence.chunking), grouped so shared examples share a call. on_path is
    told the engine's path of each call."""
    args = args or InfluenceArguments()
    num_probes, k = len(probes), len(a) // len(probes)
    _, inverse = distinct(stack(probes, a, b))
    ids = inverse.cpu().tolist()
    members = [{ids[i], *ids[num_probes + i * k:num_probes + (i + 1) * k],
                *ids[num_probes * (k + 1) + i * k:num_probes * (k + 1) + (i + 1) * k]} for i in range(num_probes)]
    per_call = args.per_call()
    if args.chooses_from_memory():
        tokens = int(max(int(x.attention_mask.sum(1).max()) for x in (probes, a, b)))
        per_call = auto_examples_per_call(model, tokens, 2 * k + 1, next(model.parameters()).device)
    mean_j = 0.0
    for group in pack_by_overlap(members, max(1, per_call // (2 * k + 1))):
        rows = torch.as_tensor(group)
        slots = (rows[:, None] * k + torch.arange(k)).reshape(-1)
        j = influence_loss(model, probes.take(rows), a.take(slots), b.take(slots), args, on_path)
        share = len(group) / num_probes
        (j * share).backward(inputs=inputs)
        mean_j += float(j.detach()) * share
    return mean_j
