"""Datasets from the Hugging Face hub ("hf:NAME" or "hf:NAME:CONFIG"), where one is reachable.

`datasets` is an optional dependency (pip install deconfound[hub]) and is imported only
here, only when asked for, so offline installs never pay for it. Every failure becomes one
DataError line that says what to do instead.
"""
from __future__ import annotations

from jobs.data.dataset import DataError

PREFIX = "hf:"


def is_hub_path(path: str | None) -> bool:
    return bool(path) and path.startswith(PREFIX)


def load_hub_splits(path: str) -> dict[str, list[dict]]:
    """The splits of hub dataset `path` ("hf:NAME[:CONFIG]") as {split name: list of row dicts}."""
    name, _, config = path[len(PREFIX):].partition(":")
    if not name:
        raise DataError("empty hub dataset name; write hf:NAME or hf:NAME:CONFIG", file=path)
    try:
        import datasets
    except ImportError:
        raise DataError("reading from the Hugging Face hub needs the 'datasets' package "
                        "(pip install 'deconfound[hub]'); or give a local directory or file",
                        file=path) from None
    try:
        loaded = datasets.load_dataset(name, config or None)
    except Exception as error:  # offline, unknown name, bad config: all one line for the user
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"cannot load from the Hugging Face hub (offline or unknown dataset?): "
                        f"{reason}; give a local directory or file instead", file=path) from None
    return {split: [dict(row) for row in rows] for split, rows in loaded.items()}
