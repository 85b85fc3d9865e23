"""Influence lists carry the CID phase they were measured in: at an influence-tuning round's
step there is a pre-round and a post-round snapshot, and Figure 1 shows either.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('influence_lists', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phase', sa.String(length=16), nullable=False, server_default='live'))


def downgrade() -> None:
    with op.batch_alter_table('influence_lists', schema=None) as batch_op:
        batch_op.drop_column('phase')
