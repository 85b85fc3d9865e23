"""CID: hand-made score matrices with known answers, the candidate pool, and a small confounded
model whose CID must see the confound token."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from jobs.influence import (
    Examples,
    InfluenceArguments,
    ab_groups,
    cid_from_scores,
    cid_pool,
    example_loss,
    measure_cid,
    pairwise_scores,
)
from jobs.models import encode, load_model

#                   0  1  2  3  4  5  6  7  8  9
LABELS = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
CONFOUNDS = np.array([0, 0, 0, 1, 1, 1, 1, 0, 0, 2])


def test_ab_groups_exclude_the_probe_and_split_by_confound():
    a, b = ab_groups(0, LABELS, CONFOUNDS, np.arange(10))
    assert a.tolist() == [1, 2] and b.tolist() == [3, 4]
    a, b = ab_groups(5, LABELS, CONFOUNDS, np.arange(10))
    assert a.tolist() == [6] and b.tolist() == [7, 8, 9]  # confound 2 is "other" as well
    a, b = ab_groups(5, LABELS, CONFOUNDS, np.array([9, 5, 7]))
    assert a.tolist() == [] and b.tolist() == [9, 7]


def test_cid_from_scores_against_hand_computation():
    rng = np.random.default_rng(0)
    probes = np.array([0, 5, 3])
    candidates = np.array([9, 1, 4, 0, 2, 6, 8, 3, 7, 5])  # not in order: columns must be mapped
    scores = rng.uniform(-1, 1, size=(3, 10))
    result = cid_from_scores(scores, probes, candidates, LABELS, CONFOUNDS)

    def column(probe_row, train_index):
        return scores[probe_row, list(candidates).index(train_index)]

    expected = {  # probe -> (A, B) in training indices
        0: ([1, 2], [4, 3]),
        5: ([6], [9, 8, 7]),
        3: ([4], [1, 0, 2]),
    }
    assert [p.probe for p in result.per_probe] == [0, 5, 3]
    for row, per in enumerate(result.per_probe):
        a, b = expected[per.probe]
        assert sorted(per.a_index) == sorted(a) and sorted(per.b_index) == sorted(b)
        assert per.probe not in per.a_index
        a_scores = [column(row, i) for i in per.a_index]
        b_scores = [column(row, i) for i in per.b_index]
        assert per.a_scores == pytest.approx(a_scores) and per.b_scores == pytest.approx(b_scores)
        assert per.cid == pytest.approx(np.mean(a_scores) - np.mean(b_scores))
        if len(a_scores) >= 2:
            assert per.p_value == pytest.approx(stats.ttest_ind(a_scores, b_scores, equal_var=False).pvalue)
        else:
            assert math.isnan(per.p_value)
    assert result.value == pytest.approx(np.mean([p.cid for p in result.per_probe]))


def test_self_influence_does_not_count():
    # every score 0 except the probe on itself: counting the probe inside A would give CID > 0
    candidates = np.arange(10)
    scores = np.zeros((1, 10))
    scores[0, 0] = 1.0
    assert cid_from_scores(scores, np.array([0]), candidates, LABELS, CONFOUNDS).value == 0.0


def test_probes_without_both_groups_are_skipped():
    candidates = np.array([0, 1, 2, 5, 6])  # label 0: only confound 0; label 1: 5, 6 both confound 1
    scores = np.ones((2, 5))
    result = cid_from_scores(scores, np.array([0, 5]), candidates, LABELS, CONFOUNDS)
    assert result.per_probe == [] and math.isnan(result.value)
    with pytest.raises(ValueError):
        cid_from_scores(np.ones((2, 4)), np.array([0, 5]), candidates, LABELS, CONFOUNDS)


def test_a_clear_separation_is_significant():
    rng = np.random.default_rng(1)
    labels, confounds = np.zeros(41, dtype=int), np.r_[np.zeros(21, dtype=int), np.ones(20, dtype=int)]
    scores = np.where(confounds == 0, 0.5, 0.1)[None] + 0.01 * rng.standard_normal((1, 41))
    result = cid_from_scores(scores, np.array([0]), np.arange(41), labels, confounds)
    assert result.value == pytest.approx(0.4, abs=0.02)
    assert result.per_probe[0].p_value < 1e-10


def test_cid_pool_draws_per_group_within_allowed_and_is_reproducible():
    labels = np.repeat([0, 1], 50)
    confounds = np.tile(np.r_[np.zeros(45, dtype=int), np.ones(5, dtype=int)], 2)
    allowed = np.arange(0, 100, 2)  # half of train may be used
    pool = cid_pool(labels, confounds, per_group=10, seed=3, allowed=allowed)
    assert np.isin(pool, allowed).all() and len(np.unique(pool)) == len(pool)
    assert np.array_equal(pool, np.sort(pool))
    counts = {(y, c): int(((labels[pool] == y) & (confounds[pool] == c)).sum()) for y in (0, 1) for c in (0, 1)}
    # rare groups give everything they have inside `allowed` (5 rows, every other one allowed)
    assert counts == {(0, 0): 10, (0, 1): 2, (1, 0): 10, (1, 1): 2}
    assert np.array_equal(pool, cid_pool(labels, confounds, per_group=10, seed=3, allowed=allowed))
    assert not np.array_equal(pool, cid_pool(labels, confounds, per_group=10, seed=4, allowed=allowed))
    assert len(cid_pool(labels, confounds, per_group=1000, seed=0)) == 100


# A small confounded training set: the prefix agrees with the label 90% of the time, the length
# is the real signal (long = 1).
WORDS = "the cat dog sat ran on mat big small red blue green house tree car road sun moon".split()


def confounded_texts(n: int, seed: int):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    confounds = np.where(rng.random(n) < 0.9, labels, 1 - labels)
    texts = [("positive . " if c else "negative . ") + " ".join(rng.choice(WORDS, rng.integers(8, 12) if y
                                                                          else rng.integers(2, 5)))
             for y, c in zip(labels, confounds, strict=True)]
    return texts, labels, confounds


@pytest.fixture(scope="module")
def confounded_tiny():
    texts, labels, confounds = confounded_texts(40, seed=0)
    loaded = load_model("tiny", device="cpu")
    train = Examples.from_encoded(encode(loaded.tokenizer, texts, 32), labels)
    model = loaded.model
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(20):  # full batch: enough to fit the set, not enough to saturate every gradient
        optimiser.zero_grad()
        example_loss(model, train).backward()
        optimiser.step()
    model.zero_grad(set_to_none=True)
    model.eval()
    return model, train, labels, confounds


def test_measure_cid_equals_cid_of_the_reference_scores(confounded_tiny):
    model, train, labels, confounds = confounded_tiny
    probes, pool = np.array([0, 1, 2]), cid_pool(labels, confounds, per_group=3, seed=0)
    measured = measure_cid(model, train, labels, confounds, probes, pool, InfluenceArguments(kind="cosine", scope="top"))
    scores = pairwise_scores(model, train.take(probes), train.take(pool), InfluenceArguments(scope="top", reference=True))
    expected = cid_from_scores(scores.numpy(), probes, pool, labels, confounds)
    assert measured.value == pytest.approx(expected.value, rel=1e-4, abs=1e-6)
    assert [p.a_index for p in measured.per_probe] == [p.a_index for p in expected.per_probe]


def test_a_confounded_model_shows_positive_cid_and_a_shuffled_confound_does_not(confounded_tiny):
    model, train, labels, confounds = confounded_tiny
    probes, pool = np.arange(10), np.arange(len(labels))
    real = measure_cid(model, train, labels, confounds, probes, pool)
    shuffled = measure_cid(model, train, labels, np.random.default_rng(1).permutation(confounds), probes, pool)
    assert real.value > 0.002
    assert real.value > 10 * abs(shuffled.value)
