"""Fast pairwise gradient scores: a probe set against many training examples (CID, R2, R3).

For a weight matrix, with the tokens of a training batch stacked as rows (G [N, d_out],
X [N, d_in]) and the real tokens of all the probes likewise (Gp [S, d_out], Xp [S, d_in]),

    <grad_b, grad_p> = sum over b's tokens t and p's tokens s of (G[t] . Gp[s]) (X[t] . Xp[s])

so all probe-by-example dot products come from two large matrix products, Gp G^T and Xp X^T
([S, N] each), an elementwise product and a sum per (probe, example) block. That is about
N * S * (d_in + d_out) multiply-adds; building each example's gradient (N * d_in * d_out) and
dotting it with P stored probe gradients (B * P * d_in * d_out) costs a similar count at
TextLen's lengths, but runs as batched products with a short inner dimension (T) and writes
B x d_out x d_in floats: measured on MiniLM, equal for 384 x 384 and 2.5x slower for 384 x 1536.
The factored form is used while it needs at most FACTORED_EFFICIENCY times the multiply-adds of
the materialised one (long sequences flip it). blocks.py adds the blocks of all token-level sites
into one before reducing, and lets sites that read one input (query, key, value) share Xp X^T.
Word embeddings use "same token id" in place of Xp X^T (an example's gradient has a row per
token it contains), so no vocab x hidden gradient is formed. Biases and LayerNorms are small
per-example vectors, dotted directly. The batch gradient is never formed: autograd.grad stops at
the site outputs.
"""
from __future__ import annotations

from collections import Counter

import torch
from torch import Tensor, nn

from jobs.influence.examples import Examples
from jobs.influence.fast.batching import by_length
from jobs.influence.fast.blocks import (
    group_by_input,
    input_key,
    owner_matrix,
    probe_group,
    token_dots,
    token_self_dots,
)
from jobs.influence.fast.kernels import per_example, self_dots, squared_norms
from jobs.influence.fast.sites import Factors, Plan, capture

# How many times more multiply-adds the factored form may take and still be chosen: large
# products run several times faster than many small ones that each write a whole gradient.
FACTORED_EFFICIENCY = {"cpu": 3.0, "cuda": 1.5}


def _vectors(f: Factors) -> list[Tensor]:
    """The per-example parts that are dotted as vectors: norm weights and biases, biases, and
    parameters read outside any module (dense)."""
    if f.site.kind in ("norm", "dense"):
        return per_example(f)
    return [f.g.sum(1)] if f.site.kind == "linear" and f.site.bias else []


