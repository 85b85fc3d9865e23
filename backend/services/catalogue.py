"""What the service can run, and the datasets' texts for showing influence examples.

Built-in datasets are deterministic for a given spec, so their Table-1 statistics and their
training texts are computed once per process and kept (a few MB at most).
"""
from __future__ import annotations

import json
from functools import cache, lru_cache
from pathlib import Path

from backend.store.paths import absolute_spec, hub_reachable
from backend.store.recorder import jsonable
from jobs.contracts.api import ModelsOut
from jobs.contracts.catalogue import BuiltinDataset, PresetsOut
from jobs.contracts.datasets import DatasetStats
from jobs.contracts.enums import METHODS, MethodName
from jobs.contracts.json_value import JsonObject
from jobs.data import BUILTIN_DATASETS, ConfoundedDataset, DataError, dataset_stats, load_dataset
from jobs.model_catalogue import catalogue as model_catalogue
from jobs.presets import PRESET_NAMES, PRESETS


@cache
def builtin_dataset_stats(name: str) -> tuple[DatasetStats | None, str | None]:
    """Table 1 for a built-in dataset at its default options (NaN as None), or the error that prevents it."""
    try:
        return DatasetStats.model_validate(jsonable(dataset_stats(load_dataset({"name": name})).model_dump())), None
    except (DataError, OSError, ValueError) as error:
        return None, str(error)


def builtin_datasets() -> list[BuiltinDataset]:
    return [BuiltinDataset(name=name, description=description, stats=stats, error=error)
            for name, description in BUILTIN_DATASETS.items() for stats, error in [builtin_dataset_stats(name)]]


def method_descriptions() -> dict[MethodName, str]:
    try:
        from jobs.methods import METHOD_DESCRIPTIONS
    except ImportError:  # the engine without its methods: still list the names
        return {name: "" for name in METHODS}
    return {name: METHOD_DESCRIPTIONS.get(name, "") for name in METHODS}


def models(data_dir: Path) -> ModelsOut:
    """The model picker's answer (jobs.model_catalogue): built-ins, the model directories under
    `<data dir>/models` with their family, pooling and size, and the supported families. A symlink
    counts only where it resolves inside the data directory: one that leaves it is neither listed
    nor usable (submission refuses it)."""
    return model_catalogue(data_dir, hub_reachable=hub_reachable())


def presets() -> PresetsOut:
    return PresetsOut(names=list(PRESET_NAMES), presets=PRESETS,
                      paper="resolves to '<dataset>/<method>' of the job (textlen and msgs)")


@lru_cache(maxsize=8)
def _load_cached(key: str) -> ConfoundedDataset:
    return load_dataset(json.loads(key))


def load_job_dataset(spec: JsonObject, data_dir: Path) -> ConfoundedDataset:
    """The dataset a stored job spec names; DataError, OSError or ValueError when it cannot be loaded."""
    dataset_spec = absolute_spec(spec, data_dir, model_is_path=False)["dataset"]
    return _load_cached(json.dumps(dataset_spec, sort_keys=True))


def job_dataset(spec: JsonObject, data_dir: Path) -> ConfoundedDataset | None:
    """The dataset a stored job spec names (None if it cannot be loaded any more)."""
    try:
        return load_job_dataset(spec, data_dir)
    except (DataError, OSError, ValueError, RecursionError):
        return None
