"""The submit form's logic (pure): form values -> job spec, API errors -> messages per field.

Only what the user typed goes into the spec; an empty field means "not given", so the preset
(if any) and then JobSpec's defaults apply. The placeholders show those values: they come from
the API's dry run (POST /api/jobs/estimate), which returns the spec as it would run.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from dashboard.client import ApiError
from jobs.contracts.api import ModelInfo, ModelsOut
from jobs.contracts.enums import ROUND_METHODS, MethodName
from jobs.contracts.json_value import JsonObject


@dataclass(frozen=True)
class FormField:
    path: str              # dotted JobSpec field, e.g. "train.lr"
    label: str
    kind: str              # "int", "float" or "text"
    methods: tuple[str, ...] = ()  # shown only for these methods (empty: always)


FIELDS = (
    FormField("train.epochs", "epochs", "float"),
    FormField("train.max_steps", "max label steps", "int"),
    FormField("train.batch_size", "batch size", "int"),
    FormField("train.lr", "learning rate", "float"),
    FormField("train.eval_every", "accuracy every (steps)", "int"),
    FormField("influence.interval", "round every (steps)", "int", ROUND_METHODS),
    FormField("influence.probes_per_round", "probes per round", "int", ROUND_METHODS),
    FormField("influence.k", "k (A and B per probe)", "int", ROUND_METHODS),
    FormField("influence.round_epochs", "round epochs", "int", ROUND_METHODS),
    FormField("influence.tuples_per_update", "probes per update", "int", ROUND_METHODS),
    FormField("influence.lr", "influence lr", "float", ROUND_METHODS),
    FormField("influence.scope", "influence scope (all, top, head, lora)", "text", ROUND_METHODS),
    FormField("influence.update", "influence update moves (scope, all)", "text", ROUND_METHODS),
    FormField("adversarial.weight", "adversary weight", "float", ("adversarial",)),
    # Any LoRA field filled in trains LoRA adapters on the frozen model (the others: their defaults).
    FormField("lora.r", "LoRA rank r (empty: no LoRA)", "int"),
    FormField("lora.alpha", "LoRA alpha", "float"),
    FormField("lora.targets", "LoRA targets (q v o, qkv or module names)", "text"),
    FormField("diagnostics.cid_every", "CID every (steps)", "int"),
    FormField("diagnostics.probes", "CID probes", "int"),
    FormField("diagnostics.sample", "examples per group", "int"),
    FormField("diagnostics.histogram_probes", "probes with histograms", "int"),
)
FIELD_PATHS = tuple(f.path for f in FIELDS)
# Fields outside FIELDS that the form also has; an API message about them goes beside them.
OTHER_PATHS = ("dataset", "dataset.options", "model", "method", "preset", "seed", "device")


def parse_value(field: FormField, raw: Any) -> tuple[Any, str | None]:
    """(value, None) or (None, message); an empty field gives (None, None): not given."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, None
    if field.kind == "text":
        return str(raw).strip(), None
    try:
        number = float(raw)
    except (TypeError, ValueError):
        return None, "not a number"
    if not math.isfinite(number):
        return None, "not a finite number"
    if field.kind == "int":
        if number != int(number):
            return None, "must be a whole number"
        return int(number), None
    return number, None


def parse_seeds(text: str | None) -> tuple[list[int], str | None]:
    """"2021, 2022 2023" -> [2021, 2022, 2023]; empty -> [2021] (the spec's default)."""
    parts = [p for p in re.split(r"[,\s]+", text or "") if p]
    if not parts:
        return [2021], None
    try:
        seeds = [int(p) for p in parts]
    except ValueError:
        return [], "seeds are whole numbers separated by commas"
    if len(set(seeds)) != len(seeds):
        return [], "a seed is repeated"
    return seeds, None


def dataset_spec(choice: str | None, options_json: str | None) -> tuple[dict, str | None]:
    """The dataset part of the spec: a built-in name or "upload:<id>", plus options given as JSON."""
    spec: JsonObject = {"name": choice or "textlen"}
    if choice and choice.startswith("upload:"):
        spec = {"name": "custom", "path": choice}
    if options_json and options_json.strip():
        try:
            options = json.loads(options_json)
        except json.JSONDecodeError as error:
            return spec, f"not JSON: {error.msg}"
        if not isinstance(options, dict):
            return spec, 'a JSON object, e.g. {"train_size": 200}'
        spec["options"] = options
    return spec, None


