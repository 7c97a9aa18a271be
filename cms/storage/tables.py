"""The tables. They never leave the services layer: handlers see Structs or bytes.

Common fields are columns; type-specific fields are one JSON document
(validated by the type's Struct before it gets here); relations between
entries are rows of one table indexed both ways; everything derived from the
Markdown body, and the pre-encoded public document, is computed on save.

Full-text search needs objects SQLAlchemy cannot describe: an FTS5 virtual
table with its triggers on SQLite, a generated ``tsvector`` column with a GIN
index on PostgreSQL. Migration 0005 creates them per dialect;
:data:`DIALECT_OBJECTS` names them so that schema comparisons leave them out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every database.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so values are
    stored as naive UTC and given their zone back when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a time zone")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


def utcnow() -> dt.datetime:
    """Now, in UTC, to the microsecond."""
    return dt.datetime.now(dt.UTC)


Clock = Callable[[], dt.datetime]
"""What tells an app the time (aware, UTC): :func:`utcnow`, or a test's own clock.

Every decision an app takes on the time of a request (a token's or preview
link's expiry, the failed-authentication window, whether a publishing time has
come) reads its ``Services.clock``, so that tests can move time on instead of
waiting for it.
"""


class Entry(SQLModel, table=True):
    """One entry of any content type, with everything derived from it."""

    __tablename__ = "entries"
    __table_args__ = (
        Index("uq_entries_type_slug", "type", "slug", unique=True),
        # Keyset pagination of public lists, one index per sort column.
        Index("ix_entries_published_at", "type", "status", "published_at", "id"),
        Index("ix_entries_title", "type", "status", "title", "id"),
        Index("ix_entries_created_at", "type", "status", "created_at", "id"),
        Index("ix_entries_updated_at", "type", "status", "updated_at", "id"),
        # The scheduler's poll: scheduled entries whose time has come.
        Index("ix_entries_scheduled", "status", "scheduled_at"),
    )

    id: str = Field(primary_key=True, max_length=36)
    type: str = Field(max_length=40)
    slug: str = Field(max_length=120)
    title: str = Field(max_length=200)
    summary: str = Field(default="", sa_type=String)
    body: str = Field(default="", sa_type=String)
    status: str = Field(max_length=20)
    origin_clinic: str | None = Field(default=None, max_length=120)
    published_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(sa_type=UTCDateTime)
    version: int = 1
    last_reviewed: dt.date | None = None
    seo: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Tags in their written order; `entry_tags` indexes them for filters.
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Derived on save. `body_html` keeps internal links as `cms:type/slug`; the
    # public document carries them resolved to their targets' URLs.
    body_html: str = Field(default="", sa_type=String)
    toc: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reading_time_minutes: int = 0
    links: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    search_text: str = Field(default="", sa_type=String)
    # Built from the origin clinic's site_url and URL pattern; None when it has neither.
    canonical_url: str | None = Field(default=None, sa_type=String)
    content_hash: str = Field(default="", max_length=64)
    # The public JSON object minus relations (they are joined at read time so a
    # renamed or unpublished target never shows stale): full, and as a list item.
    doc: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    doc_item: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    # Workflow state beside the content: when a scheduled entry goes live and
    # who scheduled it, and which version the public currently sees (None when
    # nothing is live). The public copy itself is a `published_entries` row.
    scheduled_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    scheduled_by: str | None = Field(default=None, max_length=120)
    published_version: int | None = None
    # Set on an entry mirrored from another instance (`cms sync pull`): the
    # origin's base URL. Mirrored entries are read-only here.
    mirror_source: str | None = Field(default=None, sa_type=String)
    # A mirrored entry's internal links as the origin resolves them (`type/slug`
    # -> URL, None for a link the origin shows as text): its body links to the
    # origin's pages whether or not their targets are mirrored here.
    mirror_links: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class EntryRelation(SQLModel, table=True):
    """An ordered reference from one entry's field to another entry."""

    __tablename__ = "relations"
    __table_args__ = (Index("ix_relations_target", "target_id", "field", "source_id"),)

    source_id: str = Field(
        sa_column=Column(String(36), ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True)
    )
    field: str = Field(primary_key=True, max_length=60)
    position: int = Field(primary_key=True)
    target_id: str = Field(
        sa_column=Column(String(36), ForeignKey("entries.id", ondelete="CASCADE"), nullable=False)
    )


