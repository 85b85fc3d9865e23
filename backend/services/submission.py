"""Checking a submitted job spec against the server's state: models, files, uploads, hub, rounds (400).

Everything about a spec's shape lives in the engine's JobSpec (jobs/spec.py): bounds, finite
numbers, seeds, the named choices of dataset, method and preset (each a 422 naming the valid
values), and the shorthands users type ("dataset": "textlen", "upload:3"). The routes take a
JobSpec as their body, so FastAPI has validated it before accepted_spec sees it; what is left
here needs this server: whether a model name is a directory under the data directory or a hub
name (and the hub reachable), whether files and uploads exist (they are then stored relative to
the data directory), and whether an influence-tuning run would have a round (the training set's
size). NeuronTune's parent model (neurontune.parent_artifact) is "job:<id>" or a model
directory under the data directory.

What the worker would refuse only after loading the model (20-60 s) is refused here: the dataset
is loaded as the estimate loads it (its metadata and texts, not the model's weights), so unknown
options, a rule that marks nothing and a file that is no dataset are a 400 at once; a model
directory needs its config.json; a dataset path is a dataset file or folder, never the data
directory, the database or a directory the service keeps; a CUDA device must exist.

A raw dict (a grid point of an experiment, a follow-up spec) goes through check_spec: JobSpec,
then the same accepted_spec.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.queue.devices import known_workers
from backend.queue.worker import worker_is_gone
from backend.services.errors import Rejected
from backend.services.uploads import SUFFIXES as UPLOAD_SUFFIXES
from backend.store.models import Artifact, Job, UploadedDataset
from backend.store.paths import (
    HUB_PREFIX,
    OutsideDataDir,
    hub_reachable,
    is_path_option,
    model_is_local_path,
    public_text,
    relative_inside,
)
from jobs.contracts.enums import ROUND_METHODS, MethodName
from jobs.contracts.json_value import JsonObject
from jobs.data import ConfoundedDataset, DataError
from jobs.data.tables import TABLE_SUFFIXES
from jobs.methods.loop import total_label_steps
from jobs.methods.no_confound import NO_CONTROL
from jobs.models import BUILTIN_MODELS
from jobs.rounds import no_rounds_reason
from jobs.spec import CUSTOM, DATASET_NAMES, UPLOAD_PREFIX, JobSpec

JOB_PREFIX = "job:"  # neurontune.parent_artifact: a finished job's saved model
# A dataset file's suffixes (the engine's tables and what an upload may be).
DATASET_SUFFIXES = tuple(dict.fromkeys((*TABLE_SUFFIXES, *UPLOAD_SUFFIXES)))
# Directories of the data directory that the service keeps for itself: no dataset folder.
SERVICE_DIRS = ("uploads", "artifacts", "checkpoints", "hf-cache", "workers")
MAX_ROW_ID = 2**31 - 1  # a PostgreSQL integer (SQLite's hold 2^63 - 1)


def dataset_choices() -> list[str]:
    return list(DATASET_NAMES)


def _check_model(model: str, data_dir: Path) -> None:
    """A model that is no built-in is a directory under the data directory, or a hub name when
    the hub is reachable."""
    if model in BUILTIN_MODELS:
        return
    if model_is_local_path(model, data_dir):
        try:
            relative = relative_inside(data_dir, model, "model")
        except OutsideDataDir as error:
            raise Rejected(str(error)) from None
        if not (data_dir / relative).is_dir():
            raise Rejected(f"model directory '{model}' does not exist under the data directory")
        if not (data_dir / relative / "config.json").is_file():
            raise Rejected(f"model directory '{model}' holds no model: a Hugging Face model directory "
                           f"(config.json and weights, as save_pretrained writes them) is expected")
    elif not hub_reachable():
        raise Rejected(f"unknown model '{model}'; valid: {', '.join(BUILTIN_MODELS)}, or a model directory "
                       f"under the data directory (the Hugging Face hub is offline)")


def _confine_files(spec: JobSpec, data_dir: Path, session: Session, upload_field: str) -> JobSpec:
    """The spec with its files checked and made relative to the data directory; upload_field is
    where the spec named its upload (for the error when there is no such upload)."""
    dataset = spec.dataset
    updates: JsonObject = {}
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
        _check_dataset_path(data_dir, updates["path"], dataset.name)
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


def _check_dataset_path(data_dir: Path, relative: str, name: str) -> None:
    """A dataset path (relative to the data directory) names a dataset: for a custom dataset a
    file of a dataset suffix or a folder of split files, for a built-in one its source folder;
    never the data directory itself, a directory the service keeps (uploads/, artifacts/, ...)
    or the database (which has no dataset suffix)."""
    target = Path(data_dir) / relative
    shown = f"dataset.path '{relative}'"
    if relative in (".", ""):
        raise Rejected(f"{shown} is the data directory itself: name a dataset file or folder inside it")
    if target.is_dir():
        if Path(relative).parts[0] in SERVICE_DIRS:
            raise Rejected(f"{shown} is a directory the service keeps for itself; an uploaded file is "
                           f"'upload:<id>' (GET /api/datasets lists them)")
        return
    if name != CUSTOM:
        raise Rejected(f"{shown} is a file; dataset '{name}' reads a folder (its source files)")
    if target.suffix.lower() not in DATASET_SUFFIXES:
        raise Rejected(f"{shown} is no dataset file; valid suffixes: {', '.join(DATASET_SUFFIXES)}")


def row_id(key: str) -> int | None:
    """The id in "job:<id>" / "upload:<id>", if it is one a table can hold (ASCII digits, at most a
    PostgreSQL integer): a bigger one overflowed the driver into a 500, and "²" passes isdigit()."""
    return int(key) if key.isascii() and key.isdigit() and int(key) <= MAX_ROW_ID else None


def _parent_artifact(session: Session, data_dir: Path, value: str) -> str:
    """NeuronTune's parent: "job:<id>" (that job's saved model) or a directory under the data
    directory; stored relative to it."""
    if not value.startswith(JOB_PREFIX):
        return _existing(data_dir, value, "neurontune.parent_artifact")
    key = value[len(JOB_PREFIX):]
    job = session.get(Job, key_id) if (key_id := row_id(key)) is not None else None
    if job is None:
        raise Rejected(f"neurontune.parent_artifact '{value}': no such job")
    artifact = session.scalars(select(Artifact).where(Artifact.job_id == job.id, Artifact.attempt == job.attempt,
                                                      Artifact.kind == "model")).first()
    if artifact is None:
        raise Rejected(f"neurontune.parent_artifact '{value}': job {job.id} has no saved model ({job.status})")
    return _existing(data_dir, artifact.path, "neurontune.parent_artifact")


def _uploaded(session: Session, path: str, field: str) -> UploadedDataset:
    key = path[len(UPLOAD_PREFIX):]
    upload = session.get(UploadedDataset, key_id) if (key_id := row_id(key)) is not None else None
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


def in_one_line(error: ValidationError) -> str:
    """pydantic's errors as one line, each naming its field: "train.lr: Input should be ..."."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg'].removeprefix('Value error, ')}"
                     for e in error.errors())


