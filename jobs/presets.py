"""The paper's settings (Appendix A and the best values of its sweeps), as spec fragments.

A preset is keyed "<dataset>/<method>"; `--preset paper` picks the one matching the job.
Values the user gives explicitly always win over the preset.

Your own data (dataset "custom") has no paper settings of its own: `paper` uses those of the
built-in it resembles, TextLen by default (a sentence-level cue), or the one named in
`paper:textlen` / `paper:msgs`, with one change: the influence-round interval is left out, so
rounds come every fifth of the run (at most 50 label steps apart, jobs/rounds.py) whatever the
dataset's size. The run's log says which settings were used (`preset_used`).
"""
from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, Field

from jobs.contracts.enums import ROUND_METHODS, MethodName
from jobs.contracts.fragments import merge_fragments
from jobs.contracts.json_value import JsonObject

PRESETS: dict[str, JsonObject] = {
    "textlen/finetune": {"train": {"epochs": 10, "lr": 2e-5, "batch_size": 64}},
    "textlen/no-confound": {"train": {"epochs": 10, "lr": 2e-5, "batch_size": 64}},
    "textlen/adversarial": {"train": {"epochs": 20, "lr": 5e-5, "batch_size": 64}, "adversarial": {"weight": 0.3}},
    "textlen/influence-tuning": {
        "train": {"epochs": 10, "lr": 2e-5, "batch_size": 64},
        "influence": {"lr": 3e-5, "tuples_per_update": 64, "round_epochs": 5, "interval": 50, "k": 5,
                      "probes_per_round": 75}},
    "textlen/embedding-tuning": {
        "train": {"epochs": 10, "lr": 2e-5, "batch_size": 64},
        "influence": {"lr": 3e-5, "tuples_per_update": 64, "round_epochs": 10, "interval": 50, "k": 5,
                      "probes_per_round": 75}},
    "msgs/finetune": {"train": {"epochs": 3, "lr": 2e-5, "batch_size": 64}},
    "msgs/adversarial": {"train": {"epochs": 12, "lr": 5e-5, "batch_size": 64}, "adversarial": {"weight": 0.3}},
    "msgs/influence-tuning": {
        "train": {"epochs": 3, "lr": 2e-5, "batch_size": 64},
        "influence": {"lr": 3e-5, "tuples_per_update": 16, "round_epochs": 3, "interval": 50, "k": 3,
                      "probes_per_round": 100}},
    "msgs/embedding-tuning": {
        "train": {"epochs": 3, "lr": 2e-5, "batch_size": 64},
        "influence": {"lr": 1e-5, "tuples_per_update": 4, "round_epochs": 3, "interval": 25, "k": 3,
                      "probes_per_round": 100}},
}
RESEMBLED = ("textlen", "msgs")  # what custom data may take the paper settings of
PRESET_NAMES = ("paper", *(f"paper:{name}" for name in RESEMBLED), *PRESETS)


def preset_key(name: str, dataset: str, method: str) -> str:
    """The PRESETS key a preset name resolves to for a job: 'paper' -> '<dataset>/<method>' (a
    custom dataset: 'textlen/<method>'), 'paper:msgs' -> 'msgs/<method>'."""
    if name == "paper" or name.startswith("paper:"):
        resembled = name.partition(":")[2] or (dataset if dataset in RESEMBLED else "textlen")
        return f"{resembled}/{method}"
    return name


def preset_for(name: str, dataset: str, method: str) -> JsonObject:
    """The spec fragment of a preset. 'paper' resolves to '<dataset>/<method>'; on a dataset that
    is no built-in, to the resembled built-in's settings less the round interval."""
    key = preset_key(name, dataset, method)
    if key not in PRESETS:
        valid = ", ".join(PRESET_NAMES)
        raise ValueError(f"no preset '{key}'" + (" (paper presets exist for textlen and msgs)" if name == "paper" else "")
                         + f"; valid: {valid}")
    fragment = PRESETS[key]
    if key.split("/")[0] != dataset and "influence" in fragment:  # another dataset's size: rounds by the run's length
        fragment = {**fragment, "influence": {k: v for k, v in fragment["influence"].items() if k != "interval"}}
    return fragment


def preset_used(name: str | None, dataset: str, method: str) -> str | None:
    """One line for the run's log: which settings a preset gave this job."""
    if name is None:
        return None
    key = preset_key(name, dataset, method)
    if key.split("/")[0] == dataset or name not in ("paper", *(f"paper:{r}" for r in RESEMBLED)):
        return f"preset {name}: the settings of {key}"
    return (f"preset {name} on {dataset} data: the paper's {key} settings, rounds every fifth of the run "
            f"(name another built-in with paper:<dataset>, e.g. paper:msgs)")


def apply_preset(name: str, data: JsonObject) -> JsonObject:
    """Raw spec dict with the preset filled in underneath the user's own values."""
    dataset = data.get("dataset") or {}
    dataset_name = dataset.get("name", "textlen") if isinstance(dataset, dict) else getattr(dataset, "name", "textlen")
    return merge_fragments(preset_for(name, dataset_name, data.get("method", "finetune")), data)


