"""Cache purges: what public caches follow, instead of every write.

A write appends one row to `cache_purges`, numbered by
`site_state.purge_seq`: the surrogate keys of the answers it alters (a
published version written, refreshed or removed; a plugin's response field
on an entry), or a key that drops only what names no key (a draft).
Response caches read that number instead of the generation, which every
write moves and which emptied every cache: an editor's draft saves leave
the core's cached answers valid (see `cms/syndication/purges.py` for what a
publish purges).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cache_purges",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("site_state") as batch:
        batch.add_column(
            sa.Column("purge_seq", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("site_state") as batch:
        batch.drop_column("purge_seq")
    op.drop_table("cache_purges")
