"""Fixtures of the service tests: a real SQLite file per test, the real PostgreSQL here (a database
of its own per test), and real worker subprocesses."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.api import create_app
from backend.settings import Settings, default_database_url, load_settings
from backend.store.db import Database
from tests import helpers
from tests.postgres import postgres_up, scratch_database

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[2]

# The job of the issue: a few label steps of the tiny model on a small TextLen.
TINY_JOB = {"model": "tiny", "method": "finetune",
            "dataset": {"name": "textlen", "options": {"train_size": 64, "dev_size": 32, "test_size": 32}},
            "train": {"max_steps": 4, "eval_every": 2}, "diagnostics": {"probes": 4, "sample": 4, "cid_every": 2}}


def long_job(max_steps: int) -> dict:
    """A tiny job of `max_steps` label steps (batch 8, points every 2 steps, CID every 4 steps)."""
    return {**TINY_JOB, "train": {"max_steps": max_steps, "batch_size": 8, "epochs": 1000, "eval_every": 50},
            "diagnostics": {"probes": 2, "sample": 2, "cid_every": 4, "histogram_probes": 1}}


def make_settings(data_dir: Path, database_url: str | None = None, **changes) -> Settings:
    """Settings for a test: its own data dir and database, no token unless given, a short lease."""
    data_dir = Path(data_dir).resolve()
    defaults = {"data_dir": data_dir, "database_url": database_url or default_database_url(data_dir),
                "api_token": None, "lease_s": 4.0, "heartbeat_s": 0.5}
    return load_settings(**{**defaults, **changes})


@pytest.fixture
def settings(tmp_path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def client(settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture
def db(settings, client) -> Iterator[Database]:
    database = Database(settings.database_url)
    yield database
    database.dispose()


def wait_for(predicate: Callable[[], object], timeout_s: float | None = None, what: str = "the event",
             every_s: float = 0.2):
    """Poll until predicate() is truthy; return its value. The ceiling is the suite's
    (tests.helpers.WAIT_S); timeout_s, kept from the old signature, can only raise it."""
    return helpers.wait_for(predicate, what, timeout_s=timeout_s, every_s=every_s)


def worker_env(settings: Settings) -> dict[str, str]:
    return {**os.environ, "DECONFOUND_DATA_DIR": str(settings.data_dir),
            "DECONFOUND_DATABASE_URL": settings.database_url, "DECONFOUND_LEASE_S": str(settings.lease_s),
            "DECONFOUND_HEARTBEAT_S": str(settings.heartbeat_s), "DECONFOUND_CHECKPOINT_S": str(settings.checkpoint_s),
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


@pytest.fixture
def spawn_worker(tmp_path) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start `deconfound worker` subprocesses; any still running at the end are killed."""
    started: list[subprocess.Popen] = []

    def spawn(settings: Settings, *args: str) -> subprocess.Popen:
        log = (tmp_path / f"worker-{len(started)}.log").open("w")
        process = subprocess.Popen([sys.executable, "-m", "backend.cli", "worker", "--device", "cpu", *args],
                                   cwd=REPO, env=worker_env(settings), stdout=log, stderr=subprocess.STDOUT)
        process.log_path = log.name
        started.append(process)
        return process

    yield spawn
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def worker_log(process: subprocess.Popen) -> str:
    return Path(process.log_path).read_text()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    if shutil.which("pg_ctlcluster") is None and not postgres_up():
        pytest.skip("no PostgreSQL on this machine")
    with scratch_database("deconfound_test") as url:
        yield url
