"""The fast influence engine against its oracles, the reference implementations: float64 on tiny
to a relative 1e-6 and float32 on MiniLM to 1e-4 (slow), for the scores, CID and dJ/dtheta, in
every parameter scope."""

import numpy as np
import pytest
import torch
from torch import nn

import jobs.influence.fast.loss as fast_loss
import jobs.influence.fast.scores as fast_scores
from jobs.influence import (
    MODEL_SCOPES,
    Examples,
    InfluenceArguments,
    eval_mode,
    influence_gap,
    influence_loss,
    measure_cid,
    pairwise_scores,
    scope_parameters,
)
from jobs.influence.fast import fast_gradient_scores, fast_influence_gap
from jobs.influence.fast.batching import distinct, length_buckets, stack
from jobs.influence.fast.sites import NoFastRule, plan_sites
from jobs.models import encode, load_model
from tests.helpers import jittered_tiny64

TEXTS = ["positive . the cat sat on the mat", "positive . a dog ran home",
         "positive . the big red car stopped by the old house on the hill", "negative . a tree",
         "negative . sun and moon", "positive . green road", "negative . the small blue boat sailed on",
         "negative . rain", "positive . birds sing in the tall old trees at dawn", "negative . cold wind"]
LABELS = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
CONFOUNDS = np.array([1, 1, 1, 0, 0, 1, 0, 0, 1, 0])


def relative_close(fast: torch.Tensor, reference: torch.Tensor, rel: float) -> None:
    """Every entry within rel of the largest reference entry (and rel of its own size)."""
    torch.testing.assert_close(fast, reference, rtol=rel, atol=rel * float(reference.abs().max()))


@pytest.fixture(scope="module")
def tiny64():
    return jittered_tiny64(TEXTS, LABELS)


def params_of(model, scope):
    return [p for _, p in scope_parameters(model, scope, top_layers=1)]


def plan_of(model, scope, examples: Examples):
    """The fast engine's plan of `scope` (top: 1 layer), checked on the first examples."""
    with eval_mode(model):
        return plan_sites(model, params_of(model, scope), examples.input_ids[:2], examples.attention_mask[:2],
                          examples.labels[:2])


def flat_grad(model) -> torch.Tensor:
    grad = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                      for p in model.parameters()])
    model.zero_grad(set_to_none=True)
    return grad