class EntryTag(SQLModel, table=True):
    """A tag on an entry, a row each so that tag filters use an index."""

    __tablename__ = "entry_tags"
    __table_args__ = (Index("ix_entry_tags_tag", "tag", "entry_id"),)

    entry_id: str = Field(
        sa_column=Column(String(36), ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True)
    )
    tag: str = Field(primary_key=True, max_length=120)


class Revision(SQLModel, table=True):
    """One saved version of an entry: the full write-side document as it was."""

    __tablename__ = "revisions"

    entry_id: str = Field(
        sa_column=Column(String(36), ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True)
    )
    version: int = Field(primary_key=True)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    actor: str | None = Field(default=None, max_length=120)
    # What the change was: create, update, submit, publish, schedule,
    # unpublish, archive, restore, or save (content files); None before 0002.
    action: str | None = Field(default=None, max_length=20)
    changed_fields: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    snapshot: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class SiteState(SQLModel, table=True):
    """One row: the writers' turn and the numbers of the newest change and purge.

    ``generation`` is incremented by every write transaction before its first
    write, so writers take turns on this row. ``purge_seq`` is what response
    caches follow: the number of the newest :class:`CachePurge`, so a cache in
    any process knows, with one primary-key read, whether anything anonymous
    readers see has changed since (an editor's draft saves purge nothing).
    """

    __tablename__ = "site_state"

    id: int = Field(default=1, primary_key=True)
    generation: int = 0
    # The last sequence number given to a change (see :class:`Change`).
    change_seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    # The last sequence number given to a purge (see :class:`CachePurge`).
    purge_seq: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, default=0, server_default="0")
    )


class CachePurge(SQLModel, table=True):
    """The surrogate keys of the public answers one write altered, numbered.

    Written in the transaction of the write, numbered from ``site_state.purge_seq``
    under the writers' turn, so purges commit in the order of their numbers.
    A key ``*`` purges every answer.
    """

    __tablename__ = "cache_purges"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    keys: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class EntryExtra(SQLModel, table=True):
    """A value a plugin adds to an entry's response (a response field), stored on write.

    ``source_id`` is the entry whose save computed it (a series, for its parts'
    navigation), so the plugin can replace everything it derived from that
    entry at once; deleting either entry deletes the value.
    """

    __tablename__ = "entry_extras"
    __table_args__ = (Index("ix_entry_extras_source", "source_id", "name"),)

    entry_id: str = Field(
        sa_column=Column(String(36), ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True)
    )
    name: str = Field(primary_key=True, max_length=60)
    source_id: str | None = Field(
        default=None,
        sa_column=Column(String(36), ForeignKey("entries.id", ondelete="CASCADE"), nullable=True),
    )
    value: Any = Field(default=None, sa_column=Column(JSON, nullable=True))


class ContentFileState(SQLModel, table=True):
    """What the last ``cms content load`` or ``dump`` of one folder saw of one entry's file.

    The common ancestor of a three-way comparison: a load takes a file only
    when the entry is still at ``version`` (nothing changed it in the
    database since) or the file still says ``file_hash`` (nothing changed in
    the file). No foreign key: the row outlives an entry deleted through the
    API, so that the next load knows the deletion was deliberate.
    """

    __tablename__ = "content_files"

    # The folder as an absolute path: a dump into another folder (a backup)
    # is not what the content folder last saw.
    folder: str = Field(primary_key=True, max_length=1000)
    type: str = Field(primary_key=True, max_length=40)
    slug: str = Field(primary_key=True, max_length=120)
    entry_id: str = Field(max_length=36)
    # The entry's version the load left or the dump wrote.
    version: int
    # :func:`cms.editorial.entries.content_hash` of what the file said then.
    file_hash: str = Field(max_length=64)
    at: dt.datetime = Field(sa_type=UTCDateTime)
    # ``load`` or ``dump``: what saw it last, for the conflict report.
    action: str = Field(max_length=10)


