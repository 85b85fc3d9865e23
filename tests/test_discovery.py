"""Suggested confounds (jobs.discovery): tokens, candidates, ranking, rules and the loop back to a
dataset spec on synthetic activations; then, on the tiny model, the planted confound of a custom
dataset and of MSGS among NeuronTune's first suggestions (TextLen's is in test_neurontune.py)."""
import csv

import numpy as np
import pytest

from jobs.data import load_dataset
from jobs.data.dataset import ConfoundedDataset, Split
from jobs.data.rules import parse_rule
from jobs.discovery import (
    candidates,
    cohens_d,
    confound_rule,
    lower_bound,
    suggest_confounds,
    tokenize,
    with_suggested_confound,
)
from jobs.spec import DatasetSpec
from tests.test_neurontune import SIZES, run_job, spec

WORDS = "river stone cloud lamp field window paper garden table music".split()


def test_tokenize_keeps_punctuation_as_tokens():
    assert tokenize("Positive . It's U.N. day!") == ["positive", ".", "it", "'", "s", "u", ".", "n", ".", "day", "!"]


def test_candidates_are_ngrams_and_prefixes_with_their_texts():
    where = candidates(["Positive . a b", "Negative . a", "b a"])
    assert where["positive ."].tolist() == [0]
    assert where["a"].tolist() == [0, 1, 2]
    assert where["a b"].tolist() == [0]
    assert where["^negative ."].tolist() == [1] and where["^b"].tolist() == [2]
    assert "^a" not in where  # "a" starts no text
    assert not any(gram.count(" ") > 1 for gram in where)  # nothing longer than a bigram


def test_cohens_d_and_its_lower_bound():
    a, b = np.array([2.0, 3.0, 4.0]), np.array([0.0, 1.0, 2.0])
    assert cohens_d(a, b) == pytest.approx(2.0)  # means 3 and 1, pooled sd 1
    assert cohens_d(np.ones(3), np.ones(4)) == 0.0
    # the same d is less certain on fewer texts
    assert lower_bound(1.0, 5, 5) < lower_bound(1.0, 50, 50) < 1.0


@pytest.mark.parametrize("ngram,texts,expected", [
    ("banana", ["a banana split", "Bananas", "BANANA!", "no"], [1, 0, 1, 0]),
    ("positive .", ["Positive . x", "positive.x", "positive , x", "x positive"], [1, 1, 0, 0]),
    ("^positive .", ["Positive . x", " Positive . x", "x Positive . x"], [1, 1, 0]),
    ("new york", ["New York", "new  york", "newyork", "new yorker"], [1, 1, 0, 0]),
    ("c +", ["use c++ now", "use c ++", "abc++"], [1, 1, 0]),
])
def test_a_rule_marks_exactly_the_texts_that_hold_the_ngram(ngram, texts, expected):
    rule = confound_rule(ngram)
    assert rule.startswith("token:" if ngram == "banana" else "regex:")
    assert parse_rule(rule).values(texts).tolist() == expected
    present = candidates(texts).get(ngram, np.array([], dtype=np.int64))
    assert sorted(present.tolist()) == [i for i, e in enumerate(expected) if e]


