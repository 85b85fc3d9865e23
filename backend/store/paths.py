"""Files a job may touch are inside the data directory, and nowhere else.

A spec names files in four places: `dataset.path`, the path-like dataset options (CoNLL and
MSGS source files), `neurontune.parent_artifact` (a saved model), and `model` when it is a
local directory. The API stores them relative to
the data directory; the worker turns them into absolute paths just before a run, checking
again (a spec in the database is not trusted either). Symlinks are resolved before the check,
so a link inside the data directory that points out of it is refused too.
"""
from __future__ import annotations

import copy
import os
import re
from pathlib import Path

from jobs.contracts.json_value import JsonObject
from jobs.models import BUILTIN_MODELS

HUB_PREFIX = "hf:"


class OutsideDataDir(ValueError):
    """A path that leaves the data directory."""


class UnusablePath(OutsideDataDir):
    """A path no file system takes (a name over NAME_MAX bytes, a NUL): refused like one outside,
    in one line, before the operating system answers "File name too long" as a 500."""


NAME_MAX = 255    # bytes in one file name (Linux, macOS, Windows)
PATH_MAX = 4095   # bytes in a whole path


def usable(candidate: str | Path, what: str = "path") -> Path:
    """`candidate` as a Path, if the operating system could look it up (UnusablePath if not)."""
    text = str(candidate)
    shown = text if len(text) <= 60 else f"{text[:57]}..."
    if "\x00" in text:
        raise UnusablePath(f"{what} '{shown.replace(chr(0), '')}' contains a NUL character")
    try:
        encoded = [os.fsencode(part) for part in Path(text).parts]
    except UnicodeError:
        raise UnusablePath(f"{what} '{shown}' is not a valid file name") from None
    if sum(len(part) + 1 for part in encoded) > PATH_MAX or any(len(part) > NAME_MAX for part in encoded):
        raise UnusablePath(f"{what} '{shown}': file name too long (at most {NAME_MAX} bytes a name)")
    return Path(text)


def is_path_option(key: str, value: str = "") -> bool:
    """Dataset options that name files: `source` (TextLen/MSGS original files) unless it is
    "offline" or a hub name, and conll*, *_path, *_file, *_dir."""
    if key == "source":
        return value != "offline" and not value.startswith(HUB_PREFIX)
    return key.startswith("conll") or key.endswith(("_path", "_file", "_dir"))


def inside(data_dir: Path, candidate: str | Path, what: str = "path") -> Path:
    """`candidate` (relative to `data_dir`, or absolute) resolved, if it lies inside `data_dir`."""
    root = Path(data_dir).resolve()
    path = usable(candidate, what)
    try:
        resolved = (path if path.is_absolute() else root / path).resolve()
    except OSError as error:  # a link loop, a name too long once links are followed
        raise UnusablePath(f"{what} '{candidate}' cannot be resolved: {error.strerror}") from None
    if resolved != root and not resolved.is_relative_to(root):
        # Not the data directory's own path: this message is a public answer (a 400).
        raise OutsideDataDir(f"{what} '{candidate}' is outside the data directory; put the file under the "
                             f"data directory and give its path relative to it")
    return resolved


def relative_inside(data_dir: Path, candidate: str | Path, what: str = "path") -> str:
    """`candidate` as a path relative to `data_dir` (checked as in `inside`)."""
    resolved = inside(data_dir, candidate, what)
    return str(resolved.relative_to(Path(data_dir).resolve()))


def spec_files(spec: JsonObject) -> list[tuple[tuple[str, ...], str]]:
    """(location in the spec, value) of every file a raw spec names, hub names excluded."""
    found = []
    dataset = spec.get("dataset") or {}
    if isinstance(dataset.get("path"), str) and not dataset["path"].startswith(HUB_PREFIX):
        found.append((("dataset", "path"), dataset["path"]))
    for key, value in (dataset.get("options") or {}).items():
        if isinstance(value, str) and is_path_option(key, value):
            found.append((("dataset", "options", key), value))
    parent = (spec.get("neurontune") or {}).get("parent_artifact")
    if isinstance(parent, str) and parent:  # NeuronTune's saved parent model
        found.append((("neurontune", "parent_artifact"), parent))
    return found


def _set(spec: dict, location: tuple[str, ...], value: str) -> None:
    node = spec
    for key in location[:-1]:
        node = node[key]
    node[location[-1]] = value


def absolute_spec(spec: JsonObject, data_dir: Path, model_is_path: bool) -> JsonObject:
    """A copy of a stored spec with its files made absolute inside `data_dir` (OutsideDataDir if not)."""
    spec = copy.deepcopy(spec)
    for location, value in spec_files(spec):
        _set(spec, location, str(inside(data_dir, value, ".".join(location))))
    if model_is_path:
        spec["model"] = str(inside(data_dir, spec["model"], "model"))
    return spec


# An absolute path in a message: a "/" that starts no URL and no relative path, then at least
# two parts ("/etc/passwd", "/home/u/.venv/lib/x.py"); a lone "/x" is left alone (a regex, a fraction).
_ABSOLUTE = re.compile(r"(?<![\w.:/~-])/(?:[\w.@+~-]+/)+[\w.@+~-]*")


def public_text(text: str, data_dir: Path) -> str:
    """`text` (an error message, a traceback) with no absolute server path in it: paths inside the
    data directory become relative to it ("uploads/x.csv"), the data directory itself "the data
    directory", and any other absolute path its last part ("…/torch/nn/modules/module.py" ->
    "…/module.py"). For what anyone may read: job errors and logs, 400 messages."""
    for root in dict.fromkeys((str(Path(data_dir).resolve()), str(Path(data_dir).absolute()))):
        if len(root) > 1:
            text = text.replace(root + os.sep, "")
            text = re.sub(re.escape(root) + r"(?![\w.@+~-])", "the data directory", text)
    return _ABSOLUTE.sub(lambda match: "…/" + (match.group(0).rstrip("/").rsplit("/", 1)[-1]), text)


def hub_reachable() -> bool:
    """Downloading from the Hugging Face hub is allowed only when not offline (the default)."""
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("1", "true", "True", "YES", "yes")


def model_is_local_path(model: str, data_dir: Path) -> bool:
    """Is a non-built-in model name meant as a directory (rather than a hub name)?"""
    if model in BUILTIN_MODELS:
        return False
    try:
        path = usable(model, "model")
        return path.is_absolute() or model.startswith(".") or ".." in path.parts or (data_dir / path).exists()
    except (UnusablePath, OSError):  # no hub name is that long either: let `inside` refuse it in one line
        return True
