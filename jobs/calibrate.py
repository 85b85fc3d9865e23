"""Calibration of the offline generators: finetune on the generated data, compared with the
same finetune on the original splits (issue 19's table).

A generator stands in for a dataset a user may not have (CoNLL-2003, the MSGS files). It is
faithful when the paper's phenomenon shows on it as on the original: the same finetune reaches
the same test accuracy and leans on the confound as much (worst group, agree/disagree gap).
The check is the `cpu` scale's finetune (MiniLM, lr 2e-5, batch 64, max length 64; TextLen at
the paper's sizes, MSGS at the original's 5000 training examples, 3 epochs, tested on all 15000
test rows) per seed, beside the original's figures and the tolerances the issue set; and the
generated texts' words and lengths beside the original's (jobs.data.textstats).

`deconfound datasets --calibrate textlen|msgs` prints it (jobs/cli.py); scale "tiny" runs the
same path with the random test model on a few dozen examples (the plumbing, numbers mean nothing).
"""
from __future__ import annotations

import statistics
from collections.abc import Callable

from pydantic import BaseModel

from jobs.contracts.results import JobResults
from jobs.data.textstats import TextStats, text_stats
from jobs.presets import merge_fragments, scale_spec
from jobs.text_table import text_table

CALIBRATED = ("textlen", "msgs")
SCALES = ("cpu", "tiny")
# What the check changes of a scale's finetune: MSGS at the original's sizes (the cpu scale's
# reproduction runs it smaller); dev is only watched during training, so it stays small.
SIZES: dict[str, dict[str, dict]] = {
    "cpu": {"msgs": {"dataset": {"options": {"train_size": 5000, "dev_size": 1000, "test_size": 15000}}}},
    "tiny": {},
}


class Target(BaseModel):
    """One figure of the original split, and how far the generated data may be from it."""

    metric: str  # a CalibrationRow field
    label: str
    original: float
    tolerance: float | None = None  # None: shown for comparison, not checked


class OriginalData(BaseModel):
    """The original dataset's figures (measured on the files held outside this repository)."""

    targets: list[Target]
    vocabulary: dict[str, int]  # split -> distinct words
    length: str  # train length in words: "mean, sd, range" ("-": not measured)


ORIGINALS: dict[str, OriginalData] = {
    "textlen": OriginalData(
        targets=[Target(metric="test_acc", label="test acc", original=75.8, tolerance=3),
                 Target(metric="worst_group", label="worst group", original=47.2, tolerance=8),
                 Target(metric="flip_rate", label="flip rate", original=45.0),
                 Target(metric="cid", label="CID", original=0.62)],
        vocabulary={"train": 6607, "test": 3090}, length="as generated (the protocol)"),
    "msgs": OriginalData(
        targets=[Target(metric="test_acc", label="test acc", original=79.4, tolerance=4),
                 Target(metric="worst_group", label="worst group", original=43.1),
                 Target(metric="agree", label="agree", original=91.4),
                 Target(metric="disagree", label="disagree", original=55.4),
                 Target(metric="gap", label="agree - disagree", original=36.0, tolerance=8),
                 Target(metric="cid", label="CID", original=0.10)],
        vocabulary={"train": 947, "test": 1073}, length="13.2, 1.6, 9-18"),
}


class CalibrationRow(BaseModel):
    """One seed's finetune on the generated data (accuracies in percent)."""

    seed: int
    status: str
    test_acc: float | None = None
    worst_group: float | None = None
    agree: float | None = None
    disagree: float | None = None
    gap: float | None = None
    flip_rate: float | None = None
    cid: float | None = None
    wall_s: float = 0.0


class Calibration(BaseModel):
    """The check of one generator: per-seed rows, the original's figures, the texts' statistics."""

    dataset: str
    scale: str
    model: str
    rows: list[CalibrationRow]
    original: OriginalData
    texts: dict[str, TextStats]  # split -> statistics of the generated texts (TextLen: without prefix)

    def mean(self, metric: str) -> float | None:
        values = [v for row in self.rows if (v := getattr(row, metric)) is not None]
        return statistics.fmean(values) if values else None

    def within(self, target: Target) -> bool | None:
        """Is the mean over seeds within the target's tolerance (None: unchecked or not measured)?"""
        mean = self.mean(target.metric)
        if target.tolerance is None or mean is None:
            return None
        return abs(mean - target.original) <= target.tolerance


def calibration_spec(dataset: str, seed: int, scale: str = "cpu") -> dict:
    """The raw job spec of one seed's finetune check."""
    if dataset not in CALIBRATED:
        raise ValueError(f"no calibration for '{dataset}'; valid: {', '.join(CALIBRATED)}")
    if scale not in SCALES:
        raise ValueError(f"unknown calibration scale '{scale}'; valid: {', '.join(SCALES)}")
    spec = merge_fragments(scale_spec(scale, dataset, "finetune"), SIZES[scale].get(dataset, {}))
    return {**spec, "method": "finetune", "seed": seed}


