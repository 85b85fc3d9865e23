"""Experiments: a grid expanded into job specs, and the Table-2 summary of their results.

Grid: every combination of datasets x methods x seeds x hyperparameter values (dotted spec
fields) is one job. Table: per (dataset, method, hyperparameters), the mean and sample standard
deviation over seeds of test accuracy and worst-group accuracy, per-group means, and Welch's
t-test p-value of test accuracy against finetuning on the same dataset.
"""
from __future__ import annotations

import copy
import itertools
import json
import math
import statistics
from collections import defaultdict
from typing import Any

from scipy import stats

MAX_JOBS = 1000
REFERENCE_METHOD = "finetune"


class GridTooLarge(ValueError):
    pass


def _set_dotted(spec: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = spec
    for key in parents:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[leaf] = copy.deepcopy(value)


def expand_grid(base: dict[str, Any], methods: list[str], seeds: list[int], datasets: list[str | dict[str, Any]],
                grid: dict[str, list[Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(raw spec, grid point) for every combination; the grid point names the hyperparameters."""
    keys = sorted(grid)
    count = max(len(datasets), 1) * len(methods) * len(seeds) * math.prod(len(grid[k]) for k in keys)
    if count > MAX_JOBS:
        raise GridTooLarge(f"the grid makes {count} jobs; at most {MAX_JOBS} per experiment")
    base_dataset = base.get("dataset") if isinstance(base.get("dataset"), dict) else {}
    expanded = []
    for dataset in datasets or [base_dataset]:
        dataset_spec = {**base_dataset, **({"name": dataset} if isinstance(dataset, str) else dataset)}
        for method, seed, values in itertools.product(methods, seeds, itertools.product(*(grid[k] for k in keys))):
            spec = copy.deepcopy(base)
            spec.update(dataset=copy.deepcopy(dataset_spec), method=method, seed=seed)
            for key, value in zip(keys, values, strict=True):
                _set_dotted(spec, key, value)
            expanded.append((spec, dict(zip(keys, values, strict=True))))
    return expanded


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def welch_p(sample: list[float], reference: list[float]) -> float | None:
    """Two-sided Welch's t-test p-value (None when either side has fewer than two values or
    both are constant)."""
    if len(sample) < 2 or len(reference) < 2:
        return None
    p = stats.ttest_ind(sample, reference, equal_var=False).pvalue
    return float(p) if math.isfinite(p) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def table_rows(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Table 2 from jobs given as {"dataset", "method", "params", "status", "metrics"}."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for job in jobs:
        groups[(job["dataset"], job["method"], json.dumps(job["params"], sort_keys=True))].append(job)

    def test_metrics(members) -> list[dict[str, Any]]:
        """The test-split metrics of the succeeded members that have a test accuracy."""
        found = []
        for job in members:
            test = (job["metrics"] or {}).get("test")
            if job["status"] == "succeeded" and isinstance(test, dict) and _number(test.get("acc")) is not None:
                found.append(test)
        return found

    def accuracies(members) -> list[float]:
        return [float(t["acc"]) for t in test_metrics(members)]

    rows = []
    for (dataset, method, params), members in sorted(groups.items()):
        tests = test_metrics(members)
        acc = accuracies(members)
        worst = [w for t in tests if (w := _number(t.get("worst_group_acc"))) is not None]
        cids = [c for job in members if job["status"] == "succeeded"
                and (c := _number((job["metrics"] or {}).get("cid"))) is not None]
        per_group: dict[str, list[float]] = defaultdict(list)
        for t in tests:
            for group, value in (t.get("per_group") or {}).items():
                if _number(value) is not None:
                    per_group[group].append(float(value))
        reference = groups.get((dataset, REFERENCE_METHOD, params)) or [
            job for (d, m, _), js in groups.items() if d == dataset and m == REFERENCE_METHOD for job in js]
        acc_mean, acc_std = _mean_std(acc)
        worst_mean, worst_std = _mean_std(worst)
        rows.append({
            "dataset": dataset, "method": method, "params": json.loads(params), "jobs": len(members),
            "finished": len(acc), "test_acc_mean": acc_mean, "test_acc_std": acc_std,
            "p_vs_finetune": None if method == REFERENCE_METHOD else welch_p(acc, accuracies(reference)),
            "worst_group_acc_mean": worst_mean, "worst_group_acc_std": worst_std,
            "group_acc_mean": {g: statistics.fmean(v) for g, v in sorted(per_group.items())},
            "cid_mean": statistics.fmean(cids) if cids else None,
        })
    return rows
