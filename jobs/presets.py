"""The paper's settings (Appendix A and the best values of its sweeps), as spec fragments.

A preset is keyed "<dataset>/<method>"; `--preset paper` picks the one matching the job.
Values the user gives explicitly always win over the preset.
"""
from __future__ import annotations

import copy
from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
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
PRESET_NAMES = ("paper", *PRESETS)


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def preset_for(name: str, dataset: str, method: str) -> dict[str, Any]:
    """The spec fragment of a preset. 'paper' resolves to '<dataset>/<method>'."""
    key = f"{dataset}/{method}" if name == "paper" else name
    if key not in PRESETS:
        valid = ", ".join(PRESET_NAMES)
        raise ValueError(f"no preset '{key}'" + (" (paper presets exist for textlen and msgs)" if name == "paper" else "")
                         + f"; valid: {valid}")
    return PRESETS[key]


def apply_preset(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """Raw spec dict with the preset filled in underneath the user's own values."""
    dataset = data.get("dataset") or {}
    dataset_name = dataset.get("name", "textlen") if isinstance(dataset, dict) else getattr(dataset, "name", "textlen")
    return _merge(preset_for(name, dataset_name, data.get("method", "finetune")), data)