def _put(spec: dict, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = spec
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value


def lookup(spec: dict | None, path: str) -> Any:
    """The value at a dotted path of a spec (None if absent)."""
    node: Any = spec or {}
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def build_spec(dataset: str | None, options_json: str | None, model: str | None, method: str | None,
               preset: str | None, seed: int, device: str | None,
               values: JsonObject) -> tuple[dict, dict[str, str]]:
    """(spec, local errors by field) from the form; fields of other methods are left out."""
    errors: dict[str, str] = {}
    data, error = dataset_spec(dataset, options_json)
    if error:
        errors["dataset.options"] = error
    spec: JsonObject = {"dataset": data, "method": method or MethodName.FINETUNE.value, "seed": seed}
    if model:  # none chosen: the service's default model
        spec["model"] = model
    if preset:
        spec["preset"] = preset
    if device:
        spec["device"] = device
    for field in FIELDS:
        if field.methods and spec["method"] not in field.methods:
            continue
        value, message = parse_value(field, values.get(field.path))
        if message:
            errors[field.path] = message
        elif value is not None:
            _put(spec, field.path, value)
    return spec, errors


# A 400 names no field; its first words say which one it is about.
_REJECTION_FIELDS = (("influence.interval", "influence.interval"), ("influence-tuning with", "train.max_steps"),
                     ("embedding-tuning with", "train.max_steps"), ("unknown dataset", "dataset"), ("a custom dataset", "dataset"), ("no uploaded", "dataset"),
                     ("dataset.path", "dataset"), ("dataset.options", "dataset.options"), ("unknown model", "model"),
                     ("model directory", "model"), ("unknown method", "method"), ("unknown preset", "preset"),
                     ("no preset", "preset"))


def field_messages(error: ApiError) -> dict[str, str]:
    """The API's complaint about a spec, by form field; what fits no field goes under "spec"."""
    messages: dict[str, str] = {}
    known = FIELD_PATHS + OTHER_PATHS
    for path, message in error.fields.items():
        target = next((k for k in sorted(known, key=len, reverse=True) if path == k or path.startswith(k + ".")),
                      "spec")
        messages[target] = f"{message}" if target == path else f"{path}: {message}"
    if not error.fields:
        lowered = error.message.lower()
        target = next((f for prefix, f in _REJECTION_FIELDS if lowered.startswith(prefix)), "spec")
        messages[target] = error.message
    return messages


def describe_estimate(estimate: dict, jobs: int = 1) -> str:
    """The cost of the job(s) in one or two sentences."""
    if estimate.get("train_size") is None:
        return "Cost unknown: " + estimate.get("basis", "the dataset could not be loaded") + "."
    parts = estimate.get("example_gradients", {})
    words = (f"{plural(estimate['label_steps'], 'label step')} on {estimate['train_size']} training examples, "
             f"{plural(estimate['rounds'], 'influence round')}, {plural(estimate['cid_points'], 'CID point')}: "
             f"about {estimate['total_example_gradients']:,} example gradients "
             f"({', '.join(f'{k} {v:,}' for k, v in parts.items() if v)}).")
    seconds = estimate.get("seconds")
    if seconds is None:
        return words + f" Time: unknown ({estimate.get('basis', '')})."
    per = f"≈ {format_duration(seconds)} per job"
    if jobs > 1:
        per += f", {format_duration(seconds * jobs)} for all {jobs}"
    return words + f" Time: {per} (from {estimate.get('basis', '')})."


def plural(count: int, noun: str) -> str:
    """1 -> "1 influence round", 2 -> "2 influence rounds"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def format_duration(seconds: float | None) -> str:
    """12 -> "12 s", 95 -> "1 min 35 s", 7300 -> "2 h 02 min"."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


# ---- Sweeps: a comma-separated list of values per field is a grid over that field.

def field_of(path: str) -> FormField:
    return next(f for f in FIELDS if f.path == path)


def applies(field: FormField, method: str) -> bool:
    """Whether a field means something for a method (the form hides it otherwise)."""
    return not field.methods or method in field.methods


def parse_values(field: FormField, raw: Any) -> tuple[list[Any], str | None]:
    """"1e-5, 3e-5" -> ([1e-05, 3e-05], None); empty -> ([], None): not given."""
    if raw is None or not str(raw).strip():
        return [], None
    values = []
    for number, part in enumerate(str(raw).split(","), start=1):
        value, message = parse_value(field, part)
        if message or value is None:
            return [], f"value {number} ('{part.strip()}'): {message or 'empty'}"
        values.append(value)
    if len(set(values)) != len(values):
        return [], "a value is repeated"
    return values, None


def sweep_lists(values: JsonObject) -> tuple[dict[str, list[Any]], dict[str, str]]:
    """(field -> its values, local errors by field) of every filled-in field of the form."""
    lists, errors = {}, {}
    for field in FIELDS:
        parsed, message = parse_values(field, values.get(field.path))
        if message:
            errors[field.path] = message
        elif parsed:
            lists[field.path] = parsed
    return lists, errors


def first_values(lists: dict[str, list[Any]]) -> JsonObject:
    """The first grid point: what the dry run checks and costs."""
    return {path: values[0] for path, values in lists.items()}


def method_grid(lists: dict[str, list[Any]], method: str) -> dict[str, list[Any]]:
    """The swept fields (two or more values) that mean something for `method`."""
    return {path: values for path, values in lists.items() if len(values) > 1 and applies(field_of(path), method)}


def grid_points(grid: dict[str, list[Any]]) -> int:
    return math.prod(len(values) for values in grid.values())


def experiment_body(name: str | None, specs: dict[str, dict], seeds: list[int],
                    grids: dict[str, dict[str, list[Any]]] | None = None) -> dict:
    """POST /api/experiments body from the form: the experiment is made of one part per method,
    each with the spec the form built for that method (less method and seed) as its whole base,
    so a method's own fields (an influence-tuning run's rounds) are neither lost to nor leaked
    from another method's spec. With grids, a sweep: each method's first-point spec and its own
    grid (a finetuning job must not be repeated over influence fields it ignores); without, a
    comparison."""
    kind, default_name = ("sweep", "dashboard sweep") if grids is not None else ("compare", "dashboard experiment")
    parts = [{"base": {k: v for k, v in spec.items() if k not in ("method", "seed")}, "methods": [method],
              "grid": (grids or {}).get(method, {})} for method, spec in specs.items()]
    return {"name": name or default_name, "kind": kind, "base": {}, "methods": [], "seeds": seeds, "parts": parts}


def describe_sweep(grids: dict[str, dict[str, list[Any]]], seeds: int) -> list[str]:
    """One line per method and a total: "influence-tuning: 2 grid points (influence.interval
    25, 50) × 2 seeds = 4 jobs"."""
    lines, total = [], 0
    for method, grid in grids.items():
        points = grid_points(grid)
        jobs = points * seeds
        total += jobs
        swept = "; ".join(f"{path} {', '.join(f'{v:g}' if isinstance(v, float) else str(v) for v in values)}"
                          for path, values in grid.items()) or "nothing swept"
        lines.append(f"{method}: {points} grid point{'s' * (points != 1)} ({swept}) × {seeds} "
                     f"seed{'s' * (seeds != 1)} = {jobs} job{'s' * (jobs != 1)}")
    lines.append(f"{total} jobs in all; the best grid point of each method by mean dev accuracy over seeds is "
                 "selected in the experiment's Table 2.")
    return lines


def search_space_values(spaces: list[dict], dataset: str | None, methods: list[str]) -> tuple[dict[str, str], str]:
    """Form values filling in the paper's search space (GET /api/experiments/search-spaces) of
    the dataset and the first chosen method that has one, and a sentence saying which."""
    found = next((s for m in methods for s in spaces if s["dataset"] == dataset and s["method"] == m), None)
    if found is None:
        searched = ", ".join(f"{s['dataset']}/{s['method']}" for s in spaces)
        return {}, (f"The paper searched no hyperparameters for {dataset} with {', '.join(methods) or 'no method'}; "
                    f"it did for {searched}.")
    values = {path: ", ".join(str(v) for v in grid) for path, grid in found["grid"].items() if path in FIELD_PATHS}
    left_out = [path for path in found["grid"] if path not in FIELD_PATHS]
    note = (f"The paper's search space for {found['dataset']}/{found['method']} (its Appendix A): "
            f"{found['points']} grid points.")
    if left_out:
        note += f" Not in the form, so not swept: {', '.join(left_out)}."
    return values, note


def count_words(count: int | None) -> str:
    """A parameter count in short: 2063936 -> '2.06M params'; None -> 'size unknown'."""
    if count is None:
        return "size unknown"
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= scale:
            return f"{count / scale:.3g}{unit} params"
    return f"{count} params"


def model_detail(model: ModelInfo) -> str:
    """What the model dropdown says beside a model's name: family and kind, size, pooling."""
    family = f"{model.family} {model.kind}" if model.kind else (
        f"{model.family} (not a declared family)" if model.family else "no readable config")
    parts = [family, count_words(model.parameters)]
    if model.pooling:
        parts.append(f"pooling {model.pooling}")
    return " · ".join(parts)


def model_choices(models: ModelsOut) -> list[dict[str, str]]:
    """The model dropdown's choices, as GET /api/models lists them (`deconfound models` prints the
    same): value, name, detail (family, size, pooling) and a title with the description or note."""
    return [{"value": m.name, "name": m.name, "detail": model_detail(m),
             "title": " ".join(filter(None, [m.description, m.note]))}
            for m in [*models.builtin, *models.local]]