# ---- Scales of `deconfound reproduce`: which model, seeds and sizes the whole protocol runs at.
#
class Scale(BaseModel):
    """A reproduction's size: model, seeds and the spec fragments its jobs get."""

    description: str
    minutes: dict[str, float] = Field(default_factory=dict, description="wall minutes per '<dataset>/<method>' job")
    model: str
    seeds: list[int]
    retry_collapsed: int = 0
    spec: JsonObject = Field(default_factory=dict)
    datasets: dict[str, JsonObject] = Field(default_factory=dict)
    methods: dict[str, JsonObject] = Field(default_factory=dict)


# A scale's `spec` lies under every job; `datasets[<name>]` and `methods["<dataset>/<method>"]`
# are merged over it in that order. The paper preset (above) still fills in whatever a scale
# leaves out, and a scale's values win over the preset.

CPU_SCALE = Scale.model_validate({
    # Wall minutes per job on this 2-core CPU (minilm), the mean of seeds 2021-2023 measured by
    # `deconfound reproduce textlen --scale cpu` (docs/results.md): finetune 5.9, no-confound 5.7
    # (uncontended; 6.2 with one run beside tests), adversarial 12.2 (480 steps), influence tuning
    # 7.3, embedding tuning 7.1 -> 38 minutes a seed; the whole command took 1 h 56 min for three.
    # MSGS, measured by `deconfound reproduce msgs --scale cpu` (seeds 2022-2023, which ran
    # alone): finetune 66 s, adversarial 224 s, influence tuning 76 s, embedding tuning 90 s.
    "description": "all-MiniLM-L6-v2 on this 2-core CPU: the paper's TextLen sizes, 3 seeds, "
                   "top-layer influence tuning and smaller influence rounds",
    "minutes": {"textlen/finetune": 6, "textlen/no-confound": 6, "textlen/adversarial": 12,
                "textlen/influence-tuning": 7.5, "textlen/embedding-tuning": 7,
                "msgs/finetune": 1.1, "msgs/adversarial": 3.7, "msgs/influence-tuning": 1.3,
                "msgs/embedding-tuning": 1.5},
    "model": "minilm",
    "seeds": [2021, 2022, 2023],
    "retry_collapsed": 1,  # a collapse costs a whole re-run here: retry once
    "spec": {"device": "cpu", "train": {"max_length": 64, "eval_every": 80},
             "diagnostics": {"probes": 20, "sample": 25, "cid_every": 80}},
    "datasets": {
        "textlen": {},  # the paper's 1500 / 480 / 500
        # MSGS at 5000 / 15000 / 15000 is 235 label steps (940 adversarial) plus 30000 test
        # evaluations: too slow here, so 2000 / 1000 / 1000 (94 label steps, one influence round).
        "msgs": {"dataset": {"options": {"train_size": 2000, "dev_size": 1000, "test_size": 1000}}},
    },
    "methods": {
        # Influence rounds: 32 probes x 2 passes = 64 tuples (the paper: 75 x 5 = 375) in updates
        # of 16, the score through the top 2 layers + head only (the paper: every parameter), the
        # update moving every parameter (update "all", as the paper's scope-"all" updates do): how
        # docs/results.md's tables were measured, before influence.update existed.
        "textlen/influence-tuning": {"influence": {"scope": "top", "update": "all", "probes_per_round": 32,
                                                   "round_epochs": 2, "tuples_per_update": 16}},
        "textlen/embedding-tuning": {"influence": {"probes_per_round": 32, "round_epochs": 4,
                                                   "tuples_per_update": 16}},
        "msgs/influence-tuning": {"influence": {"scope": "top", "update": "all", "probes_per_round": 40}},
        "msgs/embedding-tuning": {"influence": {"probes_per_round": 40}},
    },
})

SCALES: dict[str, Scale] = {
    "paper": Scale.model_validate({
        "description": "bert-base-uncased at the paper's sizes and settings, seeds 2021-2025 (a GPU with a hub)",
        "minutes": {},
        "model": "bert-base-uncased",
        "seeds": [2021, 2022, 2023, 2024, 2025],
        "retry_collapsed": 3,  # the paper re-trained every trial that failed to fit train
        "spec": {"train": {"max_length": 64}},
        "datasets": {"textlen": {}, "msgs": {}},
        "methods": {},
    }),
    "cpu": CPU_SCALE,
    "tiny": Scale.model_validate({
        # Seconds per job: the random 2-layer model on a few dozen examples (tests, smoke runs).
        "description": "the random 2-layer test model for a few steps on tiny data: checks the plumbing, "
                       "numbers mean nothing",
        "minutes": {},
        "model": "tiny",
        "seeds": [2021],
        "retry_collapsed": 0,
        # A high learning rate so that 16 steps fit train (else every trial collapses).
        "spec": {"device": "cpu", "train": {"max_steps": 16, "batch_size": 16, "lr": 5e-3, "warmup": 0,
                                            "eval_every": 8},
                 "influence": {"interval": 5, "probes_per_round": 4, "round_epochs": 1, "tuples_per_update": 2,
                               "k": 2},
                 "diagnostics": {"probes": 4, "sample": 4, "cid_every": 8, "histogram_probes": 1}},
        "datasets": {"textlen": {"dataset": {"options": {"train_size": 64, "dev_size": 32, "test_size": 32}}},
                     "msgs": {"dataset": {"options": {"train_size": 64, "dev_size": 32, "test_size": 32}}}},
        "methods": {},
    }),
}

