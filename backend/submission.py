"""Checking a submitted job spec: unknown choices (400), malformed fields (422), files (400).

Order matters for the caller's status codes: the named choices (dataset, model, method, preset)
are checked on the raw JSON first, so an unknown one is a 400 naming the valid values rather
than one of pydantic's 422s; then the spec is validated with the engine's own JobSpec; then the
files it names are confined to the data directory and stored relative to it.

Valid choices: datasets = the engine's built-ins + "custom" (path "upload:<id>" of an uploaded
file, a file under the data directory, or hf:<name> when a hub is reachable); models = the
built-ins, plus any Hugging Face name when a hub is reachable, plus model directories under the
data directory; methods = jobs.spec.METHODS; presets = jobs.presets.PRESET_NAMES. NeuronTune's
parent model (neurontune.parent_artifact) is "job:<id>" or a model directory under the data directory.

What users type: a dataset may be given by its name alone ("textlen"), and an upload by the name
the dashboard shows ("upload:3", alone or as dataset.name) for the custom dataset with that path.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Artifact, Job, UploadedDataset
from backend.paths import HUB_PREFIX, OutsideDataDir, is_path_option, relative_inside
from jobs.data import BUILTIN_DATASETS
from jobs.methods.loop import total_label_steps
from jobs.models import BUILTIN_MODELS
from jobs.presets import PRESET_NAMES, preset_for
from jobs.rounds import ROUND_METHODS, no_rounds_reason
from jobs.spec import DEFAULT_MODEL, METHODS, JobSpec, dataset_by_name

CUSTOM = "custom"
UPLOAD_PREFIX = "upload:"
JOB_PREFIX = "job:"  # neurontune.parent_artifact: a finished job's saved model
MAX_SEED = 2**32 - 1


class Rejected(ValueError):
    """A spec the service refuses with 400: the message names the valid choices."""


def hub_reachable() -> bool:
    """Downloading from the Hugging Face hub is allowed only when not offline (the default)."""
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("1", "true", "True", "YES", "yes")


def dataset_choices() -> list[str]:
    return [*BUILTIN_DATASETS, CUSTOM]


def spelled_out(dataset: Any) -> Any:
    """A dataset as a user types it, as DatasetSpec fields: "textlen" -> {"name": "textlen"}, and
    "upload:3" (alone or as the name) -> {"name": "custom", "path": "upload:3"}. Anything else,
    an upload's name with another path included, is returned as it is for check_spec to judge."""
    dataset = dataset_by_name(dataset)
    if not isinstance(dataset, dict):
        return dataset
    name = dataset.get("name")
    if not (isinstance(name, str) and name.startswith(UPLOAD_PREFIX)) or dataset.get("path") not in (None, name):
        return dataset
    return {**dataset, "name": CUSTOM, "path": name}


def _upload_field(dataset: Any) -> str:
    """Where a spec names its upload: the dataset itself ("upload:3"), its name, or its path."""
    if isinstance(dataset, str):
        return "dataset"
    name = dataset.get("name") if isinstance(dataset, dict) else None
    return "dataset.name" if isinstance(name, str) and name.startswith(UPLOAD_PREFIX) else "dataset.path"


def model_is_local_path(model: str, data_dir: Path) -> bool:
    """Is a non-built-in model name meant as a directory (rather than a hub name)?"""
    path = Path(model)
    return (model not in BUILTIN_MODELS
            and (path.is_absolute() or model.startswith(".") or ".." in path.parts or (data_dir / path).exists()))


def _check_choices(raw: dict[str, Any], data_dir: Path) -> None:
    method = raw.get("method", "finetune")
    if isinstance(method, str) and method not in METHODS:
        raise Rejected(f"unknown method '{method}'; valid: {', '.join(METHODS)}")
    dataset = raw.get("dataset") or {}
    name = dataset.get("name", "textlen") if isinstance(dataset, dict) else None
    if isinstance(name, str) and name.startswith(UPLOAD_PREFIX):  # left so by spelled_out: a path as well
        raise Rejected(f"dataset.name '{name}' names an upload and dataset.path '{dataset.get('path')}' another "
                       f"file: give one (an upload by its name alone, or name 'custom' with a path)")
    if isinstance(name, str) and name not in dataset_choices():
        raise Rejected(f"unknown dataset '{name}'; valid: {', '.join(dataset_choices())}, {UPLOAD_PREFIX}<id>")
    preset = raw.get("preset")
    if isinstance(preset, str) and preset:
        if preset not in PRESET_NAMES:
            raise Rejected(f"unknown preset '{preset}'; valid: {', '.join(PRESET_NAMES)}")
        if isinstance(name, str) and isinstance(method, str):
            try:
                preset_for(preset, name, method)
            except ValueError as error:
                raise Rejected(str(error)) from None
    model = raw.get("model", DEFAULT_MODEL)
    if isinstance(model, str) and model not in BUILTIN_MODELS:
        if model_is_local_path(model, data_dir):
            try:
                relative = relative_inside(data_dir, model, "model")
            except OutsideDataDir as error:
                raise Rejected(str(error)) from None
            if not (data_dir / relative).is_dir():
                raise Rejected(f"model directory '{model}' does not exist under the data directory")
        elif not hub_reachable():
            raise Rejected(f"unknown model '{model}'; valid: {', '.join(BUILTIN_MODELS)}, or a model directory "
                           f"under the data directory (the Hugging Face hub is offline)")


