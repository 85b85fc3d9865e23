"""The experiments the CLI and the API build for the user: the paper's protocol (Tables 2 and 3)
and hyperparameter sweeps, as ExperimentIn requests.

    reproduce_request("textlen", "cpu", access_rates=[5, 10])  -> one experiment: every Table-2
        method at the scale's seeds, plus influence and embedding tuning at each access rate
    reproduce_request("textlen", "cpu", [2021], [5, 100], methods=["influence-tuning"])  -> Table 3 alone
    sweep_request(["textlen"], ["adversarial"], {}, seeds, base, named="paper") -> the paper's search
        space as a grid, with selection on dev
"""
from __future__ import annotations

from typing import Any

from jobs.contracts.api import ExperimentIn, ExperimentPart
from jobs.contracts.enums import ExperimentKind
from jobs.contracts.json_value import JsonObject
from jobs.presets import (
    ACCESS_RATE_METHODS,
    OPTIONAL_PROTOCOL_METHODS,
    PROTOCOL_METHODS,
    SCALES,
    merge_fragments,
    scale_method_part,
    scale_spec,
    search_space,
)
from jobs.spec import CUSTOM

NAMED_GRIDS = ("paper",)


def access_fractions(rates_percent: list[float]) -> list[float]:
    """Access rates in percent -> the fractions Table 3 adds (100 % is Table 2's own run)."""
    for rate in rates_percent:
        if not 0 < rate <= 100:
            raise ValueError(f"access rate {rate:g} is not a percentage in (0, 100]")
    return sorted({round(rate / 100, 6) for rate in rates_percent if rate != 100})


def protocol_methods(dataset: str, methods: list[str] | None = None) -> list[str]:
    """The Table-2 methods of `dataset` a reproduction runs: all of them, or the chosen ones in the
    protocol's order (a subset runs e.g. Table 3 alone: influence and embedding tuning)."""
    allowed = (*PROTOCOL_METHODS[dataset], *OPTIONAL_PROTOCOL_METHODS.get(dataset, ()))
    unknown = [m for m in methods or [] if m not in allowed]
    if unknown:
        raise ValueError(f"method '{unknown[0]}' is not in the {dataset} protocol; valid: {', '.join(allowed)}")
    return [m for m in allowed if m in methods] if methods else list(PROTOCOL_METHODS[dataset])


def reproduce_name(dataset: str, scale: str, seeds: list[int] | None = None,
                   access_rates: list[float] | None = None, methods: list[str] | None = None,
                   data: str | None = None) -> str:
    """The default name: the settings that make the experiment, so a rerun finds it again."""
    name = f"reproduce {dataset}{f' {data}' if data else ''} {scale}"
    if methods and set(methods) != set(PROTOCOL_METHODS.get(dataset, ())):
        name += " methods " + ",".join(protocol_methods(dataset, methods))
    if seeds:
        name += " seeds " + ",".join(str(s) for s in seeds)
    if access_rates:
        name += " access " + ",".join(f"{r:g}" for r in access_rates)
    return name


def reproduce_request(dataset: str, scale: str = "cpu", seeds: list[int] | None = None,
                      access_rates: list[float] | None = None, name: str | None = None,
                      overrides: JsonObject | None = None, methods: list[str] | None = None,
                      reuse: bool = False, data: str | None = None) -> ExperimentIn:
    """The paper's protocol on `dataset` at `scale` as one experiment.

    Every method of PROTOCOL_METHODS[dataset] (or the chosen `methods` of it) x seeds with the
    paper preset, the scale's sizes and its retries of collapsed trials; with access rates
    (percent), influence and embedding tuning again at each rate below 100. `overrides` (a spec
    fragment) win over everything. reuse: copy jobs that already succeeded (backend.services.reuse).
    dataset "custom" is your own data at `data` (a file or directory under the data directory, or
    "upload:<id>"), with the paper preset of the built-in it resembles (jobs.presets)."""
    if dataset not in PROTOCOL_METHODS:
        raise ValueError(f"no protocol for dataset '{dataset}'; valid: {', '.join(PROTOCOL_METHODS)}")
    if (dataset == CUSTOM) != bool(data):
        raise ValueError("your own data (dataset custom) needs its path, --data PATH or upload:<id>" if data is None
                         else f"--data is for your own data; {dataset} is built in")
    overrides = merge_fragments({"dataset": {"path": data}}, overrides or {}) if data else overrides or {}
    fractions = access_fractions(access_rates or [])
    methods = protocol_methods(dataset, methods)
    rated = [m for m in ACCESS_RATE_METHODS if m in methods]
    if fractions and not rated:
        raise ValueError(f"access rates (Table 3) need {' or '.join(ACCESS_RATE_METHODS)} among the methods")
    base = merge_fragments(scale_spec(scale, dataset), overrides)
    # Methods the scale sets something for get a part of their own (the part's base is merged
    # over the shared one); the rest share the experiment's own grid.
    plain = [m for m in methods if not scale_method_part(scale, dataset, m)]
    own = [m for m in methods if m not in plain]
    parts = [ExperimentPart(base=merge_fragments(scale_method_part(scale, dataset, m), overrides), methods=[m])
             for m in own]
    if fractions:
        parts += [ExperimentPart(base=merge_fragments(scale_method_part(scale, dataset, m), overrides), methods=[m],
                                 grid={"dataset.access_rate": fractions}) for m in rated]
    if not plain:  # the experiment's own grid needs a method: take the first part's
        first = parts.pop(0)
        plain, base = first.methods, merge_fragments(base, first.base)
    return ExperimentIn(
        name=name or reproduce_name(dataset, scale, seeds, access_rates, methods, data), kind=ExperimentKind.REPRODUCE,
        protocol=dataset,
        scale=scale, base=base, methods=plain, seeds=seeds or SCALES[scale].seeds, parts=parts, reuse=reuse)


def sweep_request(datasets: list[str], methods: list[str], grid: dict[str, list[Any]], seeds: list[int],
                  base: JsonObject, name: str | None = None, named: str | None = None,
                  reuse: bool = False) -> ExperimentIn:
    """A hyperparameter sweep: datasets x methods x seeds x the grid, selected on mean dev accuracy.

    named: a named grid ('paper': the paper's search space of each dataset/method), under the
    explicit `grid` (explicit values win). With a named grid each (dataset, method) is its own part."""
    if named is not None and named not in NAMED_GRIDS:
        raise ValueError(f"no named grid '{named}'; valid: {', '.join(NAMED_GRIDS)}")
    name = name or f"sweep {','.join(datasets)} {','.join(methods)}"
    if named is None:
        return ExperimentIn(name=name, kind=ExperimentKind.SWEEP, base=base, methods=methods, seeds=seeds, datasets=datasets,
                            grid=grid, reuse=reuse)
    pairs = [(d, m) for d in datasets for m in methods]
    parts = [ExperimentPart(methods=[m], datasets=[d], grid={**search_space(named, d, m), **grid}) for d, m in pairs]
    first = parts.pop(0)
    return ExperimentIn(name=name, kind=ExperimentKind.SWEEP, base=base, methods=first.methods, seeds=seeds,
                        datasets=first.datasets, grid=first.grid, parts=parts, reuse=reuse)
