"""The dashboard's tables as plain rows (pure functions): behaviour of a run, Tables 1, 2 and 3,
an experiment's progress.

Each returns (columns, rows): columns are [(key, header)], rows are dicts of display strings.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from dashboard.figures import format_p
from dashboard.spec_form import format_duration
from jobs.contracts.catalogue import DatasetsOut
from jobs.contracts.datasets import DatasetStats
from jobs.contracts.enums import TRAINED_STATUSES, UNFINISHED_STATUSES, JobStatus, MethodName

SPLITS = ("train", "dev", "test")


def pct(value: Any) -> str:
    """0.8234 -> "82.3" (accuracy in percent, as the paper's tables); "" when missing."""
    if value is None or not isinstance(value, int | float) or not math.isfinite(value):
        return ""
    return f"{100 * value:.1f}"


def num(value: Any, digits: int = 4) -> str:
    if value is None or not isinstance(value, int | float) or not math.isfinite(value):
        return ""
    return f"{value:+.{digits}g}"


def mean_std(mean: Any, std: Any) -> str:
    if mean is None:
        return ""
    return pct(mean) + (f" ± {pct(std)}" if std is not None else "")


def gap(split: dict) -> float | None:
    """Agree minus disagree accuracy: how much better the model does where the confound agrees."""
    agree, disagree = split.get("agree_acc"), split.get("disagree_acc")
    return agree - disagree if agree is not None and disagree is not None else None


BEHAVIOUR_COLUMNS = [("split", "split"), ("n", "n"), ("acc", "accuracy %"), ("worst_group_acc", "worst group %"),
                     ("agree_acc", "agree %"), ("disagree_acc", "disagree %"), ("gap", "agree − disagree"),
                     ("flip_rate", "flip rate %")]


def behaviour_rows(metrics: dict | None) -> tuple[list, list[dict]]:
    """The final behaviour per split: accuracy, worst group, agree/disagree accuracy and their
    gap, flip rate (from a job's results.metrics)."""
    rows = []
    for name in SPLITS:
        split = (metrics or {}).get(name)
        if not isinstance(split, dict):
            continue
        g = gap(split)
        rows.append({"split": name, "n": str(split.get("n", "")), "acc": pct(split.get("acc")),
                     "worst_group_acc": pct(split.get("worst_group_acc")), "agree_acc": pct(split.get("agree_acc")),
                     "disagree_acc": pct(split.get("disagree_acc")), "gap": "" if g is None else f"{100 * g:+.1f}",
                     "flip_rate": pct(split.get("flip_rate"))})
    return BEHAVIOUR_COLUMNS, rows


def group_rows(metrics: dict | None, split: str = "test") -> tuple[list, list[dict]]:
    """Accuracy per (label|confound) group of one split."""
    groups = ((metrics or {}).get(split) or {}).get("per_group") or {}
    return ([("group", "label | confound"), ("acc", "accuracy %")],
            [{"group": name, "acc": pct(acc)} for name, acc in groups.items()])


TABLE1_COLUMNS = [("name", "dataset"), ("labels", "labels"), ("confounds", "confounds"),
                  ("train", "train"), ("dev", "dev"), ("test", "test"),
                  ("agree_train", "agreement train %"), ("agree_test", "agreement test %"),
                  ("pairing", "agrees when"), ("control", "no-confound control"), ("flip", "flip rate"), ("description", "description")]


def pairing_text(stats: DatasetStats) -> str:
    """The pairing the agreement counts as agreeing (stats' agreement_pairing: confound -> label),
    e.g. "“she” → sports, “he” → weather"."""
    return ", ".join(f"“{confound}” → {label}" for confound, label in (stats.agreement_pairing or {}).items())


def table1_rows(datasets: DatasetsOut) -> tuple[list, list[dict]]:
    """Table 1 from GET /api/datasets: sizes, label and confound values, and how often the
    confound agrees with the label in train and test, under which pairing, and the warnings of
    the data (built-in and uploaded datasets)."""
    rows = []
    entries = [(d.name, d.stats, d.error, d.description) for d in datasets.builtin]
    entries += [(f"upload:{u.id}", u.stats, None, f"uploaded: {u.name}") for u in datasets.uploaded]
    for name, stats, error, description in entries:
        if not stats:
            rows.append({"name": name, "description": f"cannot be loaded: {error}"})
            continue
        splits = stats.splits
        rows.append({
            "name": name, "labels": " / ".join(stats.label_names),
            "confounds": " / ".join(f"“{name}”" for name in stats.confound_names),
            **{s: str(splits[s].size) if s in splits else "" for s in SPLITS},
            "agree_train": pct(splits["train"].agreement if "train" in splits else None),
            "agree_test": pct(splits["test"].agreement if "test" in splits else None),
            "pairing": pairing_text(stats),
            "control": "yes" if stats.has_control else "no",
            "flip": "yes" if stats.has_counterfactual else "no",
            "description": " ".join([description or stats.description,
                                     *(f"Warning: {w}." for w in stats.warnings)])})
    return TABLE1_COLUMNS, rows


def swept(rows: Sequence[dict]) -> bool:
    """Whether some (dataset, method, access rate) has several grid points: then the row chosen
    by mean dev accuracy is worth marking (in a plain comparison every row is its own choice)."""
    keys = [(r["dataset"], r["method"], r.get("access_rate", 1.0)) for r in rows]
    return len(set(keys)) < len(keys)


def table2_rows(rows: Sequence[dict], selected_only: bool = False) -> tuple[list, list[dict]]:
    """Table 2 from GET /api/experiments/{id}/table: per dataset and method (and grid point and
    access rate), test accuracy mean ± std over seeds, the p-value against finetuning,
    worst-group accuracy, accuracy per group, dev accuracy (what a sweep selects on), flip rate
    and the mean final CID. In a sweep the row selected on dev is marked ✓; selected_only keeps
    only those rows."""
    marked = swept(rows)
    if selected_only:
        rows = [r for r in rows if r.get("selected")]
    groups = list(dict.fromkeys(g for r in rows for g in (r.get("group_acc_mean") or {})))
    partial_access = any(r.get("access_rate", 1.0) != 1.0 for r in rows)
    columns = [("dataset", "dataset"), ("method", "method"),
               *([("access", "confound access %")] if partial_access else []),
               *([("selected", "selected on dev")] if marked else []), ("seeds", "seeds done"),
               ("test_acc", "test acc % (mean ± std)"), ("p", "p vs finetune"),
               ("worst_group", "worst group % (mean ± std)"), ("dev_acc", "dev acc % (mean ± std)"),
               ("flip_rate", "flip rate % (mean)"), *[(f"group:{g}", f"{g} %") for g in groups],
               ("cid", "final CID (mean)")]
    out = []
    for r in rows:
        params = {k: v for k, v in (r.get("params") or {}).items() if k != "dataset.access_rate"}
        method = r["method"] + ("".join(f" {k}={v}" for k, v in sorted(params.items())) if params else "")
        out.append({"dataset": r["dataset"], "method": method, "access": pct(r.get("access_rate", 1.0)),
                    "selected": "✓ selected" if r.get("selected") else "",
                    "seeds": f"{r.get('finished', 0)}/{r.get('jobs', 0)}",
                    "test_acc": mean_std(r.get("test_acc_mean"), r.get("test_acc_std")),
                    "p": "" if r["method"] == MethodName.FINETUNE else format_p(r.get("p_vs_finetune")),
                    "worst_group": mean_std(r.get("worst_group_acc_mean"), r.get("worst_group_acc_std")),
                    **{f"group:{g}": pct((r.get("group_acc_mean") or {}).get(g)) for g in groups},
                    "dev_acc": mean_std(r.get("dev_acc_mean"), r.get("dev_acc_std")),
                    "flip_rate": pct(r.get("flip_rate_mean")), "cid": num(r.get("cid_mean"))})
    return columns, out


def access_rates(rows: Sequence[dict]) -> list[float]:
    """The confound access rates of an experiment's Table-2 rows, highest first ([] when every
    row sees the whole confound: then there is no Table 3)."""
    rates = sorted({r.get("access_rate", 1.0) for r in rows}, reverse=True)
    return rates if any(rate != 1.0 for rate in rates) else []


def table3_rows(rows: Sequence[dict]) -> tuple[list, list[dict]]:
    """Table 3: per dataset and method with runs at reduced confound access, the selected row's
    test accuracy (mean over seeds, and how many seeds) at each access rate."""
    rates = access_rates(rows)
    if not rates:
        return [], []
    partial = {(r["dataset"], r["method"]) for r in rows if r.get("access_rate", 1.0) != 1.0}
    chosen = {(r["dataset"], r["method"], r.get("access_rate", 1.0)): r for r in rows if r.get("selected")}
    columns = [("dataset", "dataset"), ("method", "method"),
               *[(f"rate:{rate:g}", f"access {pct(rate)} %") for rate in rates]]
    out = []
    for dataset, method in sorted(partial):
        row = {"dataset": dataset, "method": method}
        for rate in rates:
            found = chosen.get((dataset, method, rate))
            mean = pct(found.get("test_acc_mean")) if found else ""
            row[f"rate:{rate:g}"] = f"{mean} (n={found.get('finished', 0)})" if mean else ""
        out.append(row)
    return columns, out


def progress_summary(progress: dict | None) -> dict[str, str]:
    """An experiment's progress (GET /api/experiments) in words: "3/4 done", the counts by
    status that are not zero, and the ETA ("" once done)."""
    progress = progress or {}
    total, done = progress.get("total", 0), progress.get("done", 0)
    counts = " · ".join(f"{progress[s]} {s}" for s in (*TRAINED_STATUSES, *UNFINISHED_STATUSES, JobStatus.RUNNING,
                                                      JobStatus.QUEUED) if progress.get(s))
    workers = progress.get("workers") or 0
    if workers:
        counts += f" · on {workers} worker{'s' * (workers != 1)}"
    if not total:
        eta = ""
    elif done >= total:
        eta = "finished"
    elif progress.get("eta_s") is None:
        eta = "ETA once a job has finished"
    else:
        eta = f"ETA {format_duration(progress['eta_s'])}"
    return {"done": f"{done}/{total} done", "counts": counts or "no jobs", "eta": eta}


def job_outcome(metrics: dict | None) -> dict[str, str]:
    """What the jobs list shows of a finished job: test and worst-group accuracy, and beside the
    final CID the behaviour it should go with (agree − disagree gap, flip rate)."""
    test = (metrics or {}).get("test") or {}
    g = gap(test)
    return {"test_acc": pct(test.get("acc")), "worst_group_acc": pct(test.get("worst_group_acc")),
            "cid": num((metrics or {}).get("cid")), "gap": "" if g is None else f"{100 * g:+.1f}",
            "flip_rate": pct(test.get("flip_rate"))}