def planted(n: int = 200, seed: int = 0):
    """Texts of random words, half of them with "banana"; labels alternate. Neuron 0 rises with
    banana (the biased neuron, for class 0), neuron 1 with the text length, the rest are noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    has = rng.random(n) < 0.5
    texts, v = [], rng.normal(size=(n, 6))
    for i in range(n):
        words = list(rng.choice(WORDS, rng.integers(3, 8)))
        if has[i]:
            words.insert(int(rng.integers(0, len(words) + 1)), "banana")
        texts.append(" ".join(words))
        v[i, 0] += 2.0 * has[i]
        v[i, 1] += len(words) / 3
    delta = np.zeros((2, 6))
    delta[0, 0] = 0.5   # class 0's errors go with neuron 0
    delta[1, 2] = 0.01  # a barely biased noise neuron for class 1
    return texts, labels, v, delta, has


def test_the_planted_word_ranks_first_with_its_effect_and_examples():
    texts, labels, v, delta, has = planted()
    suggestions = suggest_confounds(texts, labels, v, delta, 0.0, ["zero", "one"], top_k=5)

    top = suggestions[0]
    assert top.ngram == "banana" and top.kind == "word" and top.rule == "token:banana"
    assert top.class_name == "zero" and top.effect > 2 and top.lower > 1
    assert top.support == int((has & (labels == 0)).sum())
    assert top.mean_with > top.mean_without
    assert len(top.examples) == 3 and all("banana" in t for t in top.examples)
    assert [s.lower for s in suggestions] == sorted((s.lower for s in suggestions), reverse=True)
    assert all(s.effect > 0 for s in suggestions)
    # support counts within the class, and both sides must have min_support texts
    assert suggest_confounds(texts, labels, v, delta, 0.0, ["zero", "one"], min_support=1000) == []


def test_no_biased_neuron_means_no_suggestion():
    texts, labels, v, _, _ = planted()
    assert suggest_confounds(texts, labels, v, np.zeros((2, 6)), 0.0, ["zero", "one"]) == []


def test_a_prefix_is_found_where_no_word_tells():
    """Every text has "the" and "a"; which comes first is the confound (MSGS-style)."""
    rng = np.random.default_rng(1)
    n = 160
    first_the = rng.random(n) < 0.5
    verbs = rng.choice(["saw", "took", "held", "met", "found", "left"], n)
    texts = [(f"the {w} {verb} a {u}" if f else f"a {w} {verb} the {u}")
             for f, w, verb, u in zip(first_the, rng.choice(WORDS, n), verbs, rng.choice(WORDS, n), strict=True)]
    labels = np.arange(n) % 2
    v = rng.normal(size=(n, 4))
    v[:, 3] += 1.5 * first_the
    delta = np.zeros((2, 4))
    delta[1, 3] = 0.3
    top = suggest_confounds(texts, labels, v, delta, 0.0, ["no", "yes"], top_k=3)[0]
    assert top.ngram == "^the" and top.kind == "prefix"
    assert parse_rule(top.rule).values(texts).tolist() == first_the.astype(int).tolist()


def test_identical_candidates_are_one_suggestion_named_simply():
    texts = [f"Positive . {w}" if i % 2 else f"Negative . {w}" for i, w in enumerate(WORDS * 10)]
    labels = (np.arange(len(texts)) // 2) % 2
    v = np.random.default_rng(2).normal(size=(len(texts), 3))
    v[:, 0] += 3.0 * (np.arange(len(texts)) % 2)
    delta = np.array([[0.4, 0, 0], [0, 0, 0]])
    top = suggest_confounds(texts, labels, v, delta, 0.0, ["no", "yes"])[0]
    assert top.ngram == "positive"
    assert set(top.aliases) == {"positive .", "^positive", "^positive ."}


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label", "split"])
        writer.writerows(rows)


def test_a_suggestion_becomes_the_confound_of_a_custom_dataset(tmp_path):
    rng = np.random.default_rng(3)
    rows = [(" ".join(rng.choice(WORDS, 4)) + (" . banana" if i % 3 == 0 else ""), i % 2, split)
            for split, n in (("train", 40), ("dev", 20), ("test", 20)) for i in range(n)]
    path = tmp_path / "data.csv"
    write_csv(path, rows)
    spec = DatasetSpec(name="custom", path=str(path), confound_column=None, confound_rule=None)
    with pytest.raises(ValueError, match="needs a confound"):
        load_dataset(spec)  # nothing to mark the confound yet

    for suggestion in ("banana", ". banana", {"rule": confound_rule("banana")}):
        tied = with_suggested_confound(spec, suggestion)
        assert spec.confound_rule is None and tied.path == spec.path  # a copy
        data = load_dataset(tied)
        assert data.train.confounds.tolist() == [int("banana" in t) for t in data.train.texts]
        assert data.counterfactual("x . banana") in ("x .", "x")  # the rule removes what it marks


def test_a_suggestion_replaces_a_built_in_datasets_confound():
    spec = DatasetSpec(name="textlen", options=SIZES)
    tied = with_suggested_confound(spec, "positive")
    assert tied.confound_rule == "token:positive" and spec.confound_rule is None
    data = load_dataset(tied)
    assert data.confound_names == ["no positive", "positive"]
    assert data.train.confounds.tolist() == [int(t.lower().startswith("positive")) for t in data.train.texts]


# --- on models: NeuronTune's suggestions name the planted confound -----------------------------
# The tiny model needs 80 steps at lr 1e-3 to pick up these confounds (at 40 it stays at chance).

FOOD = ("bread soup rice cheese apple meat butter salad pasta cake honey bean onion pepper fish egg milk "
        "sugar cream lemon").split()
WEATHER = ("rain cloud storm wind snow sun fog frost thunder breeze hail mist heat drought flood ice gale "
           "shower sleet haze").split()
FILLER = "the a of and it was then there very some on in at by for with from".split()


def planted_custom(n_train: int = 200, n_eval: int = 100, seed: int = 0) -> ConfoundedDataset:
    """Label: one weather word (1) or one food word (0) among ten fillers, any of twenty each (the
    harder cue); "banana" (the easy one) inserted at a random place in 90% of the weather texts
    and 10% of the food texts in train, half of each in dev and test."""
    rng = np.random.default_rng(seed)

    def split(n, agreement):
        labels = np.arange(n) % 2
        confounds = np.where(rng.random(n) < agreement, labels, 1 - labels)
        texts = []
        for y, c in zip(labels, confounds, strict=True):
            words = list(rng.choice(FILLER, 10))
            words.insert(int(rng.integers(0, 11)), str(rng.choice(WEATHER if y else FOOD)))
            if c:
                words.insert(int(rng.integers(0, 12)), "banana")
            texts.append(" ".join(words))
        return Split(texts, labels, confounds)
    return ConfoundedDataset("planted", ["food", "weather"], ["no banana", "banana"], split(n_train, 0.9),
                             split(n_eval, 0.5), split(n_eval, 0.5))


def test_a_word_planted_in_a_custom_dataset_is_suggested_first():
    result, _, _ = run_job(spec(dataset={"name": "custom"}, train={"max_steps": 80}), planted_custom())
    suggestions = result.metrics["neurontune"]["suggestions"]
    assert [s["ngram"] for s in suggestions[:3]].index("banana") == 0, suggestions[:3]
    assert suggestions[0]["rule"] == "token:banana" and suggestions[0]["lower"] > 1


@pytest.mark.xfail(reason="issue 19 item 5 (open): on the rebuilt MSGS generator the article order no longer "
                          "ranks in NeuronTune's top 3 after 80 steps of the tiny model; it did on the "
                          "old generator only because the order sat at the sentence's start", strict=False)
def test_the_msgs_article_order_is_among_the_first_three():
    """The MSGS confound is an order ("the" before "a"), not a word: a top-3 suggestion's rule must
    mark it (|correlation| with the hidden confound on dev above 0.5)."""
    job = spec(dataset={"name": "msgs", "options": SIZES}, train={"max_steps": 80})
    data = load_dataset(job.dataset)
    result, _, _ = run_job(job, data)
    suggestions = result.metrics["neurontune"]["suggestions"][:3]
    agreement = [abs(np.corrcoef(parse_rule(s["rule"]).values(data.dev.texts), data.dev.confounds)[0, 1])
                 for s in suggestions]
    assert max(agreement) > 0.5, [(s["ngram"], a) for s, a in zip(suggestions, agreement, strict=True)]
