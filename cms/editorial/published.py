"""The published version beside the working copy: writing it, and taking it down.

An entry row is the working copy. Publishing copies what the public reads
(documents, relations, tags, links, facet values, search text) into the
``published_*`` tables (see :mod:`cms.storage.tables`); unpublishing
and archiving remove that copy. The public read path only ever reads the
published tables, so a published entry with draft changes keeps serving the
version that was published.

These are steps of the save pipeline (:mod:`cms.editorial.pipeline`): they
run after the working documents are built, in the write's transaction, and
record what readers see change in its outbox.
"""

from __future__ import annotations

from sqlalchemy import insert
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.contenttypes import ContentType
from cms.editorial.documents import copy_to_published
from cms.editorial.entries import refresh_documents
from cms.reading.facets import save_published_facets
from cms.reading.links import save_published_links
from cms.reading.search import index_entry, unindex_entry
from cms.storage.tables import (
    Entry,
    EntryRelation,
    PublishedEntry,
    PublishedFacet,
    PublishedLink,
    PublishedRelation,
    PublishedTag,
)
from cms.syndication import changes


async def write_published(
    session: AsyncSession,
    ctype: ContentType,
    entry: Entry,
    outbox: changes.Outbox,
    *,
    action: str = "publish",
) -> None:
    """Make ``entry``'s working copy (saved as published, relations flushed) the public one.

    Records the change (``action``) for the change feed, per clinic: an upsert
    on the clinics it is on now, a delete on those its previous published
    version was on and it left.
    """
    assert entry.published_at is not None, "a published entry has a publication date"
    entry.published_version = entry.version
    entry.scheduled_at = None
    entry.scheduled_by = None
    refresh_documents(entry)
    existing = await session.get(PublishedEntry, entry.id)
    before = (await changes.entry_clinics(session, [entry], published=True))[entry.id]
    row = existing or PublishedEntry(
        id=entry.id,
        type=entry.type,
        slug=entry.slug,
        title=entry.title,
        published_at=entry.published_at,
        created_at=entry.created_at,
        updated_at=entry.updated_at,
        version=entry.version,
    )
    copy_to_published(row, entry)
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
    # What the public is told links where, and filters on: this version's.
    await save_published_links(session, entry.id, new=True)
    await save_published_facets(session, ctype, entry.id, new=True)
    # Search finds what the public reads: the published version's text.
    await index_entry(session, ctype, entry, body_text(entry))
    await session.flush()
    after = (await changes.entry_clinics(session, [entry], published=True))[entry.id]
    await outbox.add(
        changes.ChangeSpec.of(
            entry,
            kind=changes.UPSERT,
            action=action,
            state=changes.PUBLISHED,
            after=after,
            before=before,
            had_before=existing is not None,
        )
    )


def body_text(entry: Entry) -> str:
    """The plain text of ``entry``'s body, from its stored search text."""
    prefix = f"{entry.title}\n{entry.summary}\n"
    text = entry.search_text or ""
    return text[len(prefix) :] if text.startswith(prefix) else text


async def remove_published(
    session: AsyncSession, entry: Entry, outbox: changes.Outbox, *, action: str
) -> None:
    """Take ``entry``'s published version down, if it has one."""
    await drop_published(session, entry, outbox, action=action)
    entry.published_version = None
    refresh_documents(entry)


async def drop_published(
    session: AsyncSession, entry: Entry, outbox: changes.Outbox, *, action: str
) -> None:
    """Delete the published version of ``entry`` and its search text, if it has one.

    Records a delete (``action``) for every clinic that published version was on.
    """
    row = await session.get(PublishedEntry, entry.id)
    if row is None:
        return
    before = (await changes.entry_clinics(session, [entry], published=True))[entry.id]
    await _delete_published_parts(session, entry.id)
    await session.exec(delete(PublishedEntry).where(col(PublishedEntry.id) == entry.id))
    session.expunge(row)
    await unindex_entry(session, entry.id)
    await outbox.add(
        changes.ChangeSpec.of(
            row,  # what the public saw
            kind=changes.DELETE,
            action=action,
            state=changes.PUBLISHED,
            before=before,
            had_before=True,
        )
    )


async def _delete_published_parts(session: AsyncSession, entry_id: str) -> None:
    await session.exec(
        delete(PublishedRelation).where(col(PublishedRelation.source_id) == entry_id)
    )
    await session.exec(delete(PublishedTag).where(col(PublishedTag.entry_id) == entry_id))
    await session.exec(delete(PublishedLink).where(col(PublishedLink.source_id) == entry_id))
    await session.exec(delete(PublishedFacet).where(col(PublishedFacet.entry_id) == entry_id))


async def follow_status(
    session: AsyncSession, ctype: ContentType, entry: Entry, outbox: changes.Outbox
) -> None:
    """Make the published version follow a status that came from a content file.

    Content files are the source of truth when loaded: ``published`` goes
    live as written, ``scheduled`` goes live at its ``published_at`` (or at
    once), any other status takes the entry off the public API.
    """
    if entry.status == "published":
        await write_published(session, ctype, entry, outbox, action="load")
        return
    await remove_published(session, entry, outbox, action="load")
    if entry.status == "scheduled":
        entry.scheduled_at = entry.published_at or entry.updated_at
        entry.scheduled_by = None
    refresh_documents(entry)
