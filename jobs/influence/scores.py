"""Influence scores I(z_trn, z_prb) between probe and training examples (paper, section 2).

cosine:    cos(grad L(z_trn), grad L(z_prb)), the gradients taken over a parameter scope; the
           paper's definition (with scope "all").
dot:       grad L(z_trn) . grad L(z_prb), TracIn's gradient product at one checkpoint.
embedding: cos(h_trn, h_prb) of the pooled outputs (section 4.1); the scope plays no part.

Every score is taken one example at a time with the model in eval mode (no dropout), as the
paper does: a batch's mean loss would mix the examples' gradients.
"""
from __future__ import annotations

import contextlib
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from jobs.influence.arguments import InfluenceArguments
from jobs.influence.engine import PathSink, choose_path, report
from jobs.influence.examples import Examples
from jobs.influence.scope import scope_parameters
from jobs.spec import SCORES

KINDS = SCORES


@contextlib.contextmanager
def eval_mode(model: nn.Module):
    """Dropout off inside the block; the model's previous train/eval mode restored after."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def example_loss(model: nn.Module, ex: Examples) -> Tensor:
    """Mean cross-entropy over the batch, a scalar. The caller chooses train or eval mode."""
    logits, _ = model(ex.input_ids, ex.attention_mask)
    return F.cross_entropy(logits, ex.labels)


def token_vocabulary(*batches: Examples) -> Tensor:
    """Sorted unique token ids [U] of the batches: the only word-embedding rows their gradients touch."""
    return torch.unique(torch.cat([b.input_ids.reshape(-1) for b in batches]))


def example_gradient(model: nn.Module, ex: Examples, params: list[nn.Parameter],
                     create_graph: bool = False, vocabulary: Tensor | None = None) -> Tensor:
    """Gradient of `ex`'s mean loss w.r.t. `params`, flattened and concatenated: shape [D].

    With create_graph the result stays differentiable w.r.t. every model parameter (for the
    influence loss); without it the result is detached. Never touches any `.grad`.

    vocabulary: sorted token ids [U] covering every example that will be compared. When given
    and the word-embedding matrix is in `params`, only its [U, H] rows of those tokens are kept:
    the other rows are zero for all these examples, so dot products and norms are unchanged while
    the vector shrinks (MiniLM: 11.7M of 22.7M numbers are word embeddings). The rows are taken
    from autograd's own gradient of the matrix, so whatever the module does with its rows (Gemma
    scales them) the gradient stays exact."""
    grads = list(torch.autograd.grad(example_loss(model, ex), params, create_graph=create_graph,
                                     allow_unused=True, materialize_grads=True))
    embedding = _word_embedding(model) if vocabulary is not None else None
    if embedding is not None:
        for slot, p in enumerate(params):
            if p is embedding.weight:
                ids = ex.input_ids.reshape(-1)
                rows = torch.searchsorted(vocabulary, ids).clamp_max(len(vocabulary) - 1)
                if not torch.equal(vocabulary[rows], ids):
                    raise ValueError("the vocabulary misses some of the example's tokens")
                grads[slot] = grads[slot].index_select(0, vocabulary)
    flat = torch.cat([g.reshape(-1) for g in grads])
    return flat if create_graph else flat.detach()


def _word_embedding(model: nn.Module) -> nn.Embedding | None:
    encoder = getattr(model, "encoder", None)
    get = getattr(encoder, "get_input_embeddings", None)
    return get() if get is not None else None


def similarity(x: Tensor, y: Tensor, kind: str) -> Tensor:
    """Dot product ("dot") or cosine ("cosine", "embedding") over the last dim; broadcasts.

    A zero vector has cosine 0 with everything rather than nan."""
    dot = (x * y).sum(-1)
    if kind == "dot":
        return dot
    norms = x.norm(dim=-1) * y.norm(dim=-1)
    return dot / norms.clamp_min(torch.finfo(norms.dtype).tiny)


def pairwise_scores(model: nn.Module, probes: Examples, train: Examples, args: InfluenceArguments | None = None,
                    progress: bool | ProgressSink = False, on_path: PathSink | None = None) -> Tensor:
    """Influence of every training example on every probe: a [P, N] tensor on the CPU.

    scores[i, n] = I(train[n], probes[i]) of args.kind over args.scope. Dtype follows the model.
    The model is in eval mode during the computation and gets its previous mode back after.

    The default path (jobs.influence.fast.scores) takes every example's gradient factors from
    batched backwards and forms all probe-example dot products from them. Where a scope parameter
    has no exact fast rule it falls back to _gradient_scores (each probe's gradient once, [P, D]
    kept, then one backward per training example) and says why. kind "embedding" runs batched
    forwards only. args.reference is the plain per-pair loop with dense gradients, kept as the
    fast paths' oracle. The path taken goes to on_path (jobs.influence.engine.EnginePath).
    progress=True shows a tqdm bar over the training examples; a ProgressSink is told instead
    (the live CID's progress reports)."""
    args = args or InfluenceArguments()
    params = [p for _, p in scope_parameters(model, args.scope, args.top_layers)]
    with eval_mode(model):
        plan, path = choose_path(model, args, params, probes)
        report(on_path, path)
        if path.path == "reference":
            return _reference_scores(model, probes, train, args.kind, params)
        if path.path == "embedding":
            return _embedding_scores(model, probes, train)
        if plan is None:
            return _gradient_scores(model, probes, train, args.kind, params, progress)
        from jobs.influence.fast.scores import fast_gradient_scores

        bar = _maybe_progress(len(train), progress, "influence")
        try:
            return fast_gradient_scores(model, probes, train, args.kind, plan, args.batch_size, progress=bar)
        finally:
            bar.close()


def _gradient_scores(model, probes: Examples, train: Examples, kind: str, params,
                     progress: bool | ProgressSink) -> Tensor:
    vocabulary = token_vocabulary(probes, train)
    probe_grads = torch.stack([example_gradient(model, probes.take(i), params, vocabulary=vocabulary)
                               for i in range(len(probes))])                  # [P, D]
    probe_norms = probe_grads.norm(dim=1)                                   # [P]
    scores = torch.empty(len(probes), len(train), dtype=probe_grads.dtype)
    bar = _maybe_progress(len(train), progress, "influence")
    for n in range(len(train)):
        train_grad = example_gradient(model, train.take(n), params, vocabulary=vocabulary)  # [D]
        dots = probe_grads @ train_grad                                     # [P]
        if kind == "cosine":
            norms = probe_norms * train_grad.norm()
            dots = dots / norms.clamp_min(torch.finfo(norms.dtype).tiny)
        scores[:, n] = dots.cpu()
        bar.update(1)
    bar.close()
    return scores


@torch.no_grad()
def _embedding_scores(model, probes: Examples, train: Examples, batch_size: int = 64) -> Tensor:
    def pooled(ex: Examples) -> Tensor:
        chunks = [ex.take(range(s, min(s + batch_size, len(ex)))) for s in range(0, len(ex), batch_size)]
        return torch.cat([model.pooled(c.input_ids, c.attention_mask) for c in chunks])

    probe_h = F.normalize(pooled(probes), dim=1)
    train_h = F.normalize(pooled(train), dim=1)
    return (probe_h @ train_h.T).cpu()


def _reference_scores(model, probes: Examples, train: Examples, kind: str, params) -> Tensor:
    """One pair at a time, per-parameter sums: slow and plain, the oracle of the paths above."""
    def grads(ex: Examples) -> list[Tensor]:
        return torch.autograd.grad(example_loss(model, ex), params, allow_unused=True, materialize_grads=True)

    dtype = next(model.parameters()).dtype
    scores = torch.empty(len(probes), len(train), dtype=dtype)
    for i in range(len(probes)):
        for n in range(len(train)):
            probe, example = probes.take(i), train.take(n)
            if kind == "embedding":
                with torch.no_grad():
                    hp = model.pooled(probe.input_ids, probe.attention_mask)[0]
                    hn = model.pooled(example.input_ids, example.attention_mask)[0]
                scores[i, n] = float(hp @ hn / (hp.norm() * hn.norm()))
                continue
            gp, gn = grads(probe), grads(example)
            dot = sum(float((a * b).sum()) for a, b in zip(gp, gn, strict=True))
            norm_p = sum(float((a * a).sum()) for a in gp) ** 0.5
            norm_n = sum(float((b * b).sum()) for b in gn) ** 0.5
            scores[i, n] = dot if kind == "dot" else dot / (norm_p * norm_n)
    return scores


class ProgressSink(Protocol):
    """What pairwise_scores tells of its progress: update(n) after n more training examples."""

    def update(self, n: int) -> None: ...
    def close(self) -> None: ...


class _NoProgress:
    def update(self, n: int) -> None: pass
    def close(self) -> None: pass


def _maybe_progress(total: int, progress: bool | ProgressSink, desc: str):
    if progress is not True:
        return progress or _NoProgress()
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, leave=False)