def loss_and_gradient(model, *args, **kwargs) -> tuple[float, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    j = influence_loss(model, *args, InfluenceArguments(**kwargs))
    j.backward()
    return float(j.detach()), flat_grad(model)


# Two probes, k = 3: probe 0's A group repeats an example (draws with replacement) and probe 1
# (row 2) is also one of probe 0's A examples, so de-duplication has work to do.
PROBES, A_ROWS, B_ROWS = [0, 2], [1, 1, 2, 0, 1, 5], [3, 4, 7, 6, 9, 8]


def tuples(examples: Examples):
    return examples.take(PROBES), examples.take(A_ROWS), examples.take(B_ROWS)


# --- building blocks ---------------------------------------------------------------------------

def test_every_scope_of_the_classifier_has_a_fast_rule(tiny64):
    model, examples = tiny64
    for scope in MODEL_SCOPES:
        plan = plan_of(model, scope, examples)
        assert not plan.per_example
        assert {id(p) for s in plan.sites for p in s.params()} == {id(p) for p in params_of(model, scope)}


def test_a_parameter_without_a_fast_rule_falls_back_to_the_loop_and_says_why(tiny64):
    model, examples = tiny64
    model.extra = nn.Parameter(torch.zeros(3, dtype=torch.float64))  # owned by no Linear/LayerNorm/Embedding
    try:
        with pytest.raises(NoFastRule, match="extra"):
            plan_of(model, "all", examples)
        # the public functions still answer, through the per-example loop, and say so
        paths = []
        scores = pairwise_scores(model, examples.take([0]), examples.take([0, 1]), InfluenceArguments(kind="cosine"),
                                 on_path=paths.append)
        assert scores[0, 0] == pytest.approx(1.0)
        assert [p.path for p in paths] == ["loop"] and "extra" in paths[0].reason
        assert paths[0].message().startswith("warning:")
    finally:
        del model.extra


def test_distinct_keeps_one_row_per_example_and_maps_every_row_to_it(tiny64):
    _, examples = tiny64
    rows = stack(examples.take([3, 0]), examples.take([0, 3, 5]))   # different paddings
    unique, inverse = distinct(rows)
    assert len(unique) == 3
    for n in range(len(rows)):
        length = int(rows.attention_mask[n].sum())
        assert torch.equal(unique.input_ids[inverse[n], :length], rows.input_ids[n, :length])
        assert unique.labels[inverse[n]] == rows.labels[n]
    assert int(unique.attention_mask.sum(1).max()) == unique.input_ids.shape[1]   # trimmed


def test_length_buckets_cover_every_row_once_and_trade_padding_against_batches():
    lengths = torch.tensor([30, 5, 31, 6, 5, 29])
    one = length_buckets(lengths, overhead_tokens=1e9)
    assert len(one) == 1 and sorted(one[0].tolist()) == list(range(6))
    two = length_buckets(lengths, overhead_tokens=10)
    assert [sorted(b.tolist()) for b in two] == [[1, 3, 4], [0, 2, 5]]
    each = length_buckets(lengths, overhead_tokens=0)
    assert sorted(torch.cat(each).tolist()) == list(range(6))
    assert all(len(set(lengths[b].tolist())) == 1 for b in each)


# --- scores and CID ----------------------------------------------------------------------------

@pytest.mark.parametrize("scope", MODEL_SCOPES)
@pytest.mark.parametrize("kind", ["cosine", "dot"])
def test_fast_scores_equal_the_reference(tiny64, kind, scope):
    model, examples = tiny64
    probes = examples.take([0, 3, 8])
    reference = pairwise_scores(model, probes, examples, InfluenceArguments(kind=kind, scope=scope, top_layers=1, reference=True))
    # batch_size 2: several probe batches and training batches of different lengths
    fast = fast_gradient_scores(model, probes, examples, kind, plan_of(model, scope, probes), batch_size=2)
    relative_close(fast, reference, 1e-6)


@pytest.mark.parametrize("kind", ["cosine", "dot"])
def test_materialised_probe_gradients_equal_the_reference(tiny64, kind, monkeypatch):
    """Long sequences make building each gradient cheaper than the factored blocks."""
    monkeypatch.setattr(fast_scores, "FACTORED_EFFICIENCY", {"cpu": 0.0, "cuda": 0.0})
    model, examples = tiny64
    probes = examples.take([0, 3, 8])
    reference = pairwise_scores(model, probes, examples, InfluenceArguments(kind=kind, reference=True))
    relative_close(fast_gradient_scores(model, probes, examples, kind, plan_of(model, "all", probes), batch_size=3),
                   reference, 1e-6)


def test_sites_that_read_one_input_share_one_token_group(tiny64):
    """query, key and value read the same hidden states: one group each layer, so X Xp^T is
    formed once for the three (blocks.py). The scores above hold the grouped path to the loop."""
    model, examples = tiny64
    plan = plan_of(model, "all", examples)
    sites = plan.sites
    side = fast_scores.ProbeSide(model, plan, examples.take([0, 3]), batch_size=2)
    names = [[sites[i].name.rsplit(".", 1)[-1] for i in group.sites] for group in side.groups]
    assert names.count(["query", "key", "value"]) == model.encoder.config.num_hidden_layers
    assert all(len(group) == 1 for group in names if group != ["query", "key", "value"])
    for group in side.groups:
        d_out = sum(sites[i].module.weight.shape[0 if sites[i].kind == "linear" else 1] for i in group.sites)
        assert group.probe_g.shape == (len(side.probe_owners), d_out)


@pytest.mark.parametrize("kind", ["cosine", "dot"])
def test_a_padding_id_inside_an_example_has_no_gradient_row(tiny64, kind):
    """A real position that holds the embedding's padding_idx gets no gradient (nn.Embedding):
    the grouped blocks keep such probe rows (one row order for all sites) but with g = 0."""
    model, examples = tiny64
    pad = model.encoder.embeddings.word_embeddings.padding_idx
    ids, mask = examples.input_ids.clone(), examples.attention_mask.clone()
    ids[[0, 2, 4], 2] = pad                                  # real positions (every text has > 3 tokens)
    assert bool((mask[[0, 2, 4], 2] == 1).all())
    holed = Examples(ids, mask, examples.labels)
    probes, train = holed.take([0, 4]), holed.take([1, 2, 3, 4, 5])
    reference = pairwise_scores(model, probes, train, InfluenceArguments(kind=kind, scope="all", reference=True))
    fast = fast_gradient_scores(model, probes, train, kind, plan_of(model, "all", probes), batch_size=2)
    relative_close(fast, reference, 1e-6)


@pytest.mark.parametrize("scope", MODEL_SCOPES)
def test_fast_cid_equals_the_reference(tiny64, scope):
    model, examples = tiny64
    probes, pool = np.array([0, 3, 5, 9]), np.arange(len(examples))
    fast = measure_cid(model, examples, LABELS, CONFOUNDS, probes, pool, InfluenceArguments(scope=scope, top_layers=1))
    slow = measure_cid(model, examples, LABELS, CONFOUNDS, probes, pool, InfluenceArguments(scope=scope, top_layers=1, reference=True))
    assert fast.value == pytest.approx(slow.value, rel=1e-6)
    for f, s in zip(fast.per_probe, slow.per_probe, strict=True):
        assert f.a_index == s.a_index and f.b_index == s.b_index
        np.testing.assert_allclose(f.a_scores + f.b_scores, s.a_scores + s.b_scores, rtol=1e-6, atol=1e-12)


# --- the influence loss ------------------------------------------------------------------------

@pytest.mark.parametrize("scope", MODEL_SCOPES)
@pytest.mark.parametrize("kind", ["cosine", "dot", "embedding"])
def test_fast_loss_and_its_gradient_equal_the_reference(tiny64, kind, scope):
    model, examples = tiny64
    fast_value, fast_grad = loss_and_gradient(model, *tuples(examples), kind=kind, scope=scope, top_layers=1)
    slow_value, slow_grad = loss_and_gradient(model, *tuples(examples), kind=kind, scope=scope, top_layers=1,
                                              reference=True)
    assert fast_value == pytest.approx(slow_value, rel=1e-6)
    relative_close(fast_grad, slow_grad, 1e-6)
    assert fast_grad.abs().max() > 0


@pytest.mark.parametrize("kind", ["cosine", "dot"])
def test_length_buckets_change_nothing(tiny64, kind, monkeypatch):
    """With no cost per batch every length gets its own batch: factors joined across batches."""
    model, examples = tiny64
    one_batch = influence_gap(model, *tuples(examples), InfluenceArguments(kind=kind))
    monkeypatch.setattr(fast_loss, "BATCH_OVERHEAD_MACS", 0.0)
    value, grad = loss_and_gradient(model, *tuples(examples), kind=kind)
    relative_close(influence_gap(model, *tuples(examples), InfluenceArguments(kind=kind)).detach(), one_batch.detach(), 1e-10)
    _, slow_grad = loss_and_gradient(model, *tuples(examples), kind=kind, reference=True)
    relative_close(grad, slow_grad, 1e-6)


def test_fast_gap_is_taken_in_eval_mode_and_leaves_no_grad(tiny64):
    model, examples = tiny64
    in_eval = fast_influence_gap(model, *tuples(examples), "cosine", plan_of(model, "all", examples)).detach()
    model.train()
    try:
        gap = influence_gap(model, *tuples(examples), InfluenceArguments(kind="cosine"))
        assert model.training
        torch.testing.assert_close(gap.detach(), in_eval, rtol=1e-12, atol=0)
        assert all(p.grad is None for p in model.parameters())
    finally:
        model.eval()


# --- MiniLM, float32 ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def minilm():
    """MiniLM in float32 (what runs) and float64 (the exact answer). The float32 per-example
    loop is itself off by ~6e-4 on dJ/dtheta here (the gap is a difference of close cosines),
    so the float32 fast gradient is held to the float64 reference; the fast float32 one is
    within ~2e-6 of it."""
    loaded = {dtype: load_model("minilm", device="cpu", dtype=dtype) for dtype in (torch.float32, torch.float64)}
    for one in loaded.values():
        one.model.eval()
    tokenizer = loaded[torch.float32].tokenizer
    return ({dtype: one.model for dtype, one in loaded.items()},
            Examples.from_encoded(encode(tokenizer, TEXTS, 32), LABELS))


@pytest.mark.slow
@pytest.mark.parametrize("scope", MODEL_SCOPES)
def test_minilm_float32_scores_and_loss_gradient_within_1e4(minilm, scope):
    models, examples = minilm
    model = models[torch.float32]
    probes, train = examples.take([0, 8]), examples.take([1, 2, 3, 6])
    reference = pairwise_scores(model, probes, train, InfluenceArguments(scope=scope, top_layers=1, reference=True))
    relative_close(pairwise_scores(model, probes, train, InfluenceArguments(scope=scope, top_layers=1)), reference, 1e-4)
    probe, a, b = examples.take([0]), examples.take([1]), examples.take([3])
    fast_value, fast_grad = loss_and_gradient(model, probe, a, b, scope=scope, top_layers=1)
    exact_value, exact_grad = loss_and_gradient(models[torch.float64], probe, a, b, scope=scope, top_layers=1,
                                                reference=True)
    assert fast_value == pytest.approx(exact_value, rel=1e-4)
    relative_close(fast_grad.double(), exact_grad, 1e-4)


# --- tied weights ---------------------------------------------------------------------------------

def test_a_weight_tied_across_two_modules_is_one_site_and_exact(tiny64):
    """Layer 1's intermediate Linear takes layer 0's weight (its bias stays its own): the weight's
    gradient is the sum over both modules' tokens, cross terms included."""
    import copy

    model, examples = tiny64
    model = copy.deepcopy(model)
    layers = model.encoder.encoder.layer
    layers[1].intermediate.dense.weight = layers[0].intermediate.dense.weight
    plan = plan_of(model, "all", examples)
    tied = [s for s in plan.sites if len(s.modules) == 2]
    assert len(tied) == 1 and tied[0].weight and not tied[0].bias
    assert sum(s.bias and not s.weight for s in plan.sites) == 2        # the two biases, each its own
    probes = examples.take([0, 3, 8])
    for kind in ("cosine", "dot"):
        reference = pairwise_scores(model, probes, examples, InfluenceArguments(kind=kind, reference=True))
        relative_close(pairwise_scores(model, probes, examples, InfluenceArguments(kind=kind)), reference, 1e-9)
    fast_value, fast_grad = loss_and_gradient(model, *tuples(examples))
    slow_value, slow_grad = loss_and_gradient(model, *tuples(examples), reference=True)
    assert fast_value == pytest.approx(slow_value, rel=1e-9)
    relative_close(fast_grad, slow_grad, 1e-9)


def test_a_weight_also_read_outside_its_module_is_refused(tiny64):
    """The head's weight used a second time by plain arithmetic (as a tied output projection
    would be): its factors no longer add up to its gradient, so the plan says so."""
    import copy

    model, examples = tiny64
    model = copy.deepcopy(model)
    forward = model.forward

    def with_extra_use(input_ids, attention_mask):
        logits, pooled = forward(input_ids, attention_mask)
        return logits + pooled @ model.head.weight.T, pooled

    model.forward = with_extra_use
    with pytest.raises(NoFastRule, match="head"):
        plan_of(model, "all", examples)
