"""Editing: published versions apart from working copies, tokens, slug redirects, schedules.

Revisions record their action (`update`, `publish`, ...). Every entry that
was `published` gets its published version: a copy of its public documents,
relations and tags. Its working document gains the editor fields
`scheduled_at` and `published_version`, as `save_entry` writes them.

Downgrading keeps the working copies: an entry with unpublished draft changes
then serves the draft, since 0001 has no separate published version.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EDITOR_FIELDS = ("scheduled_at", "published_version")


def _with_editor_fields(raw: bytes, published_version: int | None) -> bytes:
    doc = json.loads(raw)
    out = {}
    for key, value in doc.items():
        if key in EDITOR_FIELDS:
            continue
        out[key] = value
        if key == "version":
            out["scheduled_at"] = None
            out["published_version"] = published_version
    return json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode()


def _without_editor_fields(raw: bytes) -> bytes:
    doc = {k: v for k, v in json.loads(raw).items() if k not in EDITOR_FIELDS}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def upgrade() -> None:
    op.create_table('api_tokens',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('clinics', sa.JSON(), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('signing_keys',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('secret', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('published_entries',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('slug', sa.String(length=120), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('doc', sa.LargeBinary(), nullable=False),
    sa.Column('doc_item', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['id'], ['entries.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('published_entries', schema=None) as batch_op:
        batch_op.create_index('ix_published_created_at', ['type', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_published_published_at', ['type', 'published_at', 'id'], unique=False)
        batch_op.create_index('ix_published_title', ['type', 'title', 'id'], unique=False)
        batch_op.create_index('ix_published_updated_at', ['type', 'updated_at', 'id'], unique=False)
        batch_op.create_index('uq_published_type_slug', ['type', 'slug'], unique=True)

    op.create_table('slug_redirects',
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('slug', sa.String(length=120), nullable=False),
    sa.Column('entry_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entries.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('type', 'slug')
    )
    with op.batch_alter_table('slug_redirects', schema=None) as batch_op:
        batch_op.create_index('ix_slug_redirects_entry', ['entry_id'], unique=False)

    op.create_table('published_relations',
    sa.Column('source_id', sa.String(length=36), nullable=False),
    sa.Column('field', sa.String(length=60), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['published_entries.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_id'], ['entries.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('source_id', 'field', 'position')
    )
    with op.batch_alter_table('published_relations', schema=None) as batch_op:
        batch_op.create_index('ix_published_relations_target', ['target_id', 'field', 'source_id'], unique=False)

    op.create_table('published_tags',
    sa.Column('entry_id', sa.String(length=36), nullable=False),
    sa.Column('tag', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['published_entries.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_id', 'tag')
    )
    with op.batch_alter_table('published_tags', schema=None) as batch_op:
        batch_op.create_index('ix_published_tags_tag', ['tag', 'entry_id'], unique=False)

    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('scheduled_by', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('published_version', sa.Integer(), nullable=True))
        batch_op.create_index('ix_entries_scheduled', ['status', 'scheduled_at'], unique=False)

    with op.batch_alter_table('revisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('action', sa.String(length=20), nullable=True))

    # Published entries: their current documents become the published version.
    op.execute(
        "INSERT INTO published_entries (id, type, slug, title, published_at, created_at,"
        " updated_at, version, doc, doc_item)"
        " SELECT id, type, slug, title, COALESCE(published_at, created_at), created_at,"
        " updated_at, version, doc, doc_item FROM entries WHERE status = 'published'"
    )
    op.execute(
        "INSERT INTO published_relations (source_id, field, position, target_id)"
        " SELECT r.source_id, r.field, r.position, r.target_id FROM relations r"
        " JOIN published_entries p ON p.id = r.source_id"
    )
    op.execute(
        "INSERT INTO published_tags (entry_id, tag)"
        " SELECT t.entry_id, t.tag FROM entry_tags t JOIN published_entries p ON p.id = t.entry_id"
    )
    op.execute("UPDATE entries SET published_version = version WHERE status = 'published'")
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT id, doc, doc_item, published_version FROM entries")
    ).all()
    for entry_id, doc, doc_item, published_version in rows:
        connection.execute(
            sa.text("UPDATE entries SET doc = :doc, doc_item = :item WHERE id = :id"),
            {
                "id": entry_id,
                "doc": _with_editor_fields(doc, published_version),
                "item": _with_editor_fields(doc_item, published_version),
            },
        )


def downgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, doc, doc_item FROM entries")).all()
    for entry_id, doc, doc_item in rows:
        connection.execute(
            sa.text("UPDATE entries SET doc = :doc, doc_item = :item WHERE id = :id"),
            {"id": entry_id, "doc": _without_editor_fields(doc),
             "item": _without_editor_fields(doc_item)},
        )

    with op.batch_alter_table('revisions', schema=None) as batch_op:
        batch_op.drop_column('action')

    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.drop_index('ix_entries_scheduled')
        batch_op.drop_column('published_version')
        batch_op.drop_column('scheduled_by')
        batch_op.drop_column('scheduled_at')

    with op.batch_alter_table('published_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_published_tags_tag')

    op.drop_table('published_tags')
    with op.batch_alter_table('published_relations', schema=None) as batch_op:
        batch_op.drop_index('ix_published_relations_target')

    op.drop_table('published_relations')
    with op.batch_alter_table('slug_redirects', schema=None) as batch_op:
        batch_op.drop_index('ix_slug_redirects_entry')

    op.drop_table('slug_redirects')
    with op.batch_alter_table('published_entries', schema=None) as batch_op:
        batch_op.drop_index('uq_published_type_slug')
        batch_op.drop_index('ix_published_updated_at')
        batch_op.drop_index('ix_published_title')
        batch_op.drop_index('ix_published_published_at')
        batch_op.drop_index('ix_published_created_at')

    op.drop_table('published_entries')
    op.drop_table('signing_keys')
    op.drop_table('api_tokens')
