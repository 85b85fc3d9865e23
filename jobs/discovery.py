"""Suggested confounds: the words whose presence most raises a model's biased neurons.

No confound labels: the inputs are texts, the embedding v [N, M] of each text and the neurons'
spuriousness scores delta [C, M] (jobs.neurons). For each class y with biased neurons
S_y = {i : delta[y, i] > lambda}, every text gets a biased activation

    b_y(x) = sum_{i in S_y} delta[y, i] * z_i(x) / sum_{i in S_y} delta[y, i]

(z_i: neuron i standardised over the texts, so no neuron wins by scale alone; weighted by delta,
so the barely-biased neurons that lambda = 0 lets in count little). A candidate n-gram's effect
for class y is Cohen's d of b_y between the class-y texts with it and those without: within one
class, because the biased neurons also carry the class itself (anything frequent in long texts
would otherwise look like a confound of a length task). Class labels only; no confound labels.
Candidates are ranked by the lower end of d's interval at a 95% level held jointly over every
candidate and class tested (Bonferroni: z = 4 for about 3000 tests), so that among thousands of
n-grams a rare one's lucky large d does not outrank a well-supported one (on news-like text, a
name or a bracket in six texts of a class would otherwise come before the planted prefix in half
of them); the best class per candidate counts.

Candidates: the word 1- and 2-grams of a lowercase split that keeps punctuation as tokens (so
"Positive ." survives), and each text's first one and two tokens as prefixes ("^positive ."),
for confounds that live in position rather than in a word. Both the texts with and those without
must number at least `min_support`. Candidates present in exactly the same texts are one
suggestion (the simplest form named, the others kept as aliases).

A suggestion becomes a rule confound ("token:WORD" or "regex:...") with `confound_rule`, and a
dataset spec with it via `with_suggested_confound` (custom or built-in: a rule replaces a
built-in's annotated confound), so influence tuning can run on it.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats

from jobs.spec import DatasetSpec

TOKEN = re.compile(r"\w+|[^\w\s]")
WORD = re.compile(r"\w+")
PREFIX = "^"


def tokenize(text: str) -> list[str]:
    """Lowercase words and single punctuation marks: "Positive . It's" -> positive . it ' s."""
    return TOKEN.findall(text.lower())


def candidates(texts: list[str], max_n: int = 2, prefix_n: int = 2) -> dict[str, np.ndarray]:
    """Every n-gram (n <= max_n) and prefix (the first <= prefix_n tokens, as "^a b") -> the sorted
    indices of the texts that contain it, int64 [K]."""
    where: dict[str, set[int]] = defaultdict(set)
    for row, text in enumerate(texts):
        tokens = tokenize(text)
        for n in range(1, max_n + 1):
            for start in range(len(tokens) - n + 1):
                where[" ".join(tokens[start:start + n])].add(row)
        for n in range(1, min(prefix_n, len(tokens)) + 1):
            where[PREFIX + " ".join(tokens[:n])].add(row)
    return {gram: np.array(sorted(rows), dtype=np.int64) for gram, rows in where.items()}


def cohens_d(with_: np.ndarray, without: np.ndarray) -> float:
    """(mean with - mean without) / pooled standard deviation; 0 where the spread is 0."""
    n1, n0 = len(with_), len(without)
    pooled = ((n1 - 1) * with_.var(ddof=1) + (n0 - 1) * without.var(ddof=1)) / (n1 + n0 - 2)
    return float((with_.mean() - without.mean()) / np.sqrt(pooled)) if pooled > 0 else 0.0


def lower_bound(d: float, n1: int, n0: int, z: float = 1.96) -> float:
    """The lower end of d's normal-approximation interval (Hedges and Olkin's standard error)."""
    return d - z * float(np.sqrt((n1 + n0) / (n1 * n0) + d * d / (2 * (n1 + n0))))


def biased_activation(v: np.ndarray, delta: np.ndarray, lam: float) -> np.ndarray:
    """b [C, N]: each text's delta-weighted mean standardised activation over each class's biased
    neurons (a class without biased neurons: NaN)."""
    v = np.asarray(v, dtype=np.float64)
    std = v.std(axis=0)
    z = np.where(std > 0, (v - v.mean(axis=0)) / np.where(std > 0, std, 1.0), 0.0)
    out = np.full((delta.shape[0], v.shape[0]), np.nan)
    for y, row in enumerate(delta):
        weights = np.where((row > lam) & (std > 0), row, 0.0)
        if weights.sum() > 0:
            out[y] = z @ weights / weights.sum()
    return out


