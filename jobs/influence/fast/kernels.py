"""Dot products of per-example gradients from a site's factors (see sites.py), without the
batch ever forming a dense gradient it does not need.

Two ways to get <grad_z, grad_w> for a linear weight, with T tokens per example:
    factored      sum_{t,s} (g_z[t] . g_w[s]) (x_z[t] . x_w[s])     T*T*(d_in + d_out) per pair
    materialised  build grad_z = g_z^T x_z once per example           T*d_in*d_out per example
                  and dot it                                           d_in*d_out per pair
star_dots and self_dots pick the cheaper per site: few pairs per example (the influence loss: a probe and
its 2k examples) favour the factored form; many (a probe set against every training example)
favour materialising by this count, but scores.py weighs it against the speed of each form.

Word embeddings: an example's gradient has a row only for each of its own tokens, so
    <grad_z, grad_w> = sum_{t,s: id_z[t] = id_w[s]} g_z[t] . g_w[s]
and a dense vocab x hidden gradient is never built. The same rule covers the position and
token-type tables. Everything here is plain autograd: with factors that carry a graph, the
dot products do too.
"""
from __future__ import annotations

import torch
from torch import Tensor

from jobs.influence.fast.sites import Factors


def per_example(f: Factors) -> list[Tensor]:
    """Linear, norm or dense site: each example's gradient of every in-scope parameter, flattened:
    [B, n_weight] and/or [B, n_bias] (kept apart: joining them would copy the big one). A Conv1D's
    comes out transposed, which changes no dot product."""
    if f.site.kind == "embedding":
        raise ValueError("embedding gradients are sparse; use embedding_rows / star_dots")
    if f.site.kind == "dense":
        return [f.g.reshape(f.g.shape[0], -1)]
    parts = []
    if f.site.weight:
        if f.site.kind == "linear":
            parts.append(torch.bmm(f.g.transpose(1, 2), f.x).flatten(1))        # [B, d_out * d_in]
        else:
            parts.append((f.g * f.x).sum(1))                                     # [B, H]
    if f.site.bias:
        parts.append(f.g.sum(1))                                                 # [B, d_out]
    return parts


def squared_norms(parts: list[Tensor]) -> Tensor:
    """sum over parts of each row's squared norm: [B]. (vector_norm reduces in one pass;
    x.pow(2).sum(1) writes a temporary as big as x, 15x slower on [32, 590k].)"""
    return sum(torch.linalg.vector_norm(part, dim=1).square() for part in parts)


def _linear_factored_is_cheaper(f: Factors, pairs: int) -> bool:
    batch, tokens, d_in = f.x.shape
    d_out = f.g.shape[2]
    factored = pairs * tokens * tokens * (d_in + d_out)
    materialised = batch * tokens * d_in * d_out + pairs * d_in * d_out
    return factored < materialised


def star_dots(f: Factors, centre: Tensor, partners: Tensor) -> Tensor:
    """<grad_c, grad_w> over the site's in-scope parameters for every centre c = centre[i]
    ([P] example indices) and each of its partners w = partners[i, j] ([P, m]): [P, m].

    One matrix product per centre against all its partners' tokens at once (rather than one
    tiny product per pair); only the partners' factors are gathered."""
    num, m = partners.shape
    flat = partners.reshape(-1)

    def gram(a: Tensor) -> Tensor:          # [P, T, m*T']: centre tokens x partner tokens
        ours = a.index_select(0, centre)
        theirs = a.index_select(0, flat).reshape(num, m * a.shape[1], *a.shape[2:])
        return torch.bmm(ours, theirs.transpose(1, 2))

    def per_partner(tokens: Tensor) -> Tensor:  # [P, T, m*T] -> [P, m]
        return tokens.reshape(num, tokens.shape[1], m, -1).sum((1, 3))

    if f.site.kind == "embedding":
        ids_c = f.x.index_select(0, centre)                                      # [P, T]
        ids_w = f.x.index_select(0, flat).reshape(num, -1)                       # [P, m*T]
        match = (ids_c[:, :, None] == ids_w[:, None, :]) & (ids_c[:, :, None] >= 0)
        return per_partner(gram(f.g) * match)
    if f.site.kind == "linear" and f.site.weight and _linear_factored_is_cheaper(f, num * m):
        dots = per_partner(gram(f.g) * gram(f.x))
        if f.site.bias:
            bias = f.g.sum(1)
            dots = dots + _vector_star(bias, centre, flat, num, m)
        return dots
    return sum(_vector_star(part, centre, flat, num, m) for part in per_example(f))


def _vector_star(vectors: Tensor, centre: Tensor, flat: Tensor, num: int, m: int) -> Tensor:
    """vectors [B, n]: <vectors[centre[i]], vectors[partners[i, j]]> as [P, m]."""
    theirs = vectors.index_select(0, flat).reshape(num, m, -1)
    return torch.bmm(theirs, vectors.index_select(0, centre)[:, :, None])[:, :, 0]


def _matching_rows_dot(g_z: Tensor, valid_z: Tensor, ids_z: Tensor, g_w: Tensor, ids_w: Tensor) -> Tensor:
    """sum over token pairs with equal ids (id -1: no row) of g_z[t] . g_w[s]: [B]."""
    match = (ids_z[:, :, None] == ids_w[:, None, :]) & valid_z[:, :, None]          # [B, T, S]
    return (torch.bmm(g_z, g_w.transpose(1, 2)) * match).sum((1, 2))


def self_dots(f: Factors) -> Tensor:
    """|grad_z|^2 over the site's in-scope parameters for every example: [B]."""
    if f.site.kind == "embedding":
        return _matching_rows_dot(f.g, f.x >= 0, f.x, f.g, f.x)
    if f.site.kind == "linear" and f.site.weight and _linear_factored_is_cheaper(f, len(f.x)):
        dots = (torch.bmm(f.g, f.g.transpose(1, 2)) * torch.bmm(f.x, f.x.transpose(1, 2))).sum((1, 2))
        return dots + (f.g.sum(1).pow(2).sum(1) if f.site.bias else 0)
    return sum(part.pow(2).sum(1) for part in per_example(f))