def accepted_spec(spec: JobSpec, data_dir: Path, session: Session) -> JobSpec:
    """A validated spec checked against this server and with its files confined (what is stored
    and what the worker runs). Raises Rejected (400)."""
    _check_model(spec.model, Path(data_dir))
    _check_device(spec.device, Path(data_dir))
    spec = _confine_files(spec, Path(data_dir), session, spec._upload_field)
    _check_against_data(spec, _loaded_dataset(spec, Path(data_dir)))
    return spec


def check_spec(raw: Any, data_dir: Path, session: Session) -> JobSpec:
    """A spec given as a dict (an experiment's grid point): validated, then accepted_spec.
    Raises pydantic's ValidationError (422) or Rejected (400)."""
    return accepted_spec(JobSpec.model_validate(raw), data_dir, session)


def _loaded_dataset(spec: JobSpec, data_dir: Path) -> ConfoundedDataset | None:
    """The spec's dataset as the worker will load it (cached: the estimate and the next submission
    of the same data reuse it). What the engine refuses (unknown options with the valid ones, a
    rule that marks no text, a file that is no dataset) is a 400 naming it, without absolute
    paths. A hub dataset is not fetched here (None): the worker reports what the hub answers."""
    from backend.services.catalogue import load_job_dataset  # loads (and caches) the dataset

    dataset = spec.dataset
    if (dataset.path or "").startswith(HUB_PREFIX) or any(
            isinstance(v, str) and v.startswith(HUB_PREFIX) for v in dataset.options.values()):
        return None
    try:
        return load_job_dataset(spec.model_dump(mode="json"), data_dir)
    except (DataError, OSError, ValueError, RecursionError) as error:
        raise Rejected(f"dataset: {public_text(str(error), data_dir)}") from None


def _check_device(device: str, data_dir: Path) -> None:
    """A CUDA (or MPS) device this service has (JobSpec has already refused a device torch does
    not know). The service's workers announce their devices (backend.queue.devices); a CUDA
    device is fine when one of them has it, or runs every job on its own --device. With no
    worker running, the API process's own devices stand in for them."""
    if device == "mps":
        import torch

        if not torch.backends.mps.is_available():
            raise Rejected("device 'mps': this service has no Apple GPU; valid: 'auto' or 'cpu'")
        return
    if not device.startswith("cuda"):
        return
    workers = known_workers(data_dir, worker_is_gone)
    if any(worker.can_run(device) for worker in workers):
        return
    if workers:
        count = max(worker.cuda_devices for worker in workers)
    else:
        import torch

        count = torch.cuda.device_count()
    _, _, index = device.partition(":")
    if count == 0:
        raise Rejected(f"device '{device}': this service has no CUDA device; valid: 'auto' or 'cpu'")
    if index and int(index) >= count:
        raise Rejected(f"device '{device}': this service has {count} CUDA device(s); valid: 'cuda', "
                       f"'cuda:0' to 'cuda:{count - 1}', 'auto' or 'cpu'")


def _check_against_data(spec: JobSpec, dataset: ConfoundedDataset | None) -> None:
    """Refuse what the data makes impossible: an influence- or embedding-tuning spec that would
    run no round (it would be plain finetuning under another name: needs the training set's
    size), and no-confound on data without a confound-free copy. A hub dataset (None) is left to
    the worker, which checks once it has loaded it."""
    if spec.method not in (*ROUND_METHODS, MethodName.NO_CONFOUND) or dataset is None:
        return
    if spec.method == MethodName.NO_CONFOUND:
        if not dataset.control:
            raise Rejected(NO_CONTROL.format(name=f"dataset '{spec.dataset.name}'"))
        return
    train = spec.train
    steps = total_label_steps(len(dataset.train), train.batch_size, train.epochs, train.max_steps)
    if reason := no_rounds_reason(spec.method, spec.influence.interval, steps):
        raise Rejected(reason)


__all__ = ["CUSTOM", "UPLOAD_PREFIX", "Rejected", "accepted_spec", "check_spec", "dataset_choices", "in_one_line"]
