"""Initial tables: entries, relations, tags, revisions.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

def upgrade() -> None:
    op.create_table('entries',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('slug', sa.String(length=120), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.String(), nullable=False),
    sa.Column('body', sa.String(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('origin_clinic', sa.String(length=120), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('last_reviewed', sa.Date(), nullable=True),
    sa.Column('seo', sa.JSON(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('body_html', sa.String(), nullable=False),
    sa.Column('toc', sa.JSON(), nullable=False),
    sa.Column('reading_time_minutes', sa.Integer(), nullable=False),
    sa.Column('links', sa.JSON(), nullable=False),
    sa.Column('search_text', sa.String(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('doc', sa.LargeBinary(), nullable=False),
    sa.Column('doc_item', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.create_index('ix_entries_created_at', ['type', 'status', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_entries_published_at', ['type', 'status', 'published_at', 'id'], unique=False)
        batch_op.create_index('ix_entries_title', ['type', 'status', 'title', 'id'], unique=False)
        batch_op.create_index('ix_entries_updated_at', ['type', 'status', 'updated_at', 'id'], unique=False)
        batch_op.create_index('uq_entries_type_slug', ['type', 'slug'], unique=True)

    op.create_table('entry_tags',
    sa.Column('entry_id', sa.String(length=36), nullable=False),
    sa.Column('tag', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entries.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_id', 'tag')
    )
    with op.batch_alter_table('entry_tags', schema=None) as batch_op:
        batch_op.create_index('ix_entry_tags_tag', ['tag', 'entry_id'], unique=False)

    op.create_table('relations',
    sa.Column('source_id', sa.String(length=36), nullable=False),
    sa.Column('field', sa.String(length=60), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['entries.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_id'], ['entries.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('source_id', 'field', 'position')
    )
    with op.batch_alter_table('relations', schema=None) as batch_op:
        batch_op.create_index('ix_relations_target', ['target_id', 'field', 'source_id'], unique=False)

    op.create_table('revisions',
    sa.Column('entry_id', sa.String(length=36), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=True),
    sa.Column('changed_fields', sa.JSON(), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entries.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_id', 'version')
    )

def downgrade() -> None:
    op.drop_table('revisions')
    with op.batch_alter_table('relations', schema=None) as batch_op:
        batch_op.drop_index('ix_relations_target')

    op.drop_table('relations')
    with op.batch_alter_table('entry_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_entry_tags_tag')

    op.drop_table('entry_tags')
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.drop_index('uq_entries_type_slug')
        batch_op.drop_index('ix_entries_updated_at')
        batch_op.drop_index('ix_entries_title')
        batch_op.drop_index('ix_entries_published_at')
        batch_op.drop_index('ix_entries_created_at')

    op.drop_table('entries')
