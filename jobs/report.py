"""Terminal tables (plain text, jobs/text_table.py): the final metrics of a run and Table 1 of datasets."""
from __future__ import annotations

import sys
from typing import Any, TextIO

from jobs.contracts.datasets import DatasetStats
from jobs.contracts.results import SPLITS, JobResults
from jobs.text_table import text_table


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * float(x):.2f}"


def print_metrics(results: JobResults, title: str = "results", out: TextIO | None = None) -> None:
    """One row per split: accuracy, worst group, agree/disagree accuracy, flip rate (percent)."""
    out = out or sys.stdout
    headers = ["split", "acc", "worst group", "agree", "disagree", "flip rate", "n"]
    rows = [[split, _pct(m.acc), _pct(m.worst_group_acc), _pct(m.agree_acc), _pct(m.disagree_acc),
             _pct(m.flip_rate), "" if m.n is None else str(m.n)]
            for split in SPLITS if (m := results.split(split)) is not None]
    print(text_table(headers, rows, title, right=headers[1:]), file=out)
    groups = [name for split in ("test", "train") if (m := results.split(split)) is not None for name in m.per_group]
    groups = list(dict.fromkeys(groups))
    if groups:  # each (label, confound) group's accuracy, by the data's own names
        splits = {s: m for s in SPLITS if (m := results.split(s)) is not None}
        print(text_table(["split", *groups], [[s, *(_pct(m.per_group.get(g)) for g in groups)]
                                               for s, m in splits.items()], "accuracy by group (label|confound)",
                         right=groups), file=out)
    if pairing := results.agreement_pairing:
        print("agree = the confound is the one that goes with the label: "
              + ", ".join(f"{confound} -> {label}" for confound, label in pairing.items()), file=out)
    cid = results.cid
    if cid is not None:
        print(f"final CID {cid:+.4f}   (mean influence of same-confound minus other-confound training "
              f"examples; cosine in [-1, 1], near 0 = confound does not drive influence)", file=out)
    if results.architecture is not None:
        print(f"model: {results.architecture.summary()}", file=out)
    if results.collapsed:
        print("COLLAPSED: training accuracy at chance; re-run with --retry-collapsed 1", file=out)


def print_table1(stats: list[DatasetStats], out: TextIO | None = None) -> None:
    """The paper's Table 1 for each dataset: split sizes, confound/label agreement and the
    pairing it counts (confound value -> label)."""
    headers = ["dataset", "train", "dev", "test", "agree train", "agree dev", "agree test", "agrees when", "control"]
    rows = [[s.name, *(str(s.splits[k].size) for k in ("train", "dev", "test")),
             *(_pct(s.splits[k].agreement) for k in ("train", "dev", "test")),
             ", ".join(f"{c} -> {y}" for c, y in (s.agreement_pairing or {}).items()),
             "yes" if s.has_control else "no"] for s in stats]
    print(text_table(headers, rows, "Table 1: dataset statistics", right=headers[1:]), file=out or sys.stdout)
