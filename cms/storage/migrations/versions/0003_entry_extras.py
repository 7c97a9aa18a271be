"""Entry extras: values plugins add to other entries' responses, stored on write.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

def upgrade() -> None:
    op.create_table('entry_extras',
    sa.Column('entry_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('source_id', sa.String(length=36), nullable=True),
    sa.Column('value', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['entry_id'], ['entries.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_id'], ['entries.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_id', 'name')
    )
    with op.batch_alter_table('entry_extras', schema=None) as batch_op:
        batch_op.create_index('ix_entry_extras_source', ['source_id', 'name'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('entry_extras', schema=None) as batch_op:
        batch_op.drop_index('ix_entry_extras_source')

    op.drop_table('entry_extras')
