"""MSGS, SYNTACTIC CATEGORY x RELATIVE POSITION (paper §5.2, Table 1).

label = "an adjective is present" (linguistic feature); confound = "the first 'the' precedes
the first 'a'" (surface feature). The published recipe, from the official jsonl files:
- train: train.jsonl holds pairs of sentences (features 1/1 and 0/0); one of each pair is kept
  (5000), and the last 0.3% (15) are replaced by examples whose features disagree, also one per
  pair, from inoculating.jsonl (or, where the folder has none, from train.jsonl's own
  disagreeing rows): the surface feature agrees with the label for 99.7% of train;
- dev, test: the first and second halves of test.jsonl (15000 each), where the features agree
  66.7% of the time.

The official files are used when the spec's path (or option `source`) names their folder
(same random streams as the original: seeds 2021 train, 2022 inoculation, 2023 dev, 2024
test). Otherwise the same design is generated from `jobs.data.grammar`, with exact shares: train agrees except for
`inoculation` of it (at least one example per label), dev and test agree for `eval_agreement`;
labels are balanced.
"""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from jobs.data.dataset import ConfoundedDataset, DataError, Split
from jobs.data.grammar import lexicon, msgs_sentence, swap_articles
from jobs.data.options import MAX_SOURCE, MAX_SPLIT_SIZE, parse_options
from jobs.data.tables import read_jsonl

LABEL_NAMES = ["no adjective", "adjective"]
CONFOUND_NAMES = ["a first", "the first"]
FILE_FIELDS = {"sentence": str, "linguistic_feature_label": int, "surface_feature_label": int}


class MsgsOptions(BaseModel):
    """Sizes and shares of the generated set (defaults: the paper's), or the official files' folder."""

    model_config = ConfigDict(extra="forbid")

    train_size: int = Field(5000, ge=2, le=MAX_SPLIT_SIZE)
    dev_size: int = Field(15000, ge=2, le=MAX_SPLIT_SIZE)
    test_size: int = Field(15000, ge=2, le=MAX_SPLIT_SIZE)
    inoculation: float = Field(0.003, ge=0, lt=1, description="share of train whose features disagree")
    eval_agreement: float = Field(2 / 3, ge=0, le=1, description="share of dev/test whose features agree")
    source: str = Field("offline", max_length=MAX_SOURCE, description="'offline' (generated from jobs.data.grammar) or a folder with "
                                                "the official train.jsonl, test.jsonl (and inoculating.jsonl)")


def _split(rows: list[tuple[str, int, int]]) -> Split:
    return Split([text for text, _, _ in rows], np.array([label for _, label, _ in rows], dtype=np.int64),
                 np.array([confound for _, _, confound in rows], dtype=np.int64))


def _dataset(train: list, dev: list, test: list, source: str, description: str) -> ConfoundedDataset:
    return ConfoundedDataset(
        name="msgs", label_names=list(LABEL_NAMES), confound_names=list(CONFOUND_NAMES),
        train=_split(train), dev=_split(dev), test=_split(test),
        counterfactual=swap_articles, description=description,
        meta={"source": source, "core_attribute": "syntactic category (adjective present)",
              "spurious_attribute": "relative position ('the' before 'a')"})


# --- generated ------------------------------------------------------------------------------------

