"""Terminal tables (rich): the final metrics of a run and Table 1 of datasets."""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * float(x):.2f}"


def print_metrics(metrics: dict[str, Any], title: str = "results", console: Console | None = None) -> None:
    """One row per split: accuracy, worst group, agree/disagree accuracy, flip rate (percent)."""
    console = console or Console()
    table = Table(title=title)
    for col in ("split", "acc", "worst group", "agree", "disagree", "flip rate", "n"):
        table.add_column(col, justify="right" if col != "split" else "left")
    for split in ("train", "dev", "test", "control_test"):
        m = metrics.get(split)
        if not isinstance(m, dict):
            continue
        table.add_row(split, _pct(m.get("acc")), _pct(m.get("worst_group_acc")), _pct(m.get("agree_acc")),
                      _pct(m.get("disagree_acc")), _pct(m.get("flip_rate")), str(m.get("n", "")))
    console.print(table)
    cid = metrics.get("cid")
    if cid is not None:
        console.print(f"final CID {cid:+.4f}   (mean influence of same-confound minus other-confound training "
                      f"examples; cosine in [-1, 1], near 0 = confound does not drive influence)")
    if metrics.get("collapsed"):
        console.print("[bold red]collapsed[/]: training accuracy at chance; re-run with --retry-collapsed 1")


def print_table1(stats: list[dict[str, Any]], console: Console | None = None) -> None:
    """The paper's Table 1 for each dataset: split sizes and confound/label agreement."""
    console = console or Console()
    table = Table(title="Table 1: dataset statistics")
    for col in ("dataset", "train", "dev", "test", "agree train", "agree dev", "agree test", "control"):
        table.add_column(col, justify="left" if col == "dataset" else "right")
    for s in stats:
        splits = s["splits"]
        table.add_row(s["name"], *(str(splits[k]["size"]) for k in ("train", "dev", "test")),
                      *(_pct(splits[k]["agreement"]) for k in ("train", "dev", "test")),
                      "yes" if s.get("has_control") else "no")
    console.print(table)