@dataclass
class Suggestion:
    """A candidate confound: among the class-`class_name` texts, those with `ngram` ("^..." for a
    prefix; `support` of them) have a higher biased activation than the rest by `effect` pooled
    standard deviations (Cohen's d; `lower` is its 95% lower bound, the ranking key); `rule` is
    the dataset confound rule that marks it."""

    ngram: str
    kind: str                       # "word", "ngram" or "prefix"
    effect: float
    lower: float
    class_index: int
    class_name: str
    support: int
    mean_with: float
    mean_without: float
    rule: str
    examples: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def kind_of(ngram: str) -> str:
    if ngram.startswith(PREFIX):
        return "prefix"
    return "word" if " " not in ngram and WORD.fullmatch(ngram) else "ngram"


def confound_rule(ngram: str) -> str:
    """The rule (jobs.data.rules) present exactly where `ngram` is: "token:WORD" for one word, else a
    case-insensitive regex over the tokens (whitespace optional next to punctuation, as the
    tokenizer splits there; required between two words; anchored at the start for a prefix)."""
    if kind_of(ngram) == "word":
        return f"token:{ngram}"
    is_prefix = ngram.startswith(PREFIX)
    tokens = ngram.removeprefix(PREFIX).split(" ")
    pattern = ""
    for i, tok in enumerate(tokens):
        if i:
            both_words = WORD.fullmatch(tokens[i - 1]) and WORD.fullmatch(tok)
            pattern += r"\s+" if both_words else r"\s*"
        pattern += re.escape(tok)
    # A word must not run on into a longer word, as in the tokenizer's split.
    if WORD.fullmatch(tokens[-1]):
        pattern += r"(?!\w)"
    if is_prefix:
        pattern = r"^\s*" + pattern
    elif WORD.fullmatch(tokens[0]):
        pattern = r"(?<!\w)" + pattern
    return "regex:(?i)" + pattern


def _simplest(grams: list[str]) -> list[str]:
    """Plain words first, then n-grams, then prefixes; shorter first; then alphabetical."""
    return sorted(grams, key=lambda g: (g.startswith(PREFIX), g.count(" "), len(g), g))


def suggest_confounds(texts: list[str], labels: np.ndarray, v: np.ndarray, delta: np.ndarray, lam: float,
                      label_names: list[str], top_k: int = 10, min_support: int = 5, max_n: int = 2,
                      num_examples: int = 3) -> list[Suggestion]:
    """The `top_k` candidates with the highest positive lower bound, best first.

    texts [N] with class labels [N] and activations v [N, M] (the identification set), delta
    [C, M] and lambda as NeuronTune used them. Within a class, the texts with and those without an
    n-gram must each number `min_support`. Examples: up to `num_examples` class texts with the
    n-gram whose biased activation is highest."""
    labels = np.asarray(labels)
    b = biased_activation(v, delta, lam)
    classes = [y for y in range(len(b)) if np.isfinite(b[y]).all()]
    by_rows: dict[bytes, list[str]] = defaultdict(list)
    for gram, rows in candidates(texts, max_n=max_n).items():
        if len(rows) >= min_support:
            by_rows[rows.tobytes()].append(gram)

    z = float(stats.norm.ppf(1 - 0.025 / max(1, len(by_rows) * len(classes))))  # jointly 95% over the tests
    scored = []
    for key, grams in by_rows.items():
        present = np.zeros(len(texts), dtype=bool)
        present[np.frombuffer(key, dtype=np.int64)] = True
        best = None
        for y in classes:
            with_, without = b[y][present & (labels == y)], b[y][~present & (labels == y)]
            if min(len(with_), len(without)) < min_support:
                continue
            d = cohens_d(with_, without)
            score = (lower_bound(d, len(with_), len(without), z), d, y)
            best = score if best is None or score > best else best
        if best is not None and best[1] > 0:
            scored.append((*best, present, _simplest(grams)))
    scored.sort(key=lambda s: (-s[0], s[4][0]))

    out = []
    for lower, effect, y, present, grams in scored[:top_k]:
        rows = np.flatnonzero(present & (labels == y))
        best_rows = rows[np.argsort(-b[y][rows], kind="stable")[:num_examples]]
        others = ~present & (labels == y)
        out.append(Suggestion(
            ngram=grams[0], kind=kind_of(grams[0]), effect=effect, lower=lower, class_index=y,
            class_name=label_names[y], support=len(rows), mean_with=float(b[y][rows].mean()),
            mean_without=float(b[y][others].mean()), rule=confound_rule(grams[0]),
            examples=[texts[i] for i in best_rows], aliases=grams[1:]))
    return out


def with_suggested_confound(spec: DatasetSpec, suggestion: Suggestion | dict | str) -> DatasetSpec:
    """A copy of a dataset spec whose confound is the suggestion's rule (a Suggestion, its dict,
    or an n-gram), ready for an influence-tuning job. On a custom dataset the rule stands in for
    the confound column; on a built-in one it replaces the annotated confound (jobs.data.rules)."""
    if isinstance(suggestion, Suggestion):
        rule = suggestion.rule
    elif isinstance(suggestion, dict):
        rule = suggestion["rule"]
    else:
        rule = confound_rule(suggestion)
    return spec.model_copy(update={"confound_rule": rule}, deep=True)
