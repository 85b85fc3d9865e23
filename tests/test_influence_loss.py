"""The influence loss J: its value against the scores, and dJ/dtheta from one double backward
against central finite differences (float64) and against the paper's p + q - r - s formula."""

import numpy as np
import pytest
import torch
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from jobs.influence import (
    MODEL_SCOPES,
    Examples,
    InfluenceArguments,
    influence_gap,
    influence_loss,
    influence_loss_reference_hvp,
    pairwise_scores,
)
from jobs.models import encode, load_model
from tests.helpers import jittered_tiny64

TEXTS = ["positive . the cat sat on the mat", "positive . a dog ran home",
         "positive . the big red car stopped by the old house", "negative . a tree",
         "negative . sun and moon", "positive . green road", "negative . the small blue boat sailed on"]
LABELS = np.ones(len(TEXTS), dtype=np.int64)  # A and B share the probe's label, as in the paper
EPS = 1e-4


@pytest.fixture(scope="module")
def tiny64():
    return jittered_tiny64(TEXTS, LABELS)


def tuple_of(examples: Examples):
    """One probe (a "positive ." text), k=2 same-prefix A and k=2 other-prefix B examples."""
    return examples.take([0]), examples.take([1, 2]), examples.take([3, 4])


def loss_gradient(model, *args, **kwargs) -> torch.Tensor:
    """dJ/dtheta by J.backward(), flattened over all parameters: [D]."""
    model.zero_grad(set_to_none=True)
    influence_loss(model, *args, InfluenceArguments(**kwargs)).backward()
    grad = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                      for p in model.parameters()])
    model.zero_grad(set_to_none=True)
    return grad


def central_difference(model, direction: torch.Tensor, *args, **kwargs) -> float:
    """(J(theta + eps v) - J(theta - eps v)) / 2 eps, theta restored bit for bit after."""
    params = list(model.parameters())
    theta = parameters_to_vector(params).detach().clone()
    values = []
    try:
        for sign in (1, -1):
            vector_to_parameters(theta + sign * EPS * direction, params)
            values.append(influence_loss(model, *args, InfluenceArguments(**kwargs)).item())
    finally:
        vector_to_parameters(theta, params)
    return (values[0] - values[1]) / (2 * EPS)


def word_rows_direction(model, examples: Examples, generator) -> torch.Tensor:
    """A unit direction that moves only the word-embedding rows of tokens in `examples`."""
    parts = []
    for name, p in model.named_parameters():
        part = torch.zeros_like(p)
        if name.endswith("word_embeddings.weight"):
            rows = torch.unique(examples.input_ids)
            part[rows] = torch.randn(len(rows), p.shape[1], generator=generator, dtype=p.dtype)
        parts.append(part.reshape(-1))
    direction = torch.cat(parts)
    return direction / direction.norm()


@pytest.mark.parametrize("scope", MODEL_SCOPES)
@pytest.mark.parametrize("kind", ["cosine", "embedding", "dot"])
def test_loss_gradient_matches_finite_differences(tiny64, kind, scope):
    model, examples = tiny64
    probe, a, b = tuple_of(examples)
    grad = loss_gradient(model, probe, a, b, kind=kind, scope=scope)
    generator = torch.Generator().manual_seed(0)
    random = torch.randn(grad.shape, generator=generator, dtype=grad.dtype)
    directions = [random / random.norm(), word_rows_direction(model, examples.take([0, 1, 2, 3, 4]), generator)]
    for direction in directions:
        analytic = float(grad @ direction)
        numeric = central_difference(model, direction, probe, a, b, kind=kind, scope=scope)
        assert abs(numeric - analytic) <= 1e-5 * abs(analytic), (numeric, analytic)


@pytest.mark.parametrize("scope", MODEL_SCOPES)
def test_double_backward_equals_the_papers_hessian_vector_formula(tiny64, scope):
    model, examples = tiny64
    probe, a, b = tuple_of(examples)
    grad = loss_gradient(model, probe, a, b, kind="cosine", scope=scope)
    reference = torch.cat([g.reshape(-1) for g in influence_loss_reference_hvp(model, probe, a, b, scope=scope)])
    assert all(p.grad is None for p in model.parameters())
    torch.testing.assert_close(grad, reference, rtol=1e-8, atol=1e-10 * float(reference.abs().max()))


@pytest.mark.parametrize("kind", ["cosine", "dot", "embedding"])
def test_loss_is_the_squared_gap_of_the_pairwise_scores(tiny64, kind):
    model, examples = tiny64
    probes = examples.take([0, 5])                  # k=2: A rows [2i, 2i+1] belong to probe i
    a_rows, b_rows = [1, 2, 2, 1], [3, 4, 6, 3]
    scores = pairwise_scores(model, probes, examples, InfluenceArguments(kind=kind, scope="top", top_layers=1, reference=True))
    gaps = torch.stack([scores[i, a_rows[2 * i:2 * i + 2]].mean() - scores[i, b_rows[2 * i:2 * i + 2]].mean()
                        for i in range(2)])
    a, b = examples.take(a_rows), examples.take(b_rows)
    gap = influence_gap(model, probes, a, b, InfluenceArguments(kind=kind, scope="top", top_layers=1))
    torch.testing.assert_close(gap.detach(), gaps)
    torch.testing.assert_close(influence_loss(model, probes, a, b, InfluenceArguments(kind=kind, scope="top", top_layers=1)).detach(),
                               gaps.pow(2).mean())


def test_loss_runs_without_dropout_and_restores_the_mode(tiny64):
    model, examples = tiny64
    probe, a, b = tuple_of(examples)
    in_eval = influence_loss(model, probe, a, b, InfluenceArguments(scope="head")).item()
    model.train()
    try:
        loss = influence_loss(model, probe, a, b, InfluenceArguments(scope="head"))
        assert model.training
        assert loss.item() == in_eval
        loss.backward()  # the graph stays usable after the mode is restored
        assert model.head.weight.grad is not None
    finally:
        model.zero_grad(set_to_none=True)
        model.eval()


def test_mismatched_tuples_are_refused(tiny64):
    model, examples = tiny64
    with pytest.raises(ValueError):
        influence_loss(model, examples.take([0]), examples.take([1, 2]), examples.take([3]))
    with pytest.raises(ValueError):
        influence_loss(model, examples.take([0, 1]), examples.take([2, 3, 4]), examples.take([3, 4, 5]))


@pytest.mark.slow
def test_minilm_double_backward_through_eager_attention_matches_finite_differences():
    loaded = load_model("minilm", dtype=torch.float64, device="cpu")
    model = loaded.model.eval()
    examples = Examples.from_encoded(encode(loaded.tokenizer, TEXTS[:3], 32), LABELS[:3])
    probe, a, b = examples.take([0]), examples.take([1]), examples.take([2])
    grad = loss_gradient(model, probe, a, b, kind="cosine", scope="top", top_layers=1)
    direction = torch.randn(grad.shape, generator=torch.Generator().manual_seed(0), dtype=grad.dtype)
    direction /= direction.norm()
    numeric = central_difference(model, direction, probe, a, b, kind="cosine", scope="top", top_layers=1)
    assert abs(numeric - float(grad @ direction)) <= 1e-5 * abs(float(grad @ direction))
