"""What each content folder's last load or dump saw of each entry's file.

`content_files` is the common ancestor `cms content load` compares a file
and its entry with, so that a load never reverts a change made through the
API (see docs/content.md). An existing database starts without rows: its
first load records them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import cms.storage.tables

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('content_files',
    sa.Column('folder', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('slug', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('entry_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('file_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('at', cms.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.PrimaryKeyConstraint('folder', 'type', 'slug')
    )


def downgrade() -> None:
    op.drop_table('content_files')
