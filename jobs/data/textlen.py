"""TextLen (paper §3 and §5.2): predict whether a sentence is long or short, past a prefix confound.

The published recipe, step by step (the authors' notebook; sizes are Table 1's):
1. keep the sentences of at least 30 tokens, cut each to its first 30, shuffle (seed 2021);
   train = the first 1500, dev = the last 480 (both from CoNLL-2003 eng.train);
   test = the last 500 of eng.testa, prepared the same way.
2. per split: the first half becomes class 1 "long", cut to int(N(25, 4)) tokens; the second
   half class 0 "short", cut to int(N(15, 4)) tokens.
3. the prefix "Positive ." (confound 1) or "Negative ." (confound 0) is put in front; it agrees
   with the class for 90% of each class in train and 50% in dev and test (seeds 2022, 2023).
4. each split is shuffled; a no-prefix copy of every split (same sentences, same order) is the
   control for the "no confound" upper bound.

Without CoNLL files (the default) the sentences come from `jobs.data.sentences`; given the files
(a folder with eng.train and eng.testa, as the spec's path or option `source`), the same Python
and NumPy random streams as the original are used, so the splits are the published ones.
"""
from __future__ import annotations

import math
import random

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from jobs.data.conll import conll_sentences
from jobs.data.dataset import ConfoundedDataset, DataError, Split
from jobs.data.options import MAX_SOURCE, MAX_SPLIT_SIZE, MAX_TOKENS, parse_options

LABEL_NAMES = ["short", "long"]
PREFIXES = ["Negative .", "Positive ."]  # confound value -> prefix


class TextLenOptions(BaseModel):
    """Parameters of the recipe; defaults are the paper's."""

    model_config = ConfigDict(extra="forbid")

    train_size: int = Field(1500, ge=2, le=MAX_SPLIT_SIZE)
    dev_size: int = Field(480, ge=2, le=MAX_SPLIT_SIZE)
    test_size: int = Field(500, ge=2, le=MAX_SPLIT_SIZE)
    min_tokens: int = Field(30, ge=1, le=MAX_TOKENS, description="sentences shorter than this are dropped")
    cut: int = Field(30, ge=1, le=MAX_TOKENS, description="the kept sentences are cut to their first `cut` tokens")
    long_mean: float = Field(25.0, ge=0, le=MAX_TOKENS, description="class 1 'long': lengths int(N(long_mean, std))")
    short_mean: float = Field(15.0, ge=0, le=MAX_TOKENS, description="class 0 'short': lengths int(N(short_mean, std))")
    std: float = Field(4.0, ge=0, le=MAX_TOKENS)
    train_agreement: float = Field(0.9, ge=0, le=1, description="share of each train class whose prefix matches it")
    eval_agreement: float = Field(0.5, ge=0, le=1, description="the same for dev and test")
    source: str = Field("offline", max_length=MAX_SOURCE, description="'offline' (generated sentences), a folder with CoNLL-2003 "
                                                "eng.train and eng.testa, or 'hf:conll2003'")


def swap_prefix(text: str) -> str:
    """The counterfactual: "Positive . x" <-> "Negative . x"; other texts unchanged."""
    for this, other in (PREFIXES, PREFIXES[::-1]):
        if text.startswith(this + " "):
            return other + text[len(this):]
    return text


def sentence_pool(sentences: list[list[str]], min_tokens: int, cut: int, seed: int) -> list[list[str]]:
    """Sentences of at least `min_tokens` tokens, cut to `cut`, shuffled (recipe step 1)."""
    pool = [tokens[:cut] for tokens in sentences if len(tokens) >= min_tokens]
    random.Random(seed).shuffle(pool)
    return pool


def agreeing(n: int, share: float) -> int:
    """How many of n examples carry the agreeing prefix: floor(n * share), as the original's int(),
    but safe from float error (int(100 * 0.29) would give 28)."""
    return math.floor(n * share + 1e-9)


