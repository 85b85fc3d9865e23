"""Diagnostics: a job attempt's named JSON payloads (NeuronTune's scores, zeroed neurons,
lambda candidates, suggested confounds, before/after comparison).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('diagnostics',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('diagnostics', schema=None) as batch_op:
        batch_op.create_index('ix_diagnostics_read', ['job_id', 'attempt', 'name'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('diagnostics', schema=None) as batch_op:
        batch_op.drop_index('ix_diagnostics_read')
    op.drop_table('diagnostics')
