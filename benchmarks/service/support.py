"""What the service benchmarks share: scratch PostgreSQL databases and worker processes."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def scratch_postgres():
    """A fresh PostgreSQL database, dropped afterwards (tests/postgres.py, shared with the tests)."""
    from tests.postgres import scratch_database
    return scratch_database("deconfound_bench")


def service_env(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "DECONFOUND_DATA_DIR": str(data_dir), "DECONFOUND_DATABASE_URL": database_url,
            "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(REPO), **extra}


def start_workers(count: int, env: dict[str, str], *args: str) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-m", "backend.cli", "worker", "--device", "cpu", *args],
                             cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(count)]