def _pct(x: float | None) -> float | None:
    return None if x is None else 100 * x


def row_of(seed: int, status: str, results: JobResults, wall_s: float) -> CalibrationRow:
    test = results.test
    if test is None:
        return CalibrationRow(seed=seed, status=status, wall_s=wall_s)
    gap = test.agree_gap
    return CalibrationRow(seed=seed, status=status, test_acc=_pct(test.acc), worst_group=_pct(test.worst_group_acc),
                          agree=_pct(test.agree_acc), disagree=_pct(test.disagree_acc), gap=_pct(gap),
                          flip_rate=_pct(test.flip_rate), cid=results.cid, wall_s=wall_s)


def generated_text_stats(dataset: str, spec: dict) -> dict[str, TextStats]:
    """Words and lengths of the data the check trains and tests on (TextLen: the texts without
    their prefix, as the original's counts)."""
    from jobs.data import load_dataset
    from jobs.spec import JobSpec

    data = load_dataset(JobSpec.model_validate(spec).dataset)
    splits = data.control if dataset == "textlen" and data.control else data.splits()
    return {name: text_stats(split.texts) for name, split in splits.items() if name in ("train", "test")}


def calibrate(dataset: str, seeds: list[int], scale: str = "cpu",
              on_row: Callable[[CalibrationRow], None] | None = None) -> Calibration:
    """Finetune once per seed on the generated `dataset` and collect the check (on_row: called as
    each seed ends, for progress)."""
    from jobs.recorder import NullRecorder
    from jobs.runner import run
    from jobs.spec import JobSpec

    specs = [calibration_spec(dataset, seed, scale) for seed in seeds]
    rows = []
    for seed, raw in zip(seeds, specs, strict=True):
        outcome = run(JobSpec.model_validate(raw), NullRecorder())
        rows.append(row_of(seed, outcome.status, outcome.results, outcome.wall_s))
        if on_row is not None:
            on_row(rows[-1])
    return Calibration(dataset=dataset, scale=scale, model=str(specs[0]["model"]) if specs else "", rows=rows,
                       original=ORIGINALS[dataset], texts=generated_text_stats(dataset, specs[0]) if specs else {})


def _fmt(x: float | None, metric: str) -> str:
    if x is None:
        return "-"
    return f"{x:.2f}" if metric == "cid" else f"{x:.1f}"


def calibration_table(cal: Calibration) -> str:
    """The check as plain-text tables: per seed and their mean beside the original's figures
    and the verdict, then the texts' statistics beside the original's."""
    targets = cal.original.targets
    headers = ["", *(t.label for t in targets), "status", "wall s"]
    rows = [[f"seed {row.seed}", *(_fmt(getattr(row, t.metric), t.metric) for t in targets), row.status,
             f"{row.wall_s:.0f}"] for row in cal.rows]
    rows.append(["mean", *(_fmt(cal.mean(t.metric), t.metric) for t in targets), "", ""])
    rows.append(["original split", *(_fmt(t.original, t.metric) for t in targets), "", ""])
    rows.append(["target", *("-" if t.tolerance is None else f"±{t.tolerance:g}" for t in targets), "", ""])
    verdicts = [cal.within(t) for t in targets]
    rows.append(["within", *("-" if v is None else "yes" if v else "NO" for v in verdicts), "", ""])
    title = (f"Calibration of the generated {cal.dataset}: finetune ({cal.model}, scale {cal.scale}) "
             f"on the generated data vs the original split (percent; CID a cosine)")
    out = text_table(headers, rows, title, right=headers[1:])
    stat_rows = []
    for split, stats in cal.texts.items():
        length = f"{stats.length_mean:.1f}, {stats.length_sd:.1f}, {stats.length_min}-{stats.length_max}"
        original_length = cal.original.length if split == "train" else "-"
        stat_rows.append([split, str(stats.texts), str(stats.vocabulary), str(cal.original.vocabulary.get(split, "-")),
                          length, original_length])
    out += "\n" + text_table(["split", "texts", "words", "original words", "length (mean, sd, range)",
                              "original length"], stat_rows, "Generated texts: distinct words and length in words",
                             right=("texts", "words", "original words"))
    checked = [v for v, t in zip(verdicts, targets, strict=True) if t.tolerance is not None]
    verdict = ("not measured" if any(v is None for v in checked)
               else "within target" if all(checked) else "OUT OF TARGET")
    return out + f"\n{cal.dataset}: {verdict}\n"
