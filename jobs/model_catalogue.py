"""The model picker: the built-in models, the supported families and the model directories found
under a data directory, each with its family, kind, pooling and size, read without loading weights.

    deconfound models [--data-dir DIR] [--json]    (jobs/cli.py)
    GET /api/models                                 (backend/api/catalogue.py)
    the job form's model dropdown                   (dashboard/pages/jobs.py)

all answer the same `ModelsOut` (jobs/contracts/api.py).

A local model is a directory with a config.json under `<data dir>/models` (a symlink counts only
where it, and every file read through it, resolves inside the data directory). Its size is the
parameter count from the weights' shapes (safetensors headers: a few KB read, nothing loaded), or
else from its config's architecture built on the meta device (no memory), and the bytes of its
weight files.

FAMILIES lists the families the engine supports (model_type, name, kind, pooling), read from the
per-family adapters that make them work (jobs.families): encoders with a pooler read it, other
encoders the first token, decoders the last non-padding token.
"""
from __future__ import annotations

import json
import os
import struct
from functools import lru_cache
from pathlib import Path

from jobs.contracts.api import FamilyInfo, ModelInfo, ModelsOut
from jobs.families import FAMILIES as DECLARED
from jobs.models import BUILTIN_MODELS
from jobs.spec import DEFAULT_MODEL

# (model_type, usual name, kind, pooling), from the declared adapters
FAMILIES: tuple[tuple[str, str, str, str], ...] = tuple(
    (model_type, family.name, family.kind, "pooler" if family.pooler else family.pooling)
    for family in DECLARED for model_type in family.model_types)
FAMILY_BY_TYPE = {model_type: (name, kind, pooling) for model_type, name, kind, pooling in FAMILIES}

MODELS_DIR = "models"
MAX_LOCAL_MODELS = 200           # directories listed at most (the answer stays bounded)
MAX_CONFIG_BYTES = 1_000_000     # a config.json larger than this is not read
MAX_HEADER_BYTES = 100_000_000   # safetensors' own limit on its header
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
# The built-in `tiny`: jobs.models.load_model's BertConfig over MiniLM's vocabulary (a test keeps them equal).
TINY_CONFIG = {"model_type": "bert", "vocab_size": 30522, "hidden_size": 64, "num_hidden_layers": 2,
               "num_attention_heads": 2, "intermediate_size": 128, "max_position_embeddings": 512}


def families() -> list[FamilyInfo]:
    return [FamilyInfo(model_type=t, name=name, kind=kind, pooling=pooling) for t, name, kind, pooling in FAMILIES]


def _inside(root: Path, path: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        return False


def _safetensors_parameters(path: Path) -> int:
    """Elements of every tensor a safetensors file holds, from its header alone."""
    with path.open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        if length > MAX_HEADER_BYTES:
            raise ValueError(f"{path.name}: a header of {length} bytes")
        header = json.loads(handle.read(length))
    total = 0
    for key, entry in header.items():
        if key != "__metadata__":
            count = 1
            for dim in entry["shape"]:
                count *= int(dim)
            total += count
    return total


def _config_parameters(config: dict) -> int:
    """Parameters of the base model (AutoModel) the config describes, built on the meta device."""
    import torch
    from transformers import AutoConfig, AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    settings = dict(config)
    model_type = settings.pop("model_type")
    hf_config = AutoConfig.for_model(model_type, **settings)
    with torch.device("meta"):
        model = AutoModel.from_config(hf_config)
    return sum(p.numel() for p in model.parameters())


@lru_cache(maxsize=1)
def builtin_models() -> tuple[ModelInfo, ...]:
    """The built-ins: `tiny` (counted from its config) and `minilm` (from its shipped weights)."""
    out = []
    for name, description in BUILTIN_MODELS.items():
        family, kind, pooling = "bert", "encoder", "pooler"
        parameters = size = note = None
        try:
            if name == "tiny":
                parameters = _config_parameters(TINY_CONFIG)
            elif name == "minilm":
                from jobs.models import minilm_path

                weights = Path(minilm_path()) / "model.safetensors"
                parameters, size = _safetensors_parameters(weights), weights.stat().st_size
        except (ImportError, OSError, ValueError, KeyError) as error:
            note = f"size unknown: {type(error).__name__}"
        out.append(ModelInfo(name=name, source="builtin", description=description, family=family, kind=kind,
                             pooling=pooling, supported=True, parameters=parameters, size_bytes=size, note=note))
    return tuple(out)


def describe_local(data_dir: Path, directory: Path) -> ModelInfo:
    """A model directory under the data directory: family, kind, pooling and size from its files."""
    data_dir = Path(data_dir)
    name = directory.relative_to(data_dir).as_posix()
    stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(directory.iterdir())
                  if p.is_file() and _inside(data_dir, p))
    return _describe(str(directory), name, stamp)