# The methods of Table 2 per dataset (no-confound needs a confound-free copy: TextLen only).
# "custom" is your own data (`reproduce --data PATH`): the paper preset gives it TextLen's settings.
PAPER_METHODS = (MethodName.FINETUNE, MethodName.ADVERSARIAL, MethodName.INFLUENCE_TUNING, MethodName.EMBEDDING_TUNING)
PROTOCOL_METHODS: dict[str, tuple[MethodName, ...]] = {
    "textlen": (*PAPER_METHODS, MethodName.NO_CONFOUND),
    "msgs": PAPER_METHODS,
    "custom": PAPER_METHODS,
}
# Methods a reproduction runs on a dataset only when asked (--methods): the no-confound control
# on your own data needs its confound-free copy (a counterfactual column or a confound rule).
OPTIONAL_PROTOCOL_METHODS: dict[str, tuple[MethodName, ...]] = {"custom": (MethodName.NO_CONFOUND,)}
# The methods of Table 3 (confound access rates): those that read confound labels, in their rounds.
ACCESS_RATE_METHODS = ROUND_METHODS


def scale_spec(scale: str, dataset: str, method: str | None = None) -> JsonObject:
    """The spec fragment a scale gives a `dataset` job, under which the paper preset fills in the
    rest: model, retry_collapsed, the scale's shared spec and its dataset part, then (given a
    method) the scale's part for that method."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale '{scale}'; valid: {', '.join(SCALES)}")
    chosen = SCALES[scale]
    if dataset not in chosen.datasets and dataset not in RESEMBLED:  # your own data: the shared part only
        spec = merge_fragments({"model": chosen.model, "retry_collapsed": chosen.retry_collapsed,
                                "dataset": {"name": dataset}, "preset": "paper"}, chosen.spec)
        return merge_fragments(spec, scale_method_part(scale, "textlen", method)) if method else spec
    if dataset not in chosen.datasets:
        raise ValueError(f"scale '{scale}' has no settings for dataset '{dataset}'; valid: "
                         f"{', '.join(chosen.datasets)}")
    spec = merge_fragments({"model": chosen.model, "retry_collapsed": chosen.retry_collapsed,
                            "dataset": {"name": dataset}, "preset": "paper"}, chosen.spec)
    spec = merge_fragments(spec, chosen.datasets[dataset])
    return merge_fragments(spec, scale_method_part(scale, dataset, method)) if method else spec


def scale_method_part(scale: str, dataset: str, method: str) -> JsonObject:
    """What a scale sets for one method alone (empty for most)."""
    return copy.deepcopy(SCALES[scale].methods.get(f"{dataset}/{method}", {}))


# ---- The paper's hyperparameter search spaces (its Appendix A), as sweep grids of dotted
# spec fields. `--grid paper` picks the one of the sweep's dataset and method.
_TUNING_SPACE = {"influence.interval": [25, 50, 100], "influence.tuples_per_update": [4, 16, 64],
                 "influence.lr": [3e-5, 1e-5, 3e-6, 1e-6]}
SEARCH_SPACES: dict[str, dict[str, list[Any]]] = {
    "textlen/adversarial": {"train.lr": [2e-5, 5e-5], "train.epochs": [10, 20, 40],
                            "adversarial.weight": [0.1, 0.3, 1.0, 3.0]},
    "msgs/adversarial": {"train.lr": [2e-5, 5e-5], "train.epochs": [3, 6, 12],
                         "adversarial.weight": [0.1, 0.3, 1.0, 3.0]},
    "textlen/influence-tuning": {**_TUNING_SPACE, "influence.round_epochs": [5, 10, 15]},
    "textlen/embedding-tuning": {**_TUNING_SPACE, "influence.round_epochs": [5, 10, 15]},
    "msgs/influence-tuning": {**_TUNING_SPACE, "influence.round_epochs": [3]},
    "msgs/embedding-tuning": {**_TUNING_SPACE, "influence.round_epochs": [3]},
}


def search_space(name: str, dataset: str, method: str) -> dict[str, list[Any]]:
    """A named grid; 'paper' resolves to the paper's search space of `dataset`/`method` (your own
    data: TextLen's, as its preset)."""
    if name != "paper":
        raise ValueError(f"no named grid '{name}'; valid: paper")
    key = f"{dataset if dataset in RESEMBLED else 'textlen'}/{method}"
    if key not in SEARCH_SPACES:
        raise ValueError(f"the paper searched no hyperparameters for {key}; searched: {', '.join(SEARCH_SPACES)}")
    return copy.deepcopy(SEARCH_SPACES[key])
