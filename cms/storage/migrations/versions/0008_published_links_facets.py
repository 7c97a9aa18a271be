"""The links and facet values of published versions, apart from the working copies'.

`published_links` and `published_facets` hold what `entry_links` and
`entry_facets` hold, for the version the public reads: backlinks, broken
links, the 409 on taking a linked entry down and the public list filters
(`modality`, ...) read them, so a pending draft's links and values show
nowhere public until it is published.

Every published version gets its rows from its published document: its
`links` in order, and its values of the fields its type filters on (the
fields `entry_facets` holds for that type). `cms content rebuild` derives
both again from the registered types.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def upgrade() -> None:
    links = op.create_table('published_links',
    sa.Column('source_id', sa.String(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('target_type', sa.String(length=40), nullable=False),
    sa.Column('target_slug', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['published_entries.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('source_id', 'position')
    )
    with op.batch_alter_table('published_links', schema=None) as batch_op:
        batch_op.create_index('ix_published_links_target', ['target_type', 'target_slug', 'source_id'], unique=False)

    facets = op.create_table('published_facets',
    sa.Column('entry_id', sa.String(length=36), nullable=False),
    sa.Column('field', sa.String(length=60), nullable=False),
    sa.Column('value', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['published_entries.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_id', 'field', 'value')
    )
    with op.batch_alter_table('published_facets', schema=None) as batch_op:
        batch_op.create_index('ix_published_facets_value', ['field', 'value', 'entry_id'], unique=False)

    assert links is not None and facets is not None
    _backfill(links, facets)


def _backfill(links: sa.Table, facets: sa.Table) -> None:
    """Give every published version its link and facet rows, from its published document."""
    connection = op.get_bind()
    fields: dict[str, set[str]] = defaultdict(set)
    for type_name, field in connection.execute(
        sa.text(
            "SELECT DISTINCT e.type, f.field FROM entry_facets f JOIN entries e ON e.id = f.entry_id"
        )
    ):
        fields[type_name].add(field)
    link_rows: list[dict[str, Any]] = []
    facet_rows: list[dict[str, Any]] = []
    for entry_id, type_name, raw in _published(connection):
        doc = json.loads(bytes(raw)) if raw else {}
        for position, link in enumerate(doc.get("links") or []):
            target_type, _, target_slug = str(link).partition("/")
            link_rows.append({"source_id": entry_id, "position": position,
                              "target_type": target_type, "target_slug": target_slug})
        for field in sorted(fields.get(type_name, ())):
            value = doc.get(field)
            values = value if isinstance(value, list) else [value]
            facet_rows.extend(
                {"entry_id": entry_id, "field": field, "value": v}
                for v in sorted({v for v in values if isinstance(v, str)})
            )
        if len(link_rows) >= BATCH or len(facet_rows) >= BATCH:
            _flush(links, link_rows)
            _flush(facets, facet_rows)
    _flush(links, link_rows)
    _flush(facets, facet_rows)


def _published(connection: sa.Connection) -> Iterator[tuple[str, str, Any]]:
    """Every published version's id, type and document, a batch of rows at a time."""
    after = ""
    while True:
        rows = connection.execute(
            sa.text(
                "SELECT id, type, doc FROM published_entries WHERE id > :after"
                " ORDER BY id LIMIT :limit"
            ),
            {"after": after, "limit": BATCH},
        ).all()
        if not rows:
            return
        for row in rows:
            yield row[0], row[1], row[2]
        after = rows[-1][0]


def _flush(table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        op.bulk_insert(table, rows)
        rows.clear()


def downgrade() -> None:
    with op.batch_alter_table('published_facets', schema=None) as batch_op:
        batch_op.drop_index('ix_published_facets_value')

    op.drop_table('published_facets')
    with op.batch_alter_table('published_links', schema=None) as batch_op:
        batch_op.drop_index('ix_published_links_target')

    op.drop_table('published_links')
