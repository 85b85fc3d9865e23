"""Spec fragments: partial specs as a user, a preset or an experiment's part writes them, read the same
by the JobSpec (jobs.spec), the presets (jobs.presets) and the API's bodies (jobs.contracts.api)."""
from __future__ import annotations

import copy
from typing import Any

from jobs.contracts.json_value import JsonObject


def dataset_by_name(value: Any) -> Any:
    """A dataset given by its name alone ("textlen") as the DatasetSpec fields it stands for."""
    return {"name": value} if isinstance(value, str) else value


def merge_fragments(base: JsonObject, over: JsonObject) -> JsonObject:
    """A deep copy of `base` with `over` merged in (nested dicts merge, `over` wins)."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_fragments(out[key], value)
        else:
            out[key] = value
    return out
