"""Influence scores on the tiny model: the fast paths against the per-pair reference loop, and
identities every score must satisfy."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from jobs.influence import (
    KINDS,
    MODEL_SCOPES,
    InfluenceArguments,
    example_gradient,
    pairwise_scores,
    scope_parameters,
)
from jobs.influence.scores import token_vocabulary
from tests.helpers import jittered_tiny64

TEXTS = ["positive . the cat sat on the mat", "negative . a dog ran home",
         "positive . the big red car stopped by the old house", "negative . a tree",
         "positive . sun and moon", "negative . the small blue boat sailed on"]
LABELS = np.array([1, 1, 0, 1, 0, 0])


@pytest.fixture(scope="module")
def tiny64():
    return jittered_tiny64(TEXTS, LABELS)


def test_examples_take_trims_to_longest_row_and_keeps_labels(tiny64):
    _, examples = tiny64
    lengths = examples.attention_mask.sum(1)
    short = int(lengths.argmin())
    one = examples.take(short)
    assert one.input_ids.shape == (1, int(lengths[short])) and one.attention_mask.all()
    pair = examples.take([3, 0])
    assert pair.input_ids.shape[1] == int(lengths[[3, 0]].max())
    assert pair.labels.tolist() == [LABELS[3], LABELS[0]]
    assert torch.equal(pair.input_ids[1], examples.input_ids[0, :pair.input_ids.shape[1]])


def test_scope_parameters_select_the_documented_blocks(tiny64):
    model, _ = tiny64
    names = {scope: [n for n, _ in scope_parameters(model, scope, top_layers=1)] for scope in MODEL_SCOPES}
    assert names["all"] == [n for n, _ in model.named_parameters()]
    assert "encoder.embeddings.word_embeddings.weight" in names["all"]
    assert names["head"] == ["head.weight", "head.bias"]
    top = names["top"]
    assert any(n.startswith("encoder.encoder.layer.1.") for n in top)
    assert not any(n.startswith("encoder.encoder.layer.0.") or ".embeddings." in n for n in top)
    assert {"encoder.pooler.dense.weight", "head.weight"} <= set(top)
    top_both = [n for n, _ in scope_parameters(model, "top", top_layers=2)]
    assert top_both == [n for n in names["all"] if ".embeddings." not in n]
    with pytest.raises(ValueError):
        scope_parameters(model, "everything")


def test_vocabulary_gradient_keeps_only_the_word_rows_in_use(tiny64):
    model, examples = tiny64
    params = [p for _, p in scope_parameters(model, "all")]
    one = examples.take(2)
    dense = example_gradient(model, one, params)
    vocabulary = token_vocabulary(examples)
    compact = example_gradient(model, one, params, vocabulary=vocabulary)
    words = model.encoder.embeddings.word_embeddings.weight
    assert params[0] is words  # the word embeddings lead the "all" vector
    dense_rows = dense[:words.numel()].reshape(words.shape)
    torch.testing.assert_close(compact[:len(vocabulary) * words.shape[1]].reshape(len(vocabulary), -1),
                               dense_rows[vocabulary], rtol=0, atol=1e-15)
    torch.testing.assert_close(compact[len(vocabulary) * words.shape[1]:], dense[words.numel():], rtol=0, atol=0)
    unused = torch.ones(words.shape[0], dtype=torch.bool)
    unused[vocabulary] = False
    assert not dense_rows[unused].any()  # nothing is lost by dropping the other rows
    with pytest.raises(ValueError, match="vocabulary"):
        example_gradient(model, one, params, vocabulary=token_vocabulary(examples.take(3)))


@pytest.mark.parametrize("scope", MODEL_SCOPES)
@pytest.mark.parametrize("kind", KINDS)
def test_fast_path_matches_reference_loop(tiny64, kind, scope):
    model, examples = tiny64
    probes = examples.take([0, 3])
    fast = pairwise_scores(model, probes, examples, InfluenceArguments(kind=kind, scope=scope, top_layers=1))
    slow = pairwise_scores(model, probes, examples, InfluenceArguments(kind=kind, scope=scope, top_layers=1, reference=True))
    assert fast.shape == (2, len(examples))
    torch.testing.assert_close(fast, slow, rtol=1e-6, atol=1e-6 * float(slow.abs().max()))
    if kind != "dot":
        assert fast.abs().max() <= 1 + 1e-12
        # probes 0 and 3 are training rows 0 and 3: self-influence is exactly 1
        torch.testing.assert_close(fast[[0, 1], [0, 3]], torch.ones(2, dtype=fast.dtype))
        assert (fast[:, [1, 2, 4, 5]] < 1 - 1e-6).all()


@pytest.mark.parametrize("scope", MODEL_SCOPES)
def test_dot_is_cosine_times_both_gradient_norms(tiny64, scope):
    model, examples = tiny64
    probes = examples.take([1, 2])
    cosine = pairwise_scores(model, probes, examples, InfluenceArguments(kind="cosine", scope=scope))
    dot = pairwise_scores(model, probes, examples, InfluenceArguments(kind="dot", scope=scope))
    params = [p for _, p in scope_parameters(model, scope)]
    norms = torch.stack([example_gradient(model, examples.take(n), params).norm() for n in range(len(examples))])
    torch.testing.assert_close(dot, cosine * norms[[1, 2], None] * norms[None], rtol=1e-10, atol=0)


def test_head_score_is_the_augmented_pooled_cosine(tiny64):
    """Section 4.1's identity: the head's gradient for an example is c (p - onehot) [h, 1] with
    c < 0, so for two labels the head cosine is +-cos([h_1, 1], [h_2, 1]), + for equal labels."""
    model, examples = tiny64
    scores = pairwise_scores(model, examples, examples, InfluenceArguments(kind="cosine", scope="head"))
    with torch.no_grad():
        pooled = model.pooled(examples.input_ids, examples.attention_mask)
    augmented = F.normalize(torch.cat([pooled, torch.ones(len(pooled), 1, dtype=pooled.dtype)], 1), dim=1)
    same_label = torch.as_tensor(LABELS[:, None] == LABELS[None], dtype=pooled.dtype)
    torch.testing.assert_close(scores, (augmented @ augmented.T) * (2 * same_label - 1))


def test_scoring_runs_without_dropout_restores_mode_and_leaves_no_grad(tiny64):
    model, examples = tiny64
    probes = examples.take([0])
    in_eval = {kind: pairwise_scores(model, probes, examples, InfluenceArguments(kind=kind)) for kind in KINDS}
    model.train()
    try:
        # were dropout on, the train-mode scores would differ from the eval-mode ones
        for kind in KINDS:
            torch.testing.assert_close(pairwise_scores(model, probes, examples, InfluenceArguments(kind=kind)), in_eval[kind],
                                       rtol=0, atol=0)
            assert model.training
        assert all(p.grad is None for p in model.parameters())
    finally:
        model.eval()


def test_unknown_kind_is_refused(tiny64):
    model, examples = tiny64
    with pytest.raises(ValueError, match="unknown influence score"):
        pairwise_scores(model, examples.take([0]), examples, InfluenceArguments(kind="tracin"))
