"""The Alembic migrations build exactly the schema of backend/store/models.py, on SQLite and PostgreSQL."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import JSON, column, inspect, select, table, text

from backend.store.db import Database
from backend.store.models import Base, Experiment, Job
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


def _chain_at_0004(db: Database) -> None:
    """A store at revision 0004 whose chain and kinds live in JSON, as the service wrote them then."""
    db.migrate("0004")
    experiments = table("experiments", column("id"), column("name"), column("grid", JSON), column("created_at"))
    jobs = table("jobs", *(column(c) for c in ("id", "experiment_id", "dataset", "method", "model", "seed",
                                               "status", "cancel_requested", "attempt", "created_at")),
                 column("params", JSON), column("spec", JSON))
    artifacts = table("artifacts", *(column(c) for c in ("id", "job_id", "attempt", "kind", "path", "size_bytes",
                                                         "created_at")))
    now = datetime(2026, 12, 1)
    job = {"dataset": "textlen", "model": "tiny", "seed": 1, "status": "succeeded", "cancel_requested": False,
           "attempt": 1, "created_at": now, "experiment_id": None}
    suggestion = {"rank": 1, "ngram": "banana", "rule": "token:banana"}
    with db.engine.begin() as connection:
        connection.execute(experiments.insert(), [
            {"id": 1, "name": "s", "grid": {"kind": "sweep", "methods": ["finetune"]}, "created_at": now},
            {"id": 2, "name": "old", "grid": {"methods": ["finetune"]}, "created_at": now}])
        connection.execute(jobs.insert(), [
            {**job, "id": 1, "method": "finetune", "params": {}, "spec": {}, "experiment_id": 1},
            {**job, "id": 2, "method": "neurontune", "params": {"follow_ups": [3]},
             "spec": {"neurontune": {"parent_artifact": "artifacts/job1/model"}}},
            {**job, "id": 3, "method": "influence-tuning", "params": {"chain": {
                "neurontune_job": 2, "parent_job": 1, "suggestion": suggestion}}, "spec": {}},
            {**job, "id": 4, "method": "neurontune", "params": {"lr": 1},  # no follow-ups: parent from its artifact
             "spec": {"neurontune": {"parent_artifact": "artifacts/job1/model"}}},
            {**job, "id": 5, "method": "neurontune", "params": {}, "spec": {"neurontune": {"parent_artifact": None}}}])
        connection.execute(artifacts.insert(), [{"id": 1, "job_id": 1, "attempt": 1, "kind": "model",
                                                 "path": "artifacts/job1/model", "size_bytes": 1, "created_at": now}])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0005_moves_the_chain_and_the_kind_out_of_json_into_columns(backend, tmp_path, request):
    url = f"sqlite:///{tmp_path / 'd.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    db = Database(url)
    _chain_at_0004(db)
    db.migrate()
    assert schema_drift(db) == []
    with db.session() as session:
        rows = {j.id: j for j in session.scalars(select(Job).order_by(Job.id))}
        assert {i: j.parent_job_id for i, j in rows.items()} == {1: None, 2: 1, 3: 2, 4: 1, 5: None}
        assert rows[3].params == {"suggestion": {"rank": 1, "ngram": "banana", "rule": "token:banana"}}
        assert rows[2].params == {} and rows[4].params == {"lr": 1}
        kinds = dict(session.execute(select(Experiment.id, Experiment.kind)).all())
        assert kinds == {1: "sweep", 2: "compare"}
        assert session.get(Experiment, 1).grid["kind"] == "sweep"  # the request as submitted stays whole
    db.dispose()


def test_0005_down_puts_the_chain_back_into_params_and_keeps_every_row(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'd.db'}")
    _chain_at_0004(db)
    db.migrate()
    db.downgrade("0004")
    with db.engine.connect() as connection:
        params = dict(connection.execute(text("SELECT id, params FROM jobs ORDER BY id")).all())
        assert connection.execute(text("SELECT experiment_id FROM jobs WHERE id = 1")).scalar() == 1
    chain = json.loads(params[3])["chain"]
    assert chain == {"neurontune_job": 2, "parent_job": 1,
                     "suggestion": {"rank": 1, "ngram": "banana", "rule": "token:banana"}}
    assert json.loads(params[2]) == {"follow_ups": [3]}
    db.migrate()  # and up again
    assert schema_drift(db) == []
    db.dispose()
