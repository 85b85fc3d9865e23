"""The job chain and an experiment's kind become columns: jobs.parent_job_id (the job a job was
made from: NeuronTune's tuned job, a follow-up's NeuronTune job) and experiments.kind. Before,
they lived in JSON: a follow-up's params["chain"] {"neurontune_job", "parent_job", "suggestion"},
a NeuronTune job's params["follow_ups"], and an experiment's grid["kind"]. The data moves over:
parent_job_id from the chain (or a NeuronTune job's parent_artifact, the saved model of a job),
the chain's suggestion stays as params["suggestion"], follow-ups become the jobs whose parent is
the job; kind is copied from the grid (which keeps the request as submitted).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("compare", "sweep", "reproduce")

jobs = sa.table('jobs', sa.column('id', sa.Integer), sa.column('method', sa.String),
                sa.column('params', sa.JSON), sa.column('spec', sa.JSON), sa.column('parent_job_id', sa.Integer))
experiments = sa.table('experiments', sa.column('id', sa.Integer), sa.column('grid', sa.JSON),
                       sa.column('kind', sa.String))
artifacts = sa.table('artifacts', sa.column('id', sa.Integer), sa.column('job_id', sa.Integer),
                     sa.column('path', sa.String))


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # ADD COLUMN with REFERENCES: no table rebuild (a rebuild would drop jobs under tables that cascade from
        # it, deleting their rows). No ON DELETE: SQLAlchemy reflects none from an inline REFERENCES.
        op.execute("ALTER TABLE jobs ADD COLUMN parent_job_id INTEGER REFERENCES jobs (id)")
        op.execute("ALTER TABLE experiments ADD COLUMN kind VARCHAR(20) DEFAULT 'compare' NOT NULL")
    else:
        op.add_column('jobs', sa.Column('parent_job_id', sa.Integer(), nullable=True))
        op.create_foreign_key('fk_jobs_parent_job_id', 'jobs', 'jobs', ['parent_job_id'], ['id'])
        op.add_column('experiments', sa.Column('kind', sa.String(length=20), server_default='compare',
                                               nullable=False))
    op.create_index('ix_jobs_parent_job_id', 'jobs', ['parent_job_id'], unique=False)
    _move_data(bind)


def _move_data(bind) -> None:
    for experiment_id, grid in bind.execute(sa.select(experiments.c.id, experiments.c.grid)).all():
        kind = (grid or {}).get("kind") if isinstance(grid, dict) else None
        if kind in KINDS and kind != "compare":
            bind.execute(experiments.update().where(experiments.c.id == experiment_id).values(kind=kind))

    rows = bind.execute(sa.select(jobs.c.id, jobs.c.method, jobs.c.params, jobs.c.spec)).all()
    existing = {row.id for row in rows}
    parents: dict[int, int] = {}
    params_of: dict[int, dict] = {}
    for row in rows:
        params = dict(row.params) if isinstance(row.params, dict) else {}
        chain = params.pop("chain", None)
        follow_ups = params.pop("follow_ups", None)
        if chain is None and follow_ups is None:
            continue
        params_of[row.id] = params
        if isinstance(chain, dict):
            if (nt := _int(chain.get("neurontune_job"))) in existing:
                parents[row.id] = nt
                if (grand := _int(chain.get("parent_job"))) in existing and nt != grand:
                    parents.setdefault(nt, grand)
            if isinstance(chain.get("suggestion"), dict):
                params["suggestion"] = chain["suggestion"]
        for child in follow_ups if isinstance(follow_ups, list) else []:
            if (child := _int(child)) in existing and child != row.id:
                parents.setdefault(child, row.id)
    # A NeuronTune job whose parent_artifact is a job's saved model: that job.
    paths = {}
    for job_id, path in bind.execute(sa.select(artifacts.c.job_id, artifacts.c.path).order_by(artifacts.c.id)):
        paths[path] = job_id  # the newest artifact of a path wins
    for row in rows:
        if row.method == "neurontune" and row.id not in parents and isinstance(row.spec, dict):
            path = (row.spec.get("neurontune") or {}).get("parent_artifact")
            if isinstance(path, str) and paths.get(path) not in (None, row.id):
                parents[row.id] = paths[path]
    for job_id, parent in parents.items():
        bind.execute(jobs.update().where(jobs.c.id == job_id).values(parent_job_id=parent))
    for job_id, params in params_of.items():
        bind.execute(jobs.update().where(jobs.c.id == job_id).values(params=params))


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(jobs.c.id, jobs.c.params, jobs.c.parent_job_id)).all()
    by_id = {row.id: row for row in rows}
    params_of = {row.id: dict(row.params) if isinstance(row.params, dict) else {} for row in rows}
    changed = set()
    for row in rows:
        params = params_of[row.id]
        if "suggestion" in params and row.parent_job_id is not None:  # a follow-up: the chain in its params
            parent = by_id.get(row.parent_job_id)
            params["chain"] = {"neurontune_job": row.parent_job_id,
                               "parent_job": parent.parent_job_id if parent is not None else None,
                               "suggestion": params.pop("suggestion")}
            nt = params_of.get(row.parent_job_id)
            if nt is not None:
                nt["follow_ups"] = [*nt.get("follow_ups", []), row.id]
                changed.add(row.parent_job_id)
            changed.add(row.id)
    for job_id in changed:
        bind.execute(jobs.update().where(jobs.c.id == job_id).values(params=params_of[job_id]))
    op.drop_index('ix_jobs_parent_job_id', table_name='jobs')
    if bind.dialect.name == "sqlite":
        # DROP COLUMN (SQLite 3.35+), not a batch rebuild: dropping experiments or jobs to rebuild them would
        # set their children's experiment_id to NULL and delete the jobs' points.
        op.execute("ALTER TABLE experiments DROP COLUMN kind")
        op.execute("ALTER TABLE jobs DROP COLUMN parent_job_id")
    else:
        op.drop_column('experiments', 'kind')
        op.drop_constraint('fk_jobs_parent_job_id', 'jobs', type_='foreignkey')
        op.drop_column('jobs', 'parent_job_id')
