"""Uploaded datasets: size-limited, validated with the engine's own loader, stored under the
data directory with a server-chosen name (the uploader's file name is kept for display only).
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, BinaryIO

from jobs.data import DataError, dataset_stats, load_dataset

SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson")
CHUNK = 1 << 20
INCOMING = ".incoming-"  # an upload being written and checked; renamed to its stored name once it loads


class UploadRejected(ValueError):
    """The file is not a dataset the engine can load (400)."""


class UploadTooLarge(ValueError):
    """The file is over the size limit (413)."""


def display_name(filename: str | None) -> str:
    """The uploader's file name without any directory part, for showing in lists."""
    name = Path((filename or "upload").replace("\\", "/")).name.strip() or "upload"
    return name[:200]


def store_upload(uploads_dir: Path, filename: str | None, stream: BinaryIO, limit_bytes: int,
                 columns: dict[str, Any]) -> tuple[Path, int, dict[str, Any]]:
    """Copy `stream` into uploads_dir, check it loads as a custom dataset with `columns`
    (DatasetSpec fields), and return (stored path, size in bytes, Table-1 statistics)."""
    name = display_name(filename)
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise UploadRejected(f"{name}: unknown file type '{suffix}'; valid: {', '.join(SUFFIXES)}")
    uploads_dir.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    incoming = uploads_dir / f"{INCOMING}{token}{suffix}"
    try:
        size = 0
        with incoming.open("wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit_bytes:
                    raise UploadTooLarge(f"{name}: larger than the upload limit of {limit_bytes} bytes")
                out.write(chunk)
        try:
            dataset = load_dataset({"name": "custom", "path": str(incoming), **columns})
        except (DataError, UnicodeDecodeError, ValueError) as error:
            # The engine names the file it read: show the uploader's name, not the server's path.
            raise UploadRejected(str(error).replace(str(incoming), name)) from None
        stats = dataset_stats(dataset)
        stats["description"] = str(stats.get("description", "")).replace(str(incoming), name)
        stored = uploads_dir / f"{token}{suffix}"
        incoming.rename(stored)
        return stored, size, stats
    finally:
        incoming.unlink(missing_ok=True)


def remove_incoming(uploads_dir: Path) -> int:
    """Delete the half-written uploads a killed API left behind (store_upload removes its own file
    on any error, but not when the process dies); the API calls it on start. Returns how many."""
    removed = 0
    for leftover in uploads_dir.glob(f"{INCOMING}*") if uploads_dir.is_dir() else ():
        leftover.unlink(missing_ok=True)
        removed += 1
    return removed