# --- The published versions ---------------------------------------------------
#
# An entry row is the working copy editors change. Publishing copies what the
# public reads (the pre-encoded documents, the sort keys, relations, tags,
# internal links and facet values) into these tables, so that a published
# entry with pending draft changes keeps serving its published version, none
# of its draft shows anywhere public, and public lists, filters and link
# lists stay one indexed query over rows that are all live.


class PublishedEntry(SQLModel, table=True):
    """The published version of an entry: what anonymous readers get."""

    __tablename__ = "published_entries"
    __table_args__ = (
        Index("uq_published_type_slug", "type", "slug", unique=True),
        # Keyset pagination of public lists, one index per sort column.
        Index("ix_published_published_at", "type", "published_at", "id"),
        Index("ix_published_title", "type", "title", "id"),
        Index("ix_published_created_at", "type", "created_at", "id"),
        Index("ix_published_updated_at", "type", "updated_at", "id"),
    )

    id: str = Field(
        sa_column=Column(String(36), ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True)
    )
    type: str = Field(max_length=40)
    slug: str = Field(max_length=120)
    title: str = Field(max_length=200)
    published_at: dt.datetime = Field(sa_type=UTCDateTime)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(sa_type=UTCDateTime)
    version: int
    # Shown by search hits; the document has it too.
    canonical_url: str | None = Field(default=None, sa_type=String)
    doc: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    doc_item: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))


class PublishedRelation(SQLModel, table=True):
    """A relation of a published version, as it was when published."""

    __tablename__ = "published_relations"
    __table_args__ = (Index("ix_published_relations_target", "target_id", "field", "source_id"),)

    source_id: str = Field(
        sa_column=Column(
            String(36), ForeignKey("published_entries.id", ondelete="CASCADE"), primary_key=True
        )
    )
    field: str = Field(primary_key=True, max_length=60)
    position: int = Field(primary_key=True)
    target_id: str = Field(
        sa_column=Column(String(36), ForeignKey("entries.id", ondelete="CASCADE"), nullable=False)
    )


class PublishedTag(SQLModel, table=True):
    """A tag of a published version."""

    __tablename__ = "published_tags"
    __table_args__ = (Index("ix_published_tags_tag", "tag", "entry_id"),)

    entry_id: str = Field(
        sa_column=Column(
            String(36), ForeignKey("published_entries.id", ondelete="CASCADE"), primary_key=True
        )
    )
    tag: str = Field(primary_key=True, max_length=120)


class PublishedLink(SQLModel, table=True):
    """An internal link of a published version (see :class:`EntryLink`), as it was when
    published: the public link lists (backlinks, broken links) read these, never a draft's."""

    __tablename__ = "published_links"
    __table_args__ = (
        Index("ix_published_links_target", "target_type", "target_slug", "source_id"),
    )

    source_id: str = Field(
        sa_column=Column(
            String(36), ForeignKey("published_entries.id", ondelete="CASCADE"), primary_key=True
        )
    )
    position: int = Field(primary_key=True)
    target_type: str = Field(max_length=40)
    target_slug: str = Field(max_length=120)


class PublishedFacet(SQLModel, table=True):
    """A facet value of a published version (see :class:`EntryFacet`): public list filters
    (a practitioner's ``modality``) read these, never a draft's."""

    __tablename__ = "published_facets"
    __table_args__ = (Index("ix_published_facets_value", "field", "value", "entry_id"),)

    entry_id: str = Field(
        sa_column=Column(
            String(36), ForeignKey("published_entries.id", ondelete="CASCADE"), primary_key=True
        )
    )
    field: str = Field(primary_key=True, max_length=60)
    value: str = Field(primary_key=True, max_length=120)


class SlugRedirect(SQLModel, table=True):
    """A slug an entry had before it was renamed; reads of it answer 301."""

    __tablename__ = "slug_redirects"
    __table_args__ = (Index("ix_slug_redirects_entry", "entry_id"),)

    type: str = Field(primary_key=True, max_length=40)
    slug: str = Field(primary_key=True, max_length=120)
    entry_id: str = Field(
        sa_column=Column(String(36), ForeignKey("entries.id", ondelete="CASCADE"), nullable=False)
    )
    created_at: dt.datetime = Field(sa_type=UTCDateTime)


