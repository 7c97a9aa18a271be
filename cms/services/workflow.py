"""Publishing: the published version beside the working copy, and the workflow.

An entry row is the working copy. Publishing copies what the public reads
into the ``published_*`` tables (see :mod:`cms.storage.tables`); unpublishing
and archiving remove that copy. The public read path only ever reads the
published tables, so a published entry with draft changes keeps serving the
version that was published.
"""

from __future__ import annotations

from sqlalchemy import insert
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.contenttypes import ContentType
from cms.services.entries import public_documents, refresh_documents
from cms.storage.tables import (
    Entry,
    EntryRelation,
    PublishedEntry,
    PublishedRelation,
    PublishedTag,
)


async def write_published(
    session: AsyncSession, ctype: ContentType, entry: Entry, origin: str | None
) -> None:
    """Make ``entry``'s working copy (saved as published, relations flushed) the public one."""
    assert entry.published_at is not None, "a published entry has a publication date"
    entry.published_version = entry.version
    entry.scheduled_at = None
    entry.scheduled_by = None
    refresh_documents(entry, ctype, origin)
    doc, item = public_documents(entry, ctype, origin)
    row = await session.get(PublishedEntry, entry.id)
    if row is None:
        row = PublishedEntry(
            id=entry.id,
            type=entry.type,
            slug=entry.slug,
            title=entry.title,
            published_at=entry.published_at,
            created_at=entry.created_at,
            updated_at=entry.updated_at,
            version=entry.version,
        )
    row.slug = entry.slug
    row.title = entry.title
    row.published_at = entry.published_at
    row.updated_at = entry.updated_at
    row.version = entry.version
    row.doc, row.doc_item = doc, item
    session.add(row)
    await session.flush()
    await _delete_published_parts(session, entry.id)
    await session.exec(
        insert(PublishedRelation).from_select(
            ["source_id", "field", "position", "target_id"],
            select(
                EntryRelation.source_id,
                EntryRelation.field,
                EntryRelation.position,
                EntryRelation.target_id,
            ).where(col(EntryRelation.source_id) == entry.id),
        )
    )
    session.add_all(PublishedTag(entry_id=entry.id, tag=tag) for tag in entry.tags)
    await session.flush()


async def remove_published(
    session: AsyncSession, ctype: ContentType, entry: Entry, origin: str | None
) -> None:
    """Take ``entry``'s published version down, if it has one."""
    await _delete_published_parts(session, entry.id)
    await session.exec(delete(PublishedEntry).where(col(PublishedEntry.id) == entry.id))
    entry.published_version = None
    refresh_documents(entry, ctype, origin)


async def _delete_published_parts(session: AsyncSession, entry_id: str) -> None:
    await session.exec(
        delete(PublishedRelation).where(col(PublishedRelation.source_id) == entry_id)
    )
    await session.exec(delete(PublishedTag).where(col(PublishedTag.entry_id) == entry_id))


async def sync_published(
    session: AsyncSession, ctype: ContentType, entry: Entry, origin: str | None
) -> None:
    """Make the published version follow a status that came from a content file.

    Content files are the source of truth when loaded: ``published`` goes
    live as written, ``scheduled`` goes live at its ``published_at`` (or at
    once), any other status takes the entry off the public API.
    """
    if entry.status == "published":
        await write_published(session, ctype, entry, origin)
        return
    await remove_published(session, ctype, entry, origin)
    if entry.status == "scheduled":
        entry.scheduled_at = entry.published_at or entry.updated_at
        entry.scheduled_by = None
    refresh_documents(entry, ctype, origin)
