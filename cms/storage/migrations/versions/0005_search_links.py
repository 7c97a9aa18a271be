"""Canonical URLs, internal links, filter facets and full-text search.

SQLite gets an FTS5 index over `search_documents` (external content, kept in
step by triggers, so every write that changes the table changes the index in
the same transaction); PostgreSQL gets a generated, weighted `tsvector`
column with a GIN index. Neither is in the SQLModel metadata: see
`cms.storage.tables.DIALECT_TABLES`.

Existing entries get their documents, links and search text from
`cms content rebuild`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Search weights: title A, summary and type-specific details B, body C.
PG_TSVECTOR = (
    "setweight(to_tsvector('english', title), 'A') || "
    "setweight(to_tsvector('english', summary), 'B') || "
    "setweight(to_tsvector('english', details), 'B') || "
    "setweight(to_tsvector('english', body), 'C')"
)
FTS_COLUMNS = "title, summary, details, body"


def upgrade() -> None:
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('canonical_url', sa.String(), nullable=True))
    with op.batch_alter_table('published_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('canonical_url', sa.String(), nullable=True))

    op.create_table('entry_links',
    sa.Column('source_id', sa.String(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('target_type', sa.String(length=40), nullable=False),
    sa.Column('target_slug', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['entries.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('source_id', 'position')
    )
    with op.batch_alter_table('entry_links', schema=None) as batch_op:
        batch_op.create_index('ix_entry_links_target', ['target_type', 'target_slug', 'source_id'], unique=False)

    op.create_table('entry_facets',
    sa.Column('entry_id', sa.String(length=36), nullable=False),
    sa.Column('field', sa.String(length=60), nullable=False),
    sa.Column('value', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entries.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_id', 'field', 'value')
    )
    with op.batch_alter_table('entry_facets', schema=None) as batch_op:
        batch_op.create_index('ix_entry_facets_value', ['field', 'value', 'entry_id'], unique=False)

    op.create_table('search_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(), nullable=False),
    sa.Column('summary', sa.String(), nullable=False),
    sa.Column('details', sa.String(), nullable=False),
    sa.Column('body', sa.String(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entries.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.create_index('uq_search_documents_entry', ['entry_id'], unique=True)

    if op.get_bind().dialect.name == 'sqlite':
        op.execute(
            f"CREATE VIRTUAL TABLE search_fts USING fts5({FTS_COLUMNS}, "
            "content='search_documents', content_rowid='id', "
            "tokenize='porter unicode61 remove_diacritics 2')"
        )
        new = ", ".join(f"new.{c.strip()}" for c in FTS_COLUMNS.split(","))
        old = ", ".join(f"old.{c.strip()}" for c in FTS_COLUMNS.split(","))
        # The documented way to keep an external-content FTS5 table in step;
        # foreign-key cascades fire these triggers too.
        op.execute(
            "CREATE TRIGGER search_documents_ai AFTER INSERT ON search_documents BEGIN "
            f"INSERT INTO search_fts(rowid, {FTS_COLUMNS}) VALUES (new.id, {new}); END"
        )
        op.execute(
            "CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN "
            f"INSERT INTO search_fts(search_fts, rowid, {FTS_COLUMNS}) "
            f"VALUES ('delete', old.id, {old}); END"
        )
        op.execute(
            "CREATE TRIGGER search_documents_au AFTER UPDATE ON search_documents BEGIN "
            f"INSERT INTO search_fts(search_fts, rowid, {FTS_COLUMNS}) "
            f"VALUES ('delete', old.id, {old}); "
            f"INSERT INTO search_fts(rowid, {FTS_COLUMNS}) VALUES (new.id, {new}); END"
        )
    else:
        op.execute(
            f"ALTER TABLE search_documents ADD COLUMN tsv tsvector "
            f"GENERATED ALWAYS AS ({PG_TSVECTOR}) STORED"
        )
        op.execute("CREATE INDEX ix_search_documents_tsv ON search_documents USING gin (tsv)")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for trigger in ('search_documents_ai', 'search_documents_ad', 'search_documents_au'):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.drop_index('uq_search_documents_entry')

    op.drop_table('search_documents')
    with op.batch_alter_table('entry_facets', schema=None) as batch_op:
        batch_op.drop_index('ix_entry_facets_value')

    op.drop_table('entry_facets')
    with op.batch_alter_table('entry_links', schema=None) as batch_op:
        batch_op.drop_index('ix_entry_links_target')

    op.drop_table('entry_links')
    with op.batch_alter_table('published_entries', schema=None) as batch_op:
        batch_op.drop_column('canonical_url')
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.drop_column('canonical_url')