def _confine_files(spec: JobSpec, data_dir: Path, session: Session, upload_field: str) -> JobSpec:
    """The spec with its files checked and made relative to the data directory; upload_field is
    where the spec named its upload (for the error when there is no such upload)."""
    dataset = spec.dataset
    updates: dict[str, Any] = {}
    path = dataset.path
    if dataset.name == CUSTOM and not path:
        raise Rejected("a custom dataset needs dataset.path: 'upload:<id>' of an uploaded file "
                       "(POST /api/datasets), or a file under the data directory")
    if path and path.startswith(UPLOAD_PREFIX):
        upload = _uploaded(session, path, upload_field)
        updates["path"] = upload.path
        # The upload's column names apply unless the spec names its own.
        for key, value in upload.columns.items():
            if key not in dataset.model_fields_set:
                updates[key] = value
    elif path and path.startswith(HUB_PREFIX):
        if not hub_reachable():
            raise Rejected(f"dataset.path '{path}' needs the Hugging Face hub, which is offline here")
    elif path:
        updates["path"] = _existing(data_dir, path, "dataset.path")
    options = dict(dataset.options)
    for key, value in options.items():
        if isinstance(value, str) and is_path_option(key, value):
            options[key] = _existing(data_dir, value, f"dataset.options.{key}")
    updates["options"] = options
    model = spec.model
    if model_is_local_path(model, data_dir):
        model = relative_inside(data_dir, model, "model")
    neurontune = spec.neurontune
    if neurontune.parent_artifact:
        neurontune = neurontune.model_copy(update={
            "parent_artifact": _parent_artifact(session, data_dir, neurontune.parent_artifact)})
    return spec.model_copy(update={"dataset": dataset.model_copy(update=updates), "model": model,
                                   "neurontune": neurontune})


def _parent_artifact(session: Session, data_dir: Path, value: str) -> str:
    """NeuronTune's parent: "job:<id>" (that job's saved model) or a directory under the data
    directory; stored relative to it."""
    if not value.startswith(JOB_PREFIX):
        return _existing(data_dir, value, "neurontune.parent_artifact")
    key = value[len(JOB_PREFIX):]
    job = session.get(Job, int(key)) if key.isdigit() else None
    if job is None:
        raise Rejected(f"neurontune.parent_artifact '{value}': no such job")
    artifact = session.scalars(select(Artifact).where(Artifact.job_id == job.id, Artifact.attempt == job.attempt,
                                                      Artifact.kind == "model")).first()
    if artifact is None:
        raise Rejected(f"neurontune.parent_artifact '{value}': job {job.id} has no saved model ({job.status})")
    return _existing(data_dir, artifact.path, "neurontune.parent_artifact")


def _uploaded(session: Session, path: str, field: str) -> UploadedDataset:
    key = path[len(UPLOAD_PREFIX):]
    upload = session.get(UploadedDataset, int(key)) if key.isdigit() else None
    if upload is None:
        ids = session.query(UploadedDataset.id).order_by(UploadedDataset.id).limit(20).all()
        valid = ", ".join(f"upload:{i}" for (i,) in ids) or "none uploaded yet (POST /api/datasets)"
        raise Rejected(f"{field}: no uploaded dataset '{path}'; valid: {valid}")
    return upload


def _existing(data_dir: Path, value: str, what: str) -> str:
    try:
        relative = relative_inside(data_dir, value, what)
    except OutsideDataDir as error:
        raise Rejected(str(error)) from None
    if not (Path(data_dir) / relative).exists():
        raise Rejected(f"{what} '{value}' does not exist under the data directory")
    return relative


def check_spec(raw: Any, data_dir: Path, session: Session) -> JobSpec:
    """A submitted spec, validated and with its files confined. Raises Rejected (400) or
    pydantic's ValidationError (422)."""
    upload_field = "dataset.path"
    if isinstance(raw, dict) and "dataset" in raw:
        upload_field = _upload_field(raw["dataset"])
        raw = {**raw, "dataset": spelled_out(raw["dataset"])}
    if isinstance(raw, dict):
        preset = raw.get("preset")
        if preset is not None and not isinstance(preset, str):
            # JobSpec applies presets before its own field checks and would trip over this.
            raise ValidationError.from_exception_data("JobSpec", [
                {"type": "string_type", "loc": ("preset",), "input": preset}])
        _check_choices(raw, Path(data_dir))
    spec = JobSpec.model_validate(raw)
    # The engine seeds NumPy and torch with these: both want a non-negative 32-bit value.
    bad_seeds = [{"type": "less_than", "loc": loc, "input": value, "ctx": {"lt": MAX_SEED + 1}}
                 if value > MAX_SEED else {"type": "greater_than_equal", "loc": loc, "input": value, "ctx": {"ge": 0}}
                 for loc, value in ((("seed",), spec.seed), (("dataset", "seed"), spec.dataset.seed))
                 if not 0 <= value <= MAX_SEED]
    if bad_seeds:
        raise ValidationError.from_exception_data("JobSpec", bad_seeds)
    spec = _confine_files(spec, Path(data_dir), session, upload_field)
    _check_rounds(spec, Path(data_dir))
    return spec


def _check_rounds(spec: JobSpec, data_dir: Path) -> None:
    """Refuse an influence- or embedding-tuning spec that would run no round (it would be plain
    finetuning under another name). Needs the training set's size; a dataset that cannot be
    loaded here is left for the worker to report."""
    if spec.method not in ROUND_METHODS:
        return
    from backend.catalogue import job_dataset  # loads (and caches) the dataset

    dataset = job_dataset(spec.model_dump(mode="json"), data_dir)
    if dataset is None:
        return
    train = spec.train
    steps = total_label_steps(len(dataset.train), train.batch_size, train.epochs, train.max_steps)
    if reason := no_rounds_reason(spec.method, spec.influence.interval, steps):
        raise Rejected(reason)


__all__ = ["Rejected", "ValidationError", "check_spec", "dataset_choices", "hub_reachable", "spelled_out"]
