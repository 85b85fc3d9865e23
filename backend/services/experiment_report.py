"""An experiment's tables on the terminal (plain text, jobs/text_table.py): Table 2, with access rates Table 3, and for a
reproduction Figure 3's CID trajectories as numbers.

The tables take the rows of backend.services.experiments.table_rows (GET /api/experiments/{id}/table),
the figure those of backend.services.experiments.cid_trajectories (GET /api/experiments/{id}/cid).
Accuracies are printed in percent, as the paper prints them.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO

from jobs.contracts.api import CidTrajectoryRow, TableRow
from jobs.contracts.enums import ExperimentKind
from jobs.contracts.json_value import JsonObject
from jobs.presets import ACCESS_RATE_METHODS, PROTOCOL_METHODS
from jobs.text_table import text_table

# The paper's column order; other methods follow by name.
METHOD_ORDER = {m: i for i, m in enumerate(PROTOCOL_METHODS["textlen"])}


def _ordered(rows: list[TableRow]) -> list[TableRow]:
    return sorted(rows, key=lambda r: (r.dataset, METHOD_ORDER.get(r.method, len(METHOD_ORDER)), r.method))


def _pct(value: float | None, std: float | None = None) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.2f}" + (f" ± {100 * std:.2f}" if std is not None else "")


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _params(params: JsonObject) -> str:
    return ", ".join(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}"
                     for key, value in sorted(params.items())) or "-"


@dataclass
class Grid:
    """A table before it is drawn: plain text on a terminal, or Markdown for a paper or docs."""

    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    bold: list[bool] = field(default_factory=list)
    right: set[str] = field(default_factory=set)  # right-aligned columns

    def add(self, cells: list[str], bold: bool = False) -> None:
        self.rows.append(cells)
        self.bold.append(bold)

    def text(self) -> str:
        return text_table(self.headers, self.rows, self.title, self.right)

    def markdown(self) -> str:
        def line(cells: list[str]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|") or " " for c in cells) + " |"

        align = ["---:" if h in self.right else "---" for h in self.headers]
        rows = [[f"**{c}**" if bold and c else c for c in cells] for cells, bold in zip(self.rows, self.bold, strict=True)]
        return "\n".join([f"**{self.title}**", "", line(self.headers), "| " + " | ".join(align) + " |",
                          *(line(cells) for cells in rows)]) + "\n"


def table2(rows: list[TableRow], title: str = "Table 2", sweep: bool = False) -> Grid:
    """Full-access rows: n finished / n, test accuracy mean ± std, Welch p vs finetuning, worst
    group, per-group means, flip rate, CID, dev accuracy; a sweep marks its selected rows."""
    rows = _ordered([r for r in rows if r.access_rate >= 1.0])
    groups = sorted({g for r in rows for g in r.group_acc_mean})
    show_params = any(r.params for r in rows)
    numbers = ["n", "test acc", "p vs FT", "worst group", *groups, "flip rate", "CID", "dev acc"]
    grid = Grid(title, (["sel"] if sweep else []) + ["dataset", "method"] + (["hyperparameters"] if show_params else [])
                + numbers, right=set(numbers))
    for r in rows:
        cells = ["✓" if r.selected else ""] if sweep else []
        cells += [r.dataset, r.method] + ([_params(r.params)] if show_params else [])
        cells += [f"{r.finished}/{r.jobs}", _pct(r.test_acc_mean, r.test_acc_std), _p(r.p_vs_finetune),
                  _pct(r.worst_group_acc_mean), *(_pct(r.group_acc_mean.get(g)) for g in groups),
                  _pct(r.flip_rate_mean),
                  "-" if r.cid_mean is None else f"{r.cid_mean:+.4f}", _pct(r.dev_acc_mean)]
        grid.add(cells, bold=sweep and r.selected)
    return grid


def table3(rows: list[TableRow], title: str = "Table 3") -> Grid | None:
    """Influence and embedding tuning per confound access rate: test accuracy mean over the
    succeeded trials (n). Uses the selected rows; None when the experiment has no access rates."""
    chosen = [r for r in rows if r.method in ACCESS_RATE_METHODS and r.selected]
    if not any(r.access_rate < 1.0 for r in chosen):
        return None
    methods = [m for m in ACCESS_RATE_METHODS if any(r.method == m for r in chosen)]
    columns = [f"{method} (n)" for method in methods]
    grid = Grid(title, ["dataset", "access rate", *columns], right={"access rate", *columns})
    for dataset, rate in sorted({(r.dataset, r.access_rate) for r in chosen}):
        cells = [dataset, f"{100 * rate:g}%"]
        for method in methods:
            found = [r for r in chosen if (r.dataset, r.method, r.access_rate) == (dataset, method, rate)]
            cells.append(f"{_pct(found[0].test_acc_mean)} ({found[0].finished})" if found else "-")
        grid.add(cells)
    return grid


def figure3(cid_rows: list[CidTrajectoryRow], title: str = "Figure 3: CID during training") -> Grid | None:
    """Each method's mean CID (n jobs) at every label step and phase, from
    backend.services.experiments.cid_trajectories (or GET /api/experiments/{id}/cid); None without points."""
    if not cid_rows:
        return None
    methods = sorted({m for r in cid_rows for m in r.methods},
                     key=lambda m: (METHOD_ORDER.get(m, len(METHOD_ORDER)), m))
    grid = Grid(title, ["dataset", "step", "phase", *methods], right={"step", *methods})
    for r in cid_rows:
        cells = [r.dataset, str(r.step), r.phase]
        for method in methods:
            found = r.methods.get(method)
            cells.append("" if found is None else "-" if found.mean is None
                         else f"{found.mean:+.4f} ({found.n})")
        grid.add(cells)
    return grid


def print_tables(rows: list[TableRow], kind: str, out: TextIO | None = None, name: str = "",
                 cid_rows: list[CidTrajectoryRow] | None = None, markdown: bool = False) -> None:
    """Table 2 (a sweep: every grid point, the selected ones marked), Table 3 when present, and
    Figure 3's numbers when cid_rows are given; as plain-text tables, or as Markdown."""
    out = out or sys.stdout
    grids = [table2(rows, title=f"Table 2: {name}" if name else "Table 2", sweep=kind == ExperimentKind.SWEEP), table3(rows),
             figure3(cid_rows) if cid_rows else None]
    for grid in grids:
        if grid is None:
            continue
        print(grid.markdown() if markdown else grid.text(), file=out, flush=True)