class ProbeSide:
    """What the probes keep, per site: the token rows of their factors (factored sites; those at
    token level joined into blocks.TokenGroups), or their per-example gradients (materialised
    linear sites), plus bias/LayerNorm vectors. sq_norms [P]: the probes' squared gradient
    norms (None unless norms)."""

    def __init__(self, model: nn.Module, plan: Plan, probes: Examples, batch_size: int, norms: bool = True):
        sites = plan.sites
        self.num = len(probes)
        dtype = next(model.parameters()).dtype
        device = probes.device
        self.sq_norms = torch.zeros(self.num, dtype=dtype, device=device) if norms else None
        captured = []
        for index in by_length(probes, batch_size):
            batch = probes.take(index.cpu().numpy())
            factors = capture(model, plan, batch.input_ids, batch.attention_mask, batch.labels)
            if norms:
                for f in factors:
                    self.sq_norms[index] += self_dots(f)
            captured.append((index, factors))
        efficiency = FACTORED_EFFICIENCY.get(device.type, 1.5)
        mean_tokens = float(probes.attention_mask.sum()) / max(self.num, 1)
        readers = Counter(input_key(f.x) for f in captured[0][1] if f.site.kind == "linear")
        self.rows: list[tuple[Tensor, Tensor, Tensor] | None] = []       # factored, other rows: x, g, owner
        self.grads: list[list[Tensor] | None] = []                       # materialised weight
        self.vectors: list[list[Tensor]] = []
        token_sites = []                                                 # factored, the batch's token rows
        for i, site in enumerate(sites):
            pieces = [(index, factors[i]) for index, factors in captured]
            self.vectors.append(self._stack([(index, _vectors(f)) for index, f in pieces]))
            weight = site.weight and site.kind in ("linear", "embedding")
            first = pieces[0][1]
            factored = weight and (site.kind == "embedding" or self._factored_pays(
                first, mean_tokens, efficiency, readers[input_key(first.x)]))
            at_tokens = factored and first.aligned
            if at_tokens:
                token_sites.append(i)
            self.rows.append(self._token_rows(pieces) if factored and not at_tokens else None)
            self.grads.append(self._stack([(index, per_example(f)[:1]) for index, f in pieces])
                              if weight and not factored else None)
        self.groups = []
        for members in group_by_input(token_sites, captured[0][1]):
            rows = [self._token_rows([(index, factors[i]) for index, factors in captured]) for i in members]
            self.groups.append(probe_group(members, rows, sites[members[0]].kind == "embedding"))
        if self.groups:     # every token-level site has the same probe rows: any one's owners
            self.probe_owners = owner_matrix(rows[0][2], self.num, dtype)             # [S, P]

    def _factored_pays(self, f: Factors, tokens: float, efficiency: float, readers: int) -> bool:
        """readers: how many sites read this input; they share X Xp^T (blocks.py)."""
        d_in, d_out = f.x.shape[2], f.g.shape[2]
        probe_tokens = self.num * min(tokens, f.g.shape[1])
        factored = probe_tokens * (d_in / max(readers, 1) + d_out)       # per training token
        materialised = d_in * d_out * (1 + self.num / min(tokens, f.g.shape[1]))
        return factored <= efficiency * materialised

    def _stack(self, pieces: list[tuple[Tensor, list[Tensor]]]) -> list[Tensor]:
        """Per-batch lists of [Pb, n] parts -> [P, n] parts in probe order."""
        if not pieces or not pieces[0][1]:
            return []
        out = []
        for j in range(len(pieces[0][1])):
            part = pieces[0][1][j].new_empty(self.num, pieces[0][1][j].shape[1])
            for index, parts in pieces:
                part[index] = parts[j]
            out.append(part)
        return out

    @staticmethod
    def _token_rows(pieces) -> tuple[Tensor, Tensor, Tensor]:
        """The probes' real token rows, batch after batch: x, g, owner [S] (the probe of each
        row). Every site at token level gets the same rows in the same order."""
        xs, gs, owners = [], [], []
        for index, f in pieces:
            x, g, owner = f.token_rows()
            xs.append(x)
            gs.append(g)
            owners.append(index[owner])
        return torch.cat(xs), torch.cat(gs), torch.cat(owners)

    def dots(self, factors: list[Factors]) -> tuple[Tensor, Tensor | None]:
        """A training batch's dot products with every probe [P, B] and its squared norms [B]
        (None unless the probe side keeps norms)."""
        norms = self.sq_norms is not None
        batch = factors[0].g.shape[0]
        dtype, device = factors[0].g.dtype, factors[0].g.device
        dots = torch.zeros(batch, self.num, dtype=dtype, device=device)
        sq_norms = torch.zeros(batch, dtype=dtype, device=device) if norms else None
        for i, f in enumerate(factors):
            vectors = _vectors(f)
            for mine, theirs in zip(vectors, self.vectors[i], strict=True):
                dots += mine @ theirs.T
            if self.rows[i] is not None:
                dots += self._factored(f, *self.rows[i])
                if norms:
                    sq_norms += self_dots(f)
            elif self.grads[i] is not None:
                grads = per_example(f)
                dots += grads[0] @ self.grads[i][0].T
                if norms:
                    sq_norms += squared_norms(grads)
            elif norms:             # vectors only; a grouped site's weight comes below
                sq_norms += squared_norms(vectors)
        if self.groups:
            dots += token_dots(self.groups, factors, self.probe_owners)
            if norms:
                sq_norms += token_self_dots(self.groups, factors)
        return dots.T, sq_norms

    def _factored(self, f: Factors, probe_x: Tensor, probe_g: Tensor, probe_owner: Tensor) -> Tensor:
        """[B, P] weight-gradient dot products of the batch with every probe, from token rows, for
        a site whose rows are not the batch's tokens (the pooler and head read [CLS] only)."""
        x, g, owner = f.token_rows()
        blocks = (g @ probe_g.T) * (x @ probe_x.T)                              # [N, S]
        per_probe = blocks.new_zeros(len(x), self.num).index_add_(1, probe_owner, blocks)   # [N, P]
        return per_probe.new_zeros(f.g.shape[0], self.num).index_add_(0, owner, per_probe)


@torch.no_grad()
def fast_gradient_scores(model: nn.Module, probes: Examples, train: Examples, kind: str, plan: Plan,
                         batch_size: int = 32, progress=None) -> Tensor:
    """scores [P, N] (on the CPU) of kind "cosine" or "dot" over the plan's sites
    (jobs.influence.engine.choose_path makes the plan, or says why there is none).

    The caller sets eval mode. progress: an object with update(n) (per training example), or None."""
    cosine = kind == "cosine"
    probe_side = ProbeSide(model, plan, probes, batch_size, norms=cosine)      # "dot" needs no norms
    scores = torch.empty(len(probes), len(train), dtype=next(model.parameters()).dtype)
    probe_norms = probe_side.sq_norms.sqrt() if cosine else None
    for index in by_length(train, batch_size):
        batch = train.take(index.cpu().numpy())
        dots, sq_norms = probe_side.dots(capture(model, plan, batch.input_ids, batch.attention_mask,
                                                 batch.labels))
        if cosine:
            norms = probe_norms[:, None] * sq_norms.sqrt()[None]
            dots = dots / norms.clamp_min(torch.finfo(norms.dtype).tiny)
        scores[:, index.cpu()] = dots.cpu()
        if progress is not None:
            progress.update(len(index))
    return scores