def group_sizes(n: int, disagree: int) -> dict[tuple[int, int], int]:
    """(label, confound) -> count for n examples of which `disagree` have features that disagree;
    labels balanced (label 1 takes the odd one)."""
    agree = n - disagree
    return {(1, 1): (agree + 1) // 2, (0, 0): agree // 2, (1, 0): (disagree + 1) // 2, (0, 1): disagree // 2}


def generate_rows(sizes: dict[tuple[int, int], int], domain: str, rng: random.Random, seen: set[str]
                  ) -> list[tuple[str, int, int]]:
    """Sentences for each (label, confound) group, none repeating one in `seen`; shuffled."""
    lex = lexicon(domain)
    rows = []
    for (label, confound), count in sizes.items():
        for _ in range(count):
            text = msgs_sentence(rng, lex, adjective=bool(label), the_first=bool(confound))
            while text in seen:
                text = msgs_sentence(rng, lex, adjective=bool(label), the_first=bool(confound))
            seen.add(text)
            rows.append((text, label, confound))
    rng.shuffle(rows)
    return rows


def generate_msgs(seed: int = 2021, opts: MsgsOptions | None = None) -> ConfoundedDataset:
    """The generated MSGS set: train from the in-domain lexicon, dev and test from the other half."""
    opts = opts or MsgsOptions()
    # Inoculation gives every label at least one disagreeing example, so that small sets still
    # have a B group per label (5000 * 0.003 = 15 is above that floor anyway).
    inoculated = round(opts.train_size * opts.inoculation)
    inoculated = min(opts.train_size, max(inoculated, 2)) if opts.inoculation > 0 else 0
    seen: set[str] = set()
    train = generate_rows(group_sizes(opts.train_size, inoculated), "train", random.Random(seed), seen)
    dev_disagree, test_disagree = (n - round(n * opts.eval_agreement) for n in (opts.dev_size, opts.test_size))
    dev = generate_rows(group_sizes(opts.dev_size, dev_disagree), "test", random.Random(seed + 2), seen)
    test = generate_rows(group_sizes(opts.test_size, test_disagree), "test", random.Random(seed + 3), seen)
    return _dataset(train, dev, test, "generated (jobs.data.grammar)",
                    f"MSGS-style (generated): label = an adjective is present; confound = 'the' comes before 'a'. "
                    f"They disagree for {inoculated} of {opts.train_size} train examples and agree for {opts.eval_agreement:.1%} of dev/test; "
                    f"dev/test use words train never sees.")


# --- official files -------------------------------------------------------------------------------

def read_msgs_jsonl(path: Path) -> list[tuple[str, int, int]]:
    """(sentence, linguistic label, surface label) per line of an official MSGS jsonl file."""
    if not path.is_file():
        raise DataError("no such file (the MSGS folder must hold train.jsonl and test.jsonl)",
                        file=str(path))
    rows = []
    for line_no, record in read_jsonl(path).rows:
        for field, kind in FILE_FIELDS.items():
            value = record.get(field)
            valid = isinstance(value, str) if kind is str else type(value) is int and value in (0, 1)
            if not valid:
                want = "a string" if kind is str else "0 or 1"
                raise DataError(f"expected {want}, got {value!r}", file=str(path), row=line_no, field=field)
        rows.append((record["sentence"], int(record["linguistic_feature_label"]), int(record["surface_feature_label"])))
    return rows


def one_per_pair(rows: list, rng: random.Random) -> list:
    """One row of each consecutive pair, chosen at random (an odd last row is dropped)."""
    return [rng.choice(rows[k:k + 2]) for k in range(0, len(rows) - 1, 2)]


def load_msgs_files(folder: str | Path, seed: int = 2021, inoculation: float = 0.003) -> ConfoundedDataset:
    """The paper's MSGS splits from the official jsonl files in `folder`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("not a folder with the MSGS files; use 'offline' or a folder holding train.jsonl "
                        "and test.jsonl", file=str(folder), field="source")
    rows = read_msgs_jsonl(folder / "train.jsonl")
    train = one_per_pair([r for r in rows if r[1] == r[2]], random.Random(seed))
    inoculation_rng = random.Random(seed + 1)
    inoculating_file = folder / "inoculating.jsonl"
    if inoculating_file.is_file():
        disagreeing = read_msgs_jsonl(inoculating_file)
    else:
        inoculating_file = folder / "train.jsonl"
        disagreeing = [r for r in rows if r[1] != r[2]]
    inoculating = one_per_pair(disagreeing, inoculation_rng)
    n_inoculated = int(len(train) * inoculation + 1e-9)
    if n_inoculated > len(inoculating):
        raise DataError(f"{n_inoculated} inoculating examples (features disagree, one per pair) needed, "
                        f"found {len(inoculating)}", file=str(inoculating_file))
    if n_inoculated:
        train = train[:-n_inoculated] + inoculating[-n_inoculated:]
    inoculation_rng.shuffle(train)

    dev_test = read_msgs_jsonl(folder / "test.jsonl")
    half = len(dev_test) // 2
    dev, test = dev_test[:half], dev_test[half:]
    random.Random(seed + 2).shuffle(dev)
    random.Random(seed + 3).shuffle(test)
    return _dataset(train, dev, test, f"official MSGS files ({folder})",
                    "MSGS syntactic_category_relative_position (official files): label = an adjective is present; "
                    f"confound = 'the' comes before 'a'; {n_inoculated} inoculating examples in train.")


def load_msgs(seed: int = 2021, options: dict | None = None, path: str | None = None) -> ConfoundedDataset:
    """MSGS from the official files (folder `path`, or option `source`), else generated."""
    opts = parse_options(MsgsOptions, options or {}, "msgs")
    if path and "source" in opts.model_fields_set:
        raise DataError("give the MSGS folder as path or as option source, not both", field="path")
    folder = path or (None if opts.source == "offline" else opts.source)
    if folder:
        if opts.model_fields_set & {"train_size", "dev_size", "test_size", "eval_agreement"}:
            raise DataError("sizes and shares cannot be set with the official files: the files fix them",
                            file="msgs options")
        return load_msgs_files(folder, seed, opts.inoculation)
    return generate_msgs(seed, opts)