def confound_split(sentences: list[list[str]], agreement: float, seed: int, opts: TextLenOptions
                   ) -> tuple[Split, Split, np.ndarray]:
    """Recipe steps 2-4 for one split: (with prefix, without prefix, token counts [N])."""
    py_rng, np_rng = random.Random(seed), np.random.RandomState(seed)
    n_long = len(sentences) // 2
    n_short = len(sentences) - n_long
    long_lengths = [int(x) for x in np_rng.normal(opts.long_mean, opts.std, n_long)]
    short_lengths = [int(x) for x in np_rng.normal(opts.short_mean, opts.std, n_short)]
    long_prefix = [1 if i < agreeing(n_long, agreement) else 0 for i in range(n_long)]
    short_prefix = [0 if i < agreeing(n_short, agreement) else 1 for i in range(n_short)]
    py_rng.shuffle(long_prefix)
    py_rng.shuffle(short_prefix)

    rows = [(tokens, length, 1, prefix)
            for tokens, length, prefix in zip(sentences[:n_long], long_lengths, long_prefix, strict=True)]
    rows += [(tokens, length, 0, prefix)
             for tokens, length, prefix in zip(sentences[n_long:], short_lengths, short_prefix, strict=True)]
    py_rng.shuffle(rows)

    # A normal draw can fall outside [1, cut]; the original sliced tokens[:length]
    # anyway, which for length <= 0 silently dropped tokens from the end. Clamp instead.
    cut = [tokens[:min(max(length, 1), len(tokens))] for tokens, length, _, _ in rows]
    labels = np.array([label for _, _, label, _ in rows], dtype=np.int64)
    confounds = np.array([prefix for _, _, _, prefix in rows], dtype=np.int64)
    with_prefix = Split([f"{PREFIXES[c]} {' '.join(t)}" for t, c in zip(cut, confounds, strict=True)], labels, confounds)
    without = Split([" ".join(t) for t in cut], labels.copy(), confounds.copy())
    return with_prefix, without, np.array([len(t) for t in cut], dtype=np.int64)


def build_textlen(train_source: list[list[str]], test_source: list[list[str]], seed: int = 2021,
                  opts: TextLenOptions | None = None, source_name: str = "sentences") -> ConfoundedDataset:
    """TextLen from two lists of token lists: train/dev come from the first, test from the second.

    seed: the recipe's shuffle seed; train's labels and prefixes use seed+1, dev's and test's
    seed+2 (2021, 2022, 2023 in the paper).
    """
    opts = opts or TextLenOptions()
    train_pool = sentence_pool(train_source, opts.min_tokens, opts.cut, seed)
    test_pool = sentence_pool(test_source, opts.min_tokens, opts.cut, seed)
    needed = {"train and dev": (train_pool, opts.train_size + opts.dev_size), "test": (test_pool, opts.test_size)}
    for what, (pool, n) in needed.items():
        if len(pool) < n:
            raise DataError(f"{what} need {n} sentences of at least {opts.min_tokens} tokens, found {len(pool)}",
                            file=source_name)

    parts = {
        "train": confound_split(train_pool[:opts.train_size], opts.train_agreement, seed + 1, opts),
        "dev": confound_split(train_pool[-opts.dev_size:], opts.eval_agreement, seed + 2, opts),
        "test": confound_split(test_pool[-opts.test_size:], opts.eval_agreement, seed + 2, opts),
    }
    return ConfoundedDataset(
        name="textlen",
        label_names=list(LABEL_NAMES),
        confound_names=list(PREFIXES),
        train=parts["train"][0], dev=parts["dev"][0], test=parts["test"][0],
        control={name: part[1] for name, part in parts.items()},
        counterfactual=swap_prefix,
        description=(f"TextLen: is the sentence long (~N({opts.long_mean:g},{opts.std:g}) tokens) or short "
                     f"(~N({opts.short_mean:g},{opts.std:g}))? The prefix 'Positive .'/'Negative .' agrees "
                     f"with the class for {opts.train_agreement:.0%} of train and {opts.eval_agreement:.0%} of "
                     f"dev/test. Sentences: {source_name}."),
        meta={"source": source_name, "core_attribute": "text length", "spurious_attribute": "prefix token",
              "lengths": {name: part[2] for name, part in parts.items()}},
    )


def load_textlen(seed: int = 2021, options: dict | None = None, path: str | None = None) -> ConfoundedDataset:
    """TextLen from the sentence source `path` or option `source` (see jobs.data.conll)."""
    opts = parse_options(TextLenOptions, options or {}, "textlen")
    if path and "source" in opts.model_fields_set:
        raise DataError("give the sentence source as path or as option source, not both", field="path")
    source = path or opts.source
    train, train_name = conll_sentences(source, "train", opts.train_size + opts.dev_size, seed, opts.min_tokens)
    test, test_name = conll_sentences(source, "testa", opts.test_size, seed, opts.min_tokens)
    return build_textlen(train, test, seed, opts, source_name=f"{train_name} and {test_name}")