# --- Editors' access --------------------------------------------------------------


class ApiToken(SQLModel, table=True):
    """A bearer token. Only a SHA-256 digest of its secret is stored."""

    __tablename__ = "api_tokens"

    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=120)
    role: str = Field(max_length=20)
    # Clinic slugs the token is limited to; empty means every clinic.
    clinics: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    secret_hash: str = Field(max_length=64)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    created_by: str | None = Field(default=None, max_length=120)
    expires_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class SigningKey(SQLModel, table=True):
    """A server secret made on first use (preview links), shared by every worker."""

    __tablename__ = "signing_keys"

    name: str = Field(primary_key=True, max_length=40)
    secret: str = Field(max_length=128)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)


class EntryLink(SQLModel, table=True):
    """An internal link in an entry's body (``cms:type/slug``), in order.

    Targets are named by type and slug, not id, so that a link to an entry
    that does not exist (yet) is kept, and found again when it is created.
    """

    __tablename__ = "entry_links"
    __table_args__ = (Index("ix_entry_links_target", "target_type", "target_slug", "source_id"),)

    source_id: str = Field(
        sa_column=Column(String(36), ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True)
    )
    position: int = Field(primary_key=True)
    target_type: str = Field(max_length=40)
    target_slug: str = Field(max_length=120)


class EntryFacet(SQLModel, table=True):
    """A value of a field a type filters on (a practitioner's modality), a row each."""

    __tablename__ = "entry_facets"
    __table_args__ = (Index("ix_entry_facets_value", "field", "value", "entry_id"),)

    entry_id: str = Field(
        sa_column=Column(String(36), ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True)
    )
    field: str = Field(primary_key=True, max_length=60)
    value: str = Field(primary_key=True, max_length=120)


class SearchDocument(SQLModel, table=True):
    """The searchable text of an entry, by weight.

    ``id`` is the rowid of the SQLite FTS5 index (an external-content table
    kept in step by triggers); PostgreSQL derives a weighted ``tsvector``
    column from the same text.
    """

    __tablename__ = "search_documents"
    __table_args__ = (Index("uq_search_documents_entry", "entry_id", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(
        sa_column=Column(String(36), ForeignKey("entries.id", ondelete="CASCADE"), nullable=False)
    )
    # The entry's type and status again, before the long text columns: a
    # search filters every match by them, and these rows are narrow to read.
    type: str = Field(max_length=40)
    status: str = Field(max_length=20)
    title: str = Field(default="", sa_type=String)
    summary: str = Field(default="", sa_type=String)
    details: str = Field(default="", sa_type=String)
    body: str = Field(default="", sa_type=String)


# --- Syndication: the change feed (an outbox), webhooks, mirrors ------------------


class Change(SQLModel, table=True):
    """One change, written in the transaction that made it: the outbox.

    ``seq`` comes from ``site_state.change_seq``, incremented in the same
    transaction. The increment locks that row until commit, so changes
    commit in the order of their numbers and the numbers have no gaps: a
    reader that has seen ``n`` has seen everything before it.

    ``state`` says what changed: ``published`` (what anonymous readers see:
    a published version written, refreshed or removed) or ``working`` (an
    editor's working copy). ``kind`` is ``upsert`` or ``delete`` for the site
    as a whole; per clinic, see :class:`ChangeClinic`.
    """

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_state", "state", "seq"),)

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    at: dt.datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(max_length=10)
    action: str = Field(max_length=20)
    state: str = Field(max_length=10)
    # No foreign key: the event outlives a deleted entry.
    entry_id: str = Field(max_length=36)
    type: str = Field(max_length=40)
    slug: str = Field(max_length=120)
    version: int | None = None
    # The clinics the entry is on after the change (empty: it names none, so
    # it belongs to every clinic), and those it left.
    clinics: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    left_clinics: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class ChangeClinic(SQLModel, table=True):
    """What a change is for one clinic: an ``upsert`` there, or a ``delete`` (it left).

    ``clinic`` is ``*`` for an entry that names no clinic (it is every clinic's).
    """

    __tablename__ = "change_clinics"

    clinic: str = Field(primary_key=True, max_length=120)
    seq: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("changes.seq", ondelete="CASCADE"), primary_key=True
        )
    )
    kind: str = Field(max_length=10)


