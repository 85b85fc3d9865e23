"""Fast influence gaps for the influence loss J (R1) and embedding tuning (R4).

All distinct examples of the tuples (probes, A and B; a duplicate only once) go through batched
forwards and ONE backward each to the site outputs with create_graph (sites.py), in a few
batches of similar length. The only gradient dot products J needs -- each probe with its 2k
examples, and every example with itself for the norms -- come from the factors
(kernels.star_dots, kernels.self_dots), a few per example, so most weights never get a
per-example gradient at all. J is then an ordinary autograd graph over those dot products:
J.backward() differentiates through the factors into the batched backward graph, one double
backward for the whole call. That single pass is the paper's p + q - r - s: the Hessian-vector
products of a probe and of its examples share the batched graph, and each example's vector is
the sum of all its pairs' terms before any Hessian is touched.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from jobs.influence.examples import Examples
from jobs.influence.fast.batching import distinct, length_buckets, stack
from jobs.influence.fast.kernels import self_dots, star_dots
from jobs.influence.fast.sites import Plan, capture_joined

# What one more batch costs, in multiply-adds: about 10 ms of Python and kernel launches.
BATCH_OVERHEAD_MACS = 5e8


def fast_influence_gap(model: nn.Module, probes: Examples, a: Examples, b: Examples, kind: str,
                       plan: Plan | None) -> Tensor:
    """gap_i = mean_j I(a_ij, p_i) - mean_j I(b_ij, p_i): shape [P], differentiable w.r.t. every
    parameter. a and b: P*k rows each, rows [i*k:(i+1)*k] belonging to probe i.

    plan: the sites of the scope (jobs.influence.engine.choose_path); None for kind "embedding".
    The caller checks the shapes and sets eval mode."""
    num_probes = len(probes)
    k = len(a) // num_probes
    unique, inverse = distinct(stack(probes, a, b))
    # rows of the distinct examples in batches of similar length; `row` maps distinct -> joined row
    macs_per_token = sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n)
    buckets = length_buckets(unique.attention_mask.sum(1), BATCH_OVERHEAD_MACS / max(macs_per_token, 1))
    order = torch.cat(buckets)
    row = torch.empty_like(order)
    row[order] = torch.arange(len(order), device=order.device)
    inverse = row[inverse]
    batches = [unique.take(index.cpu().numpy()) for index in buckets]
    centre = inverse[:num_probes]                                                # [P]
    partners = torch.cat([inverse[num_probes:num_probes * (k + 1)].reshape(num_probes, k),
                          inverse[num_probes * (k + 1):].reshape(num_probes, k)], 1)  # [P, 2k]: A then B
    if kind == "embedding":
        rep = torch.cat([model.pooled(x.input_ids, x.attention_mask) for x in batches])  # [U, H]
        x, y = rep[partners], rep[centre][:, None]
        norms = x.norm(dim=2) * y.norm(dim=2)
        return _gap((x * y).sum(2) / norms.clamp_min(torch.finfo(norms.dtype).tiny), k)
    factors = capture_joined(model, plan, [(x.input_ids, x.attention_mask, x.labels) for x in batches],
                             create_graph=True)
    scores = sum(star_dots(f, centre, partners) for f in factors)               # [P, 2k]
    if kind == "cosine":
        norms = sum(self_dots(f) for f in factors).sqrt()                       # [U]
        scale = norms[centre][:, None] * norms[partners]
        scores = scores / scale.clamp_min(torch.finfo(scale.dtype).tiny)
    return _gap(scores, k)


def _gap(scores: Tensor, k: int) -> Tensor:
    """scores [P, 2k] (A columns, then B) -> gap [P]."""
    return scores[:, :k].mean(1) - scores[:, k:].mean(1)
