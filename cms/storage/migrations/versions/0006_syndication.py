"""Syndication: the change feed's outbox, webhooks, mirrors of other instances.

`changes` (with `change_clinics`, what each change is per clinic) is written
in the transaction of every change; `site_state.change_seq` numbers them.
Webhook endpoints, deliveries and their attempts; `webhook_state` is where the
dispatcher stands in the changes. `sync_sources` is where each mirror stands,
and `entries.mirror_source` marks an entry mirrored from another instance
(`entries.mirror_links`: its links as the origin resolves them).

Existing content has no past changes: the feed starts at the upgrade.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import cms.storage.tables

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('changes',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('at', cms.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('entry_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('slug', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('clinics', sa.JSON(), nullable=False),
    sa.Column('left_clinics', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('changes', schema=None) as batch_op:
        batch_op.create_index('ix_changes_state', ['state', 'seq'], unique=False)

    op.create_table('sync_sources',
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('clinic', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', cms.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('source', 'clinic')
    )
    op.create_table('webhook_endpoints',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('url', sa.String(), nullable=False),
    sa.Column('description', sa.String(), nullable=False),
    sa.Column('secret', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('clinics', sa.JSON(), nullable=False),
    sa.Column('created_at', cms.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('start_seq', sa.BigInteger(), nullable=False),
    sa.Column('disabled_at', cms.storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('disabled_reason', sa.String(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    webhook_state = op.create_table('webhook_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.bulk_insert(webhook_state, [{'id': 1, 'seq': 0}])
    op.create_table('change_clinics',
    sa.Column('clinic', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.ForeignKeyConstraint(['seq'], ['changes.seq'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('clinic', 'seq')
    )
    op.create_table('webhook_deliveries',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('endpoint_id', sa.String(length=40), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=True),
    sa.Column('event', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', cms.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', cms.storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_trigger', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('locked_until', cms.storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(), nullable=True),
    sa.Column('delivered_at', cms.storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('endpoint_id', 'seq', 'event', name='uq_webhook_deliveries_message')
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_endpoint', ['endpoint_id', 'created_at'], unique=False)

    op.create_table('webhook_attempts',
    sa.Column('delivery_id', sa.String(length=40), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('at', cms.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('trigger', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['webhook_deliveries.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('delivery_id', 'number')
    )
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mirror_source', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('mirror_links', sa.JSON(), nullable=True))

    with op.batch_alter_table('site_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change_seq', sa.BigInteger(), nullable=False, server_default='0'))



def downgrade() -> None:
    with op.batch_alter_table('site_state', schema=None) as batch_op:
        batch_op.drop_column('change_seq')

    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.drop_column('mirror_links')
        batch_op.drop_column('mirror_source')

    op.drop_table('webhook_attempts')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_deliveries_endpoint')
        batch_op.drop_index('ix_webhook_deliveries_due')

    op.drop_table('webhook_deliveries')
    op.drop_table('change_clinics')
    op.drop_table('webhook_state')
    op.drop_table('webhook_endpoints')
    op.drop_table('sync_sources')
    with op.batch_alter_table('changes', schema=None) as batch_op:
        batch_op.drop_index('ix_changes_state')

    op.drop_table('changes')
