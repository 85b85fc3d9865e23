"""A running job says what it is doing ("measuring CID (step 0)", "influence round 2/4: update
5/16") and whether its ETA still rests on a guess (a kind of work not yet timed in the run).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('progress_phase', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('eta_guessed', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('eta_guessed')
        batch_op.drop_column('progress_phase')
