"""CSV text of what a figure or a table shows (pure functions). The pages fetch the full data
from the API on demand (not the thinned display copy) and hand it here."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A CSV document: the header line, then one line per row (None as an empty field)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return out.getvalue()


def metrics_csv(series: dict[str, dict]) -> str:
    """Training curves in long form: name, step, value."""
    return to_csv(["name", "step", "value"], ((name, step, value) for name, s in sorted(series.items())
                                              for step, value in zip(s["steps"], s["values"], strict=False)))


def cid_csv(runs: Sequence[dict]) -> str:
    """CID points of one or more runs [{"job_id", "points"}]: job, step, phase, CID, median
    p-value, and each probe's CID (probe_0, probe_1, ...)."""
    width = max((len(p.get("per_probe") or []) for run in runs for p in run["points"]), default=0)
    header = ["job_id", "step", "phase", "cid", "p_median", *[f"probe_{i}" for i in range(width)]]
    rows = []
    for run in runs:
        for p in run["points"]:
            per_probe = list(p.get("per_probe") or [])
            rows.append([run["job_id"], p["step"], p["phase"], p["value"], (p.get("extra") or {}).get("p_median"),
                         *per_probe, *[None] * (width - len(per_probe))])
    return to_csv(header, rows)


def influence_csv(lists: dict) -> str:
    """A probe's A and B influence scores at a step (Figure 1's data): group, train index, score."""
    rows = [("A", i, s) for i, s in zip(lists["a_index"], lists["a_scores"], strict=False)]
    rows += [("B", i, s) for i, s in zip(lists["b_index"], lists["b_scores"], strict=False)]
    return to_csv(["probe", "step", "phase", "group", "train_index", "score"],
                  ([lists["probe"], lists["step"], lists.get("phase"), *row] for row in rows))


def records_csv(columns: Sequence[tuple[str, str]], rows: Sequence[dict]) -> str:
    """A table given as (columns [(key, header)], rows of dicts)."""
    return to_csv([header for _, header in columns], ([row.get(key) for key, _ in columns] for row in rows))


def table2_csv(rows: Sequence[dict]) -> str:
    """Table 2 as the API computed it (unrounded): one line per dataset, method, parameters and
    access rate; `selected` marks each (dataset, method, access rate)'s best row by mean dev accuracy."""
    groups = list(dict.fromkeys(g for r in rows for g in (r.get("group_acc_mean") or {})))
    fields = ["access_rate", "jobs", "finished", "test_acc_mean", "test_acc_std", "p_vs_finetune",
              "worst_group_acc_mean", "worst_group_acc_std", "dev_acc_mean", "dev_acc_std", "flip_rate_mean",
              "cid_mean", "selected"]
    header = ["dataset", "method", "params", *fields, *[f"group_acc_mean:{g}" for g in groups]]

    def params(row: dict) -> str:
        return ";".join(f"{k}={v}" for k, v in sorted((row.get("params") or {}).items()))

    return to_csv(header, ([r["dataset"], r["method"], params(r), *[r.get(f) for f in fields],
                            *[(r.get("group_acc_mean") or {}).get(g) for g in groups]] for r in rows))


def table3_csv(rows: Sequence[dict]) -> str:
    """Table 3 (unrounded): the selected row of each (dataset, method, access rate) of the
    methods run at reduced confound access, with its test accuracy over seeds."""
    partial = {(r["dataset"], r["method"]) for r in rows if r.get("access_rate", 1.0) != 1.0}
    shown = sorted((r for r in rows if r.get("selected") and (r["dataset"], r["method"]) in partial),
                   key=lambda r: (r["dataset"], r["method"], -r.get("access_rate", 1.0)))
    fields = ["access_rate", "jobs", "finished", "test_acc_mean", "test_acc_std", "worst_group_acc_mean"]
    return to_csv(["dataset", "method", *fields], ([r["dataset"], r["method"], *[r.get(f) for f in fields]]
                                                   for r in shown))
