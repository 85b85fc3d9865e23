"""Your own data for a local experiment (`deconfound reproduce --data PATH`): jobs read files
inside the data directory only (backend.store.paths), so a file or directory elsewhere is copied
in once, under `datasets/<name>-<content hash>/`. The same content lands in the same place, so
running the same command again finds its experiment and resumes it."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from backend.services.errors import Rejected
from backend.store.paths import OutsideDataDir, relative_inside
from jobs.data.tables import TABLE_SUFFIXES
from jobs.spec import UPLOAD_PREFIX

HASH_CHARS = 10


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES)


def content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    for file in _files(path):
        digest.update(file.name.encode() + b"\0")
        with file.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:HASH_CHARS]


def data_in_store(data_dir: Path, data: str) -> str:
    """`data` as a spec's dataset.path: 'upload:<id>' as is; a path inside the data directory
    relative to it; any other file or directory copied in. Raises Rejected naming the path."""
    if data.startswith(UPLOAD_PREFIX):
        return data
    path = Path(data).expanduser()
    if not path.exists():
        raise Rejected(f"--data {data}: no such file or directory")
    try:
        return relative_inside(data_dir, str(path.resolve()), "--data")
    except OutsideDataDir:
        pass
    if not _files(path):
        raise Rejected(f"--data {data}: no {', '.join(TABLE_SUFFIXES)} files in it")
    target = data_dir / "datasets" / f"{path.stem}-{content_hash(path)}"
    if not target.exists():
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for file in _files(path):
            shutil.copy2(file, staging / file.name)
        staging.rename(target)
    single = path.is_file()
    return str((target / path.name if single else target).relative_to(data_dir))
