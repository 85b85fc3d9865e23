"""Experiments: grids expanded into job specs, the Table-2 summary of their results, model
selection on dev, and an experiment's progress.

Grid: every combination of datasets x methods x seeds x hyperparameter values (dotted spec
fields) is one job; an experiment is the union of one or more grids ("parts"). Table: per
(dataset, method, hyperparameters), the mean and sample standard deviation over seeds of test
accuracy and worst-group accuracy, per-group, dev and flip-rate means, and Welch's t-test
p-value of test accuracy against finetuning on the same dataset. Selection: per (dataset,
method, confound access rate), the hyperparameters with the highest mean dev accuracy.
"""
from __future__ import annotations

import copy
import itertools
import json
import math
import statistics
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from scipy import stats

from backend.services.errors import Rejected
from jobs.contracts.api import CidMethodMean, CidTrajectoryRow, ExperimentProgress, TableRow
from jobs.contracts.enums import (
    FINISHED_STATUSES,
    PHASE_ORDER,
    TRAINED_STATUSES,
    ExperimentKind,
    JobStatus,
    MethodName,
)
from jobs.contracts.json_value import JsonObject
from jobs.contracts.results import JobResults
from jobs.presets import SCALES
from jobs.spec import spelled_out

MAX_JOBS = 1000
REFERENCE_METHOD = MethodName.FINETUNE


class GridTooLarge(Rejected):
    pass