@lru_cache(maxsize=256)
def _describe(directory: str, name: str, stamp: tuple) -> ModelInfo:
    """describe_local's work, kept while the directory's files are unchanged (`stamp`)."""
    folder = Path(directory)
    files = {file_name for file_name, _, _ in stamp}
    notes = []
    try:
        config_file = folder / "config.json"
        if config_file.stat().st_size > MAX_CONFIG_BYTES:
            raise ValueError("config.json is too large")
        config = json.loads(config_file.read_text())
        if not isinstance(config, dict) or not isinstance(config.get("model_type"), str):
            raise ValueError("config.json names no model_type")
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) else str(error)  # no path in a public answer
        return ModelInfo(name=name, source="local", supported=False, note=f"unreadable config.json: {reason}"[:300])
    model_type = config["model_type"][:100]
    family = FAMILY_BY_TYPE.get(model_type)
    if family is None:
        notes.append(f"'{model_type}' is not a declared family: the generic path, or an error naming what is "
                     "missing")
    weights = sorted(f for f in files if f.endswith(WEIGHT_SUFFIXES))
    size = sum(size for file_name, _, size in stamp if file_name in weights) if weights else None
    if not weights:
        notes.append("no weight files (config.json only): a job cannot load it")
    parameters = None
    tensors = [f for f in weights if f.endswith(".safetensors")]
    try:
        parameters = (sum(_safetensors_parameters(folder / f) for f in tensors) if tensors
                      else _config_parameters(config))
    except Exception as error:  # noqa: BLE001 - any config transformers cannot build: size unknown, said so
        notes.append(f"parameters unknown: {type(error).__name__}")
    return ModelInfo(name=name, source="local", family=model_type, kind=family[1] if family else None,
                     pooling=family[2] if family else None, supported=family is not None, parameters=parameters,
                     size_bytes=size, note="; ".join(notes) or None)


def local_model_dirs(data_dir: Path) -> list[Path]:
    """Directories with a config.json under <data dir>/models, by name; a symlink (or a config.json)
    that leaves the data directory is left out."""
    data_dir = Path(data_dir)
    root = data_dir / MODELS_DIR
    if not root.is_dir() or not _inside(data_dir, root):
        return []
    found = []
    for path in sorted(root.iterdir()):
        if len(found) == MAX_LOCAL_MODELS:
            break
        config = path / "config.json"
        if _inside(data_dir, path) and path.is_dir() and config.is_file() and _inside(data_dir, config):
            found.append(path)
    return found


def local_models(data_dir: Path) -> list[ModelInfo]:
    return [describe_local(data_dir, path) for path in local_model_dirs(data_dir)]


def catalogue(data_dir: Path, hub_reachable: bool = False) -> ModelsOut:
    """What a job can name as its model: built-ins, the local model directories, and the families."""
    return ModelsOut(builtin=list(builtin_models()), local=local_models(data_dir), families=families(),
                     default=DEFAULT_MODEL, hub_reachable=hub_reachable,
                     note=f"a model directory goes under the data directory's {MODELS_DIR}/ (with its config.json)"
                          + (", or any Hugging Face name" if hub_reachable else ""))


def human_count(count: int | None) -> str:
    """12345678 -> '12.3M'; None -> '?'."""
    if count is None:
        return "?"
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= scale:
            return f"{count / scale:.3g}{unit}"
    return str(count)


def human_bytes(size: int | None) -> str:
    if size is None:
        return "-"
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} B"


def default_data_dir() -> Path:
    """The service's default data directory (backend.settings): $DECONFOUND_DATA_DIR or ./var."""
    return Path(os.environ.get("DECONFOUND_DATA_DIR") or "var")