class WebhookEndpoint(SQLModel, table=True):
    """A subscriber: where to send which events, signed with its ``whsec_`` secret.

    The secret is kept as given (it signs every delivery, so it cannot be a digest).
    """

    __tablename__ = "webhook_endpoints"

    id: str = Field(primary_key=True, max_length=40)
    url: str = Field(sa_type=String)
    description: str = Field(default="", sa_type=String)
    secret: str = Field(max_length=120)
    # Event types it wants (empty: all) and clinics it wants (empty: all).
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    clinics: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    created_by: str | None = Field(default=None, max_length=120)
    # The newest change when it was made: it is sent the changes after this one.
    start_seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    disabled_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_reason: str | None = Field(default=None, sa_type=String)


class WebhookDelivery(SQLModel, table=True):
    """One message for one endpoint, from one change, and where its delivery stands."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "seq", "event", name="uq_webhook_deliveries_message"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    endpoint_id: str = Field(
        sa_column=Column(
            String(40), ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False
        )
    )
    seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    event: str = Field(max_length=60)
    payload: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    status: str = Field(max_length=20)
    attempts: int = 0
    next_attempt_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # What the next attempt is, for the log: ``auto`` (due by the schedule) or ``manual``.
    next_trigger: str = Field(default="auto", max_length=20)
    # A sender holds a delivery until then, so that two never send one attempt.
    locked_until: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_type=String)
    delivered_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookAttempt(SQLModel, table=True):
    """One try at sending a delivery, as the log shows it."""

    __tablename__ = "webhook_attempts"

    delivery_id: str = Field(
        sa_column=Column(
            String(40), ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), primary_key=True
        )
    )
    number: int = Field(primary_key=True)
    at: dt.datetime = Field(sa_type=UTCDateTime)
    status_code: int | None = None
    error: str | None = Field(default=None, sa_type=String)
    duration_ms: int = 0
    trigger: str = Field(default="auto", max_length=20)


class WebhookState(SQLModel, table=True):
    """One row: the last change the dispatcher turned into deliveries."""

    __tablename__ = "webhook_state"

    id: int = Field(default=1, primary_key=True)
    seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))


class SyncSource(SQLModel, table=True):
    """Where a mirror of one clinic of another instance stands: the last change applied."""

    __tablename__ = "sync_sources"

    source: str = Field(primary_key=True, max_length=500)
    clinic: str = Field(primary_key=True, max_length=120)
    seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    updated_at: dt.datetime = Field(sa_type=UTCDateTime)


# Created by migration 0005 for one dialect, outside the metadata.
SEARCH_FTS = "search_fts"
SEARCH_TSV = "tsv"
DIALECT_TABLES: frozenset[str] = frozenset(
    # SQLite: the FTS5 table and the shadow tables FTS5 keeps beside it.
    {SEARCH_FTS, *(f"{SEARCH_FTS}_{part}" for part in ("data", "idx", "docsize", "config"))}
)
# PostgreSQL: the generated tsvector column and its GIN index.
DIALECT_COLUMNS: frozenset[tuple[str, str]] = frozenset({("search_documents", SEARCH_TSV)})
DIALECT_INDEXES: frozenset[str] = frozenset({"ix_search_documents_tsv"})


def include_name(name: str | None, type_: str, parent_names: Mapping[Any, str | None]) -> bool:
    """Alembic's ``include_name``: leave the search objects of one dialect out of comparisons.

    They are not in the metadata by design, so a comparison would always
    report them as extra; everything else is compared.
    """
    if type_ == "table":
        return name not in DIALECT_TABLES
    if type_ == "column":
        return (parent_names.get("table_name"), name) not in DIALECT_COLUMNS
    if type_ == "index":
        return name not in DIALECT_INDEXES
    return True
