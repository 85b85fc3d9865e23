"""Uploaded datasets: size-limited, validated with the engine's own loader, stored under the
data directory with a server-chosen name (the uploader's file name is kept for display only),
and recorded in the store. Raises the kinds of backend.services.errors; the routes
(backend.api.catalogue) only parse and shape.
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import BinaryIO

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.services.errors import InvalidSpec, NotFound, Rejected, TooLarge
from backend.settings import Settings
from backend.store.models import UploadedDataset, utcnow
from backend.store.recorder import jsonable
from jobs.contracts.api import UploadOut
from jobs.contracts.datasets import DatasetStats, UploadColumns
from jobs.data import DataError, dataset_stats, load_dataset
from jobs.spec import UPLOAD_PREFIX, DatasetSpec

SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson")
CHUNK = 1 << 20
INCOMING = ".incoming-"  # an upload being written and checked; renamed to its stored name once it loads


class UploadRejected(Rejected):
    """The file is not a dataset the engine can load (400)."""


class UploadTooLarge(TooLarge):
    """The file is over the size limit (413)."""


def display_name(filename: str | None) -> str:
    """The uploader's file name without any directory part, for showing in lists."""
    name = Path((filename or "upload").replace("\\", "/")).name.strip() or "upload"
    return name[:200]


def store_upload(uploads_dir: Path, filename: str | None, stream: BinaryIO, limit_bytes: int,
                 columns: UploadColumns) -> tuple[Path, int, DatasetStats]:
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
            dataset = load_dataset({"name": "custom", "path": str(incoming), **columns.model_dump()})
        except (DataError, UnicodeDecodeError, ValueError) as error:
            # The engine names the file it read: show the uploader's name, not the server's path.
            raise UploadRejected(str(error).replace(str(incoming), name)) from None
        stats = dataset_stats(dataset)
        stats.description = stats.description.replace(str(incoming), name)
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


def upload_out(upload: UploadedDataset) -> UploadOut:
    return UploadOut(id=upload.id, name=upload.name, path=f"{UPLOAD_PREFIX}{upload.id}", size_bytes=upload.size_bytes,
                     columns=UploadColumns.model_validate(upload.columns), stats=DatasetStats.model_validate(upload.stats),
                     created_at=upload.created_at)


def list_uploads(session: Session) -> list[UploadOut]:
    return [upload_out(u) for u in session.scalars(select(UploadedDataset).order_by(UploadedDataset.id))]


def get_upload(session: Session, upload_id: int) -> UploadOut:
    upload = session.get(UploadedDataset, upload_id)
    if upload is None:
        raise NotFound(f"no uploaded dataset {upload_id}")
    return upload_out(upload)


def create_upload(session: Session, settings: Settings, filename: str | None, stream: BinaryIO,
                  columns: UploadColumns) -> UploadOut:
    """Check `columns` as DatasetSpec fields (InvalidSpec), store and check the file
    (UploadTooLarge, UploadRejected), and record it."""
    try:
        fields = set(UploadColumns.model_fields)
        columns = UploadColumns.model_validate(DatasetSpec.model_validate({"name": "custom", **columns.model_dump()})
                                               .model_dump(include=fields))
    except ValidationError as error:
        raise InvalidSpec(error) from None
    stored, size, stats = store_upload(settings.uploads_dir, filename, stream, settings.upload_limit_bytes, columns)
    upload = UploadedDataset(name=display_name(filename), path=str(stored.relative_to(settings.data_dir)),
                             size_bytes=size, columns=columns.model_dump(), stats=jsonable(stats.model_dump()),
                             created_at=utcnow())
    session.add(upload)
    session.commit()
    return upload_out(upload)
