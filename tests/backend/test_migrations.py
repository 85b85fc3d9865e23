"""The Alembic migrations build exactly the schema of backend/store/models.py, on SQLite and PostgreSQL."""
from __future__ import annotations

import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from backend.store.db import Database
from backend.store.models import Base
from tests.helpers import wait_exit

from .conftest import REPO


def schema_drift(db: Database) -> list:
    with db.engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


def test_sqlite_migrates_to_the_models_and_uses_wal(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'd.db'}")
    db.migrate()
    db.migrate()  # a second run is a no-op
    assert schema_drift(db) == []
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30000
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    db.dispose()


def test_postgres_migrates_to_the_models_even_when_processes_race(pg_url):
    script = "import sys; from backend.store.db import Database; Database(sys.argv[1]).migrate()"
    racers = [subprocess.Popen([sys.executable, "-c", script, pg_url], cwd=REPO, stderr=subprocess.PIPE, text=True)
              for _ in range(3)]
    for racer in racers:
        assert wait_exit(racer) == 0, racer.stderr.read()
    db = Database(pg_url)
    assert schema_drift(db) == []
    assert "scalar_points" in inspect(db.engine).get_table_names()
    db.dispose()