def _set_dotted(spec: JsonObject, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = spec
    for key in parents:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[leaf] = copy.deepcopy(value)


def expand_grid(base: JsonObject, methods: list[str], seeds: list[int], datasets: list[str | JsonObject],
                grid: dict[str, list[Any]]) -> list[tuple[JsonObject, JsonObject]]:
    """(raw spec, grid point) for every combination; the grid point names the hyperparameters."""
    keys = sorted(grid)
    count = max(len(datasets), 1) * len(methods) * len(seeds) * math.prod(len(grid[k]) for k in keys)
    if count > MAX_JOBS:
        raise GridTooLarge(f"the grid makes {count} jobs; at most {MAX_JOBS} per experiment")
    base_dataset = spelled_out(base.get("dataset", {}))  # "msgs", "upload:3" or DatasetSpec fields
    base_dataset = base_dataset if isinstance(base_dataset, dict) else {}
    expanded = []
    for dataset in datasets or [base_dataset]:
        dataset_spec = {**base_dataset, **spelled_out(dataset)}
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
    if len(sample) < 2 or len(reference) < 2 or len(set(sample)) == len(set(reference)) == 1:
        return None
    with warnings.catch_warnings():  # nearly equal values: scipy warns, and the p-value says enough
        warnings.simplefilter("ignore", RuntimeWarning)
        p = stats.ttest_ind(sample, reference, equal_var=False).pvalue
    return float(p) if math.isfinite(p) else None


def grid_size(methods: list[str], seeds: list[int], datasets: list, grid: dict[str, list[Any]]) -> int:
    """Jobs one grid makes."""
    return max(len(datasets), 1) * len(methods) * len(seeds) * math.prod(len(v) for v in grid.values())


def expand_parts(parts: list[JsonObject]) -> list[tuple[JsonObject, JsonObject]]:
    """expand_grid over several grids, each {"base", "methods", "seeds", "datasets", "grid"}, in
    order; at most MAX_JOBS in all."""
    count = sum(grid_size(p["methods"], p["seeds"], p["datasets"], p["grid"]) for p in parts)
    if count > MAX_JOBS:
        raise GridTooLarge(f"the grid makes {count} jobs; at most {MAX_JOBS} per experiment")
    return [pair for p in parts for pair in expand_grid(p["base"], p["methods"], p["seeds"], p["datasets"], p["grid"])]


def expand_request(parts: list[JsonObject], kind: str) -> list[tuple[JsonObject, JsonObject]]:
    """The jobs of an experiment in queue order. A reproduction runs seed by seed (every method of
    a seed before the next seed, Table 3's access-rate runs last), so a partial run already
    gives whole rows of Table 2."""
    expanded = expand_parts(parts)
    if kind == ExperimentKind.REPRODUCE:
        expanded.sort(key=lambda pair: ("dataset.access_rate" in pair[1], pair[0].get("seed", 0)))
    return expanded


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        else None


@dataclass
class TableJob:
    """What Table 2 needs of a job (backend.services.experiment_records.job_rows makes them)."""

    dataset: str
    method: str
    params: JsonObject  # its grid point
    status: JobStatus
    spec: JsonObject  # the stored spec: its dataset's access rate
    metrics: JobResults | None = None


@dataclass
class RunCidPoint:
    """One CID point of a job, labelled with the row of Figure 3 it is averaged into."""

    dataset: str
    method: str  # the method, and a sweep's grid point after it
    job_id: int
    step: int
    phase: str
    value: float | None


@dataclass
class JobState:
    """What an experiment's progress needs of a job: from a Job row (experiment_records), the API's
    JobOut (reproduce --api) or a preview. id, seed, params, step, total and phase are for the
    reproduce command's progress line."""

    status: JobStatus
    method: str | None = None
    wall_s: float | None = None
    worker_id: str | None = None
    eta_s: float | None = None
    id: int | None = None
    seed: int | None = None
    params: JsonObject = field(default_factory=dict)
    step: int | None = None
    total: int | None = None
    phase: str | None = None


def access_rate(spec: JsonObject | None, params: JsonObject | None) -> float:
    """A job's confound access rate (Table 3): its spec's, else its grid point's, else 1."""
    dataset = (spec or {}).get("dataset")
    value = dataset.get("access_rate") if isinstance(dataset, dict) else None
    if value is None:
        value = (params or {}).get("dataset.access_rate")
    return float(value) if _number(value) is not None else 1.0


def _succeeded_results(members: list[TableJob]) -> list[JobResults]:
    """The final results of the succeeded members, one per seed."""
    return [job.metrics for job in members if job.status == JobStatus.SUCCEEDED and job.metrics is not None]


def _split_values(results: list[JobResults], split: str, key: str) -> list[float]:
    """`results.<split>.<key>` of those that have it (one value per seed)."""
    return [v for r in results if (found := r.split(split)) is not None
            and (v := _number(getattr(found, key, None))) is not None]


def _row(dataset: str, method: str, params: JsonObject, members: list[TableJob]) -> tuple[TableRow, list[float]]:
    """A row of Table 2 (p_vs_finetune and selected still to be set) and its test accuracies."""
    results = _succeeded_results(members)
    tests = [t for r in results if (t := r.test) is not None and _number(t.acc) is not None]
    acc = [float(t.acc) for t in tests]
    worst = [w for t in tests if (w := _number(t.worst_group_acc)) is not None]
    flips = _split_values(results, "test", "flip_rate")
    dev = _split_values(results, "dev", "acc")
    cids = [c for r in results if (c := _number(r.cid)) is not None]
    per_group: dict[str, list[float]] = defaultdict(list)
    for t in tests:
        for group, value in t.per_group.items():
            if _number(value) is not None:
                per_group[group].append(float(value))
    acc_mean, acc_std = _mean_std(acc)
    worst_mean, worst_std = _mean_std(worst)
    dev_mean, dev_std = _mean_std(dev)
    row = TableRow(
        dataset=dataset, method=method, params=params, access_rate=access_rate(members[0].spec, members[0].params),
        jobs=len(members), finished=len(acc), test_acc_mean=acc_mean, test_acc_std=acc_std,
        p_vs_finetune=None, worst_group_acc_mean=worst_mean, worst_group_acc_std=worst_std,
        group_acc_mean={g: statistics.fmean(v) for g, v in sorted(per_group.items())},
        dev_acc_mean=dev_mean, dev_acc_std=dev_std,
        flip_rate_mean=statistics.fmean(flips) if flips else None,
        cid_mean=statistics.fmean(cids) if cids else None, selected=False)
    return row, acc


def mark_selected(rows: list[TableRow]) -> None:
    """Model selection: within each (dataset, method, access rate), the row with the highest
    mean dev accuracy over seeds gets selected=True (the first of equals). A row alone in its
    group is selected anyway (nothing to choose); among several, none without a dev accuracy."""
    candidates: dict[tuple, list[TableRow]] = defaultdict(list)
    for row in rows:
        candidates[(row.dataset, row.method, row.access_rate)].append(row)
    for members in candidates.values():
        scored = [r for r in members if r.dev_acc_mean is not None]
        if len(members) == 1:
            members[0].selected = True
        elif scored:
            max(scored, key=lambda r: r.dev_acc_mean).selected = True


def table_rows(jobs: list[TableJob]) -> list[TableRow]:
    """Table 2: one row per (dataset, method, hyperparameters, access rate), sorted; only succeeded
    jobs count. Welch's p compares with the finetuning row of the same hyperparameters, else with
    the dataset's selected finetuning row."""
    groups: dict[tuple[str, str, str, float], list[TableJob]] = defaultdict(list)
    for job in jobs:
        params = json.dumps(job.params, sort_keys=True)
        groups[(job.dataset, job.method, params, access_rate(job.spec, job.params))].append(job)
    built = [_row(dataset, method, json.loads(params), members)
             for (dataset, method, params, _), members in sorted(groups.items())]
    rows = [row for row, _ in built]
    accuracies = {id(row): acc for row, acc in built}
    mark_selected(rows)
    by_key = {(r.dataset, r.method, json.dumps(r.params, sort_keys=True)): r for r in rows}
    selected_reference = {r.dataset: r for r in rows if r.method == REFERENCE_METHOD and r.selected}
    for row in rows:
        if row.method == REFERENCE_METHOD:
            continue
        reference = by_key.get((row.dataset, REFERENCE_METHOD, json.dumps(row.params, sort_keys=True))) \
            or selected_reference.get(row.dataset)
        if reference is not None:
            row.p_vs_finetune = welch_p(accuracies[id(row)], accuracies[id(reference)])
    return rows


def cid_trajectories(points: list[RunCidPoint]) -> list[CidTrajectoryRow]:
    """Figure 3 as numbers: the mean CID of each (dataset, method) at every step and phase.

    points: the CID points of the jobs to average (the caller picks them: a reproduction's
    succeeded full-access jobs). Rows are ordered by dataset, step and phase (live, pre-round,
    post-round, final); n counts the jobs with a value there."""
    values: dict[tuple[str, int, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for point in points:
        value = _number(point.value)
        values[(point.dataset, int(point.step), point.phase)][point.method].extend([] if value is None else [value])
    order = PHASE_ORDER
    return [CidTrajectoryRow(dataset=dataset, step=step, phase=phase,
                             methods={method: CidMethodMean(mean=statistics.fmean(v) if v else None, n=len(v))
                                      for method, v in sorted(by_method.items())})
            for (dataset, step, phase), by_method in sorted(values.items(),
                                                            key=lambda kv: (kv[0][0], kv[0][1], order.get(kv[0][2], 9)))]


def estimated_seconds(grid: JsonObject | None) -> dict[str, float]:
    """Seconds per job by method that a reproduction's scale guesses (CPU_SCALE["minutes"]), for
    the ETA before any job of a method has finished; {} for other experiments."""
    grid = grid or {}
    scale = SCALES.get(grid.get("scale") or "")
    if grid.get("kind") != ExperimentKind.REPRODUCE or scale is None:
        return {}
    prefix = f"{grid.get('protocol')}/"
    return {key.removeprefix(prefix): minutes * 60.0 for key, minutes in scale.minutes.items()
            if key.startswith(prefix)}


def _expected_walls(jobs: list[JobState], estimates_s: dict[str, float]) -> dict[str | None, float | None]:
    """Expected wall seconds of a job per method: the mean of its finished runs; else the
    estimate times how far the finished jobs ran over their own estimates; else the mean of every
    finished job; else None."""
    ran = [job for job in jobs if job.status in TRAINED_STATUSES and _number(job.wall_s)]
    ran = ran or [job for job in jobs if job.status in FINISHED_STATUSES and _number(job.wall_s)]
    walls: dict[str | None, list[float]] = defaultdict(list)
    for job in ran:
        walls[job.method].append(float(job.wall_s))
    observed = {method: statistics.fmean(values) for method, values in walls.items()}
    ratios = [observed[m] / estimates_s[m] for m in observed if estimates_s.get(m)]
    calibration = statistics.fmean(ratios) if ratios else 1.0
    overall = statistics.fmean(w for values in walls.values() for w in values) if walls else None
    expected: dict[str | None, float | None] = {}
    for method in {job.method for job in jobs}:
        if method in observed:
            expected[method] = observed[method]
        elif estimates_s.get(method):
            expected[method] = estimates_s[method] * calibration
        else:
            expected[method] = overall
    return expected


def experiment_progress(jobs: list[JobState], estimates_s: dict[str, float] | None = None) -> ExperimentProgress:
    """Progress of an experiment from its jobs' status, wall and worker and, when known, method
    and eta_s (a running job's own estimate of its seconds left).

    done = finished in any way (succeeded, collapsed, failed, cancelled). eta_s = seconds of work
    left / workers running the experiment's jobs (at least one): each queued job costs its
    method's expected wall (`_expected_walls`; `estimates_s` is seconds per method, a scale's
    guesses before any job of that method has finished), a running job its own ETA when it has
    one. None while some job's cost is unknown, 0 once all are done."""
    counts = defaultdict(int)
    for job in jobs:
        counts[job.status] += 1
    done = sum(counts[s] for s in FINISHED_STATUSES)
    workers = len({job.worker_id for job in jobs if job.status == JobStatus.RUNNING and job.worker_id})
    expected = _expected_walls(jobs, estimates_s or {})
    left: float | None = 0.0
    for job in jobs:
        if job.status in FINISHED_STATUSES:
            continue
        own = _number(job.eta_s) if job.status == JobStatus.RUNNING else None
        cost = own if own is not None else expected[job.method]
        if cost is None:
            left = None
            break
        left += cost
    eta = None if left is None else left / max(workers, 1)
    return ExperimentProgress(total=len(jobs), done=done, **{status.value: counts[status] for status in JobStatus},
                              workers=workers, eta_s=eta)
