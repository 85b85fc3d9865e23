"""What the service benchmarks share: scratch PostgreSQL databases and worker processes."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@contextmanager
def scratch_postgres() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    import psycopg

    name = f"deconfound_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def service_env(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "DECONFOUND_DATA_DIR": str(data_dir), "DECONFOUND_DATABASE_URL": database_url,
            "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(REPO), **extra}


def start_workers(count: int, env: dict[str, str], *args: str) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-m", "backend.cli", "worker", "--device", "cpu", *args],
                             cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(count)]
