"""Neurons of the penultimate embedding that go with a model's errors (NeuronTune's scores).

The embedding is v = act(pooled), shape [N, M] (M = hidden size), with act one of ACTIVATIONS:
"relu" (the authors' text models read ReLU(dropout(pooler_output))), "identity" or "abs".
For each class y and neuron i, on a set with class labels only:

    delta[y, i] = median(v_i over misclassified class-y examples)
                - median(v_i over correctly classified class-y examples)

delta > 0: a high activation goes with errors, so the neuron is biased (spurious); delta < 0: it
supports correct predictions. Biased set S = {i : delta[y, i] > lambda}, taken per class or as
the union over classes. SFit = sum over classes and neurons of |delta|: the selection score that
needs no group labels (higher is better).

Zeroing v_i before a linear head is the same as zeroing column i of its weight, so the tuned
model keeps its shape: MaskedHead is the linear head with a fixed [C, M] keep-mask on its weight
(union: whole columns; per class: single entries) and the activation in front.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from jobs.models import Classifier, Encoded

ACTIVATIONS = ("relu", "identity", "abs")
SETS = ("union", "per_class")


def activate(pooled: Tensor, activation: str) -> Tensor:
    """v = act(pooled), same shape."""
    if activation == "relu":
        return torch.relu(pooled)
    if activation == "abs":
        return pooled.abs()
    if activation == "identity":
        return pooled
    raise ValueError(f"unknown activation '{activation}'; valid: {', '.join(ACTIVATIONS)}")


@torch.no_grad()
def embed(model: Classifier, enc: Encoded, batch_size: int = 128) -> tuple[Tensor, np.ndarray]:
    """The pooled output of every row, [N, M] (on the model's device, eval mode: no dropout),
    and the model's predicted label of each row, int64 [N]. The train/eval mode is restored."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    pooled, predictions = [], []
    try:
        for start in range(0, len(enc), batch_size):
            ids, mask = enc.batch(np.arange(start, min(start + batch_size, len(enc))), device)
            logits, out = model(ids, mask)
            pooled.append(out)
            predictions.append(logits.argmax(-1).cpu())
    finally:
        model.train(was_training)
    return torch.cat(pooled), torch.cat(predictions).numpy().astype(np.int64)


def spuriousness(v: np.ndarray, labels: np.ndarray, predictions: np.ndarray, num_labels: int,
                 keep: np.ndarray | None = None) -> np.ndarray:
    """delta [C, M] from activations v [N, M], labels [N] and predictions [N].

    keep: optional bool [C, M]; class y's scores then use v * keep[y] (what a masked head reads,
    so a zeroed neuron scores exactly 0). A class with no misclassified or no correctly
    classified example has no evidence either way: its row is 0."""
    v = np.asarray(v, dtype=np.float64)
    delta = np.zeros((num_labels, v.shape[1]))
    for y in range(num_labels):
        in_class = labels == y
        wrong, right = in_class & (predictions != y), in_class & (predictions == y)
        if not wrong.any() or not right.any():
            continue
        vy = v * keep[y] if keep is not None else v
        delta[y] = np.median(vy[wrong], axis=0) - np.median(vy[right], axis=0)
    return delta


def biased_sets(delta: np.ndarray, lam: float, sets: str = "union") -> np.ndarray:
    """Which weights to zero, bool [C, M] (True = zeroed): delta > lam per class, or, for
    "union", every class's column of a neuron biased for any class."""
    biased = delta > lam
    if sets == "union":
        return np.broadcast_to(biased.any(axis=0), biased.shape).copy()
    if sets == "per_class":
        return biased
    raise ValueError(f"unknown sets '{sets}'; valid: {', '.join(SETS)}")


# When every given lambda zeroes every neuron (seen with MiniLM on TextLen: lambda 0 marks all 384 as
# biased for some class), the head could only predict the class prior; these quantiles of the
# scores are tried as well, and only heads that keep a neuron compete in the selection.
FALLBACK_QUANTILES = (0.5, 0.75, 0.9)


def candidate_lambdas(delta: np.ndarray, lambdas: list[float], sets: str = "union") -> tuple[list[float], bool]:
    """The lambdas to try: `lambdas`, plus, when each of them zeroes every neuron, the
    FALLBACK_QUANTILES of the neurons' scores (max over classes for "union", all scores for
    "per_class"). Returns (lambdas, whether the fallback was added)."""
    if not all(biased_sets(delta, lam, sets).all() for lam in lambdas):
        return list(lambdas), False
    scores = delta.max(axis=0) if sets == "union" else delta.ravel()
    extra = sorted({float(np.quantile(scores, q)) for q in FALLBACK_QUANTILES} - set(lambdas))
    return [*lambdas, *extra], bool(extra)


def sfit(delta: np.ndarray) -> float:
    """SFit = sum over classes and neurons of |delta| (higher is better)."""
    return float(np.abs(delta).sum())


def histograms(delta: np.ndarray, label_names: list[str], bins: int = 20) -> dict[str, dict]:
    """Per class, a histogram of its delta scores: {name: {"edges": [bins + 1], "counts": [bins]}}
    over one shared range, so the classes compare bar for bar."""
    low, high = float(delta.min(initial=0.0)), float(delta.max(initial=0.0))
    if high <= low:
        high = low + 1e-6
    edges = np.linspace(low, high, bins + 1)
    return {name: {"edges": edges.tolist(), "counts": np.histogram(row, edges)[0].tolist()}
            for name, row in zip(label_names, delta, strict=True)}


class MaskedHead(nn.Module):
    """logits = (weight * keep) @ act(x) + bias: the classifier head with biased neurons zeroed.

    x: [B, M] (the dropped-out pooled output); keep: float buffer [C, M] of 0/1. The activation is
    also a buffer (its index in ACTIVATIONS), so a saved state dict describes the head fully."""

    def __init__(self, hidden: int, num_labels: int, activation: str = "relu"):
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.zeros(num_labels, hidden))
        self.bias = nn.Parameter(torch.zeros(num_labels))
        self.register_buffer("keep", torch.ones(num_labels, hidden))
        self.register_buffer("activation_code", torch.tensor(ACTIVATIONS.index(activation)))

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(activate(x, self.activation), self.weight * self.keep, self.bias)

    @property
    def zeroed(self) -> np.ndarray:
        """bool [C, M]: the weights held at zero."""
        return (self.keep == 0).cpu().numpy()


def head_from_state(state: dict[str, Tensor]) -> MaskedHead | None:
    """A MaskedHead shaped like the one in a Classifier state dict, or None for a plain linear head."""
    if "head.keep" not in state:
        return None
    num_labels, hidden = state["head.weight"].shape
    return MaskedHead(hidden, num_labels, ACTIVATIONS[int(state["head.activation_code"])])
