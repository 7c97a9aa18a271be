"""Publishing: the published version beside the working copy, and the workflow.

An entry row is the working copy. Publishing copies what the public reads
into the ``published_*`` tables (see :mod:`cms.storage.tables`); unpublishing
and archiving remove that copy. The public read path only ever reads the
published tables, so a published entry with draft changes keeps serving the
version that was published.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.contenttypes import ContentType
from cms.markdown import Renderer
from cms.plugins import Plugins
from cms.services import changes, generation
from cms.services.documents import (
    copy_to_published,
    dependents,
    faces,
    finish_writes,
    rebuild_documents,
)
from cms.services.documents import refresh_dependents as _refresh_dependents
from cms.services.editing import WriteContext, current_document, lock_entry
from cms.services.entries import refresh_documents, save_entry
from cms.services.errors import BrokenLinks, Conflict, InvalidEntry, LinkedFromPublished
from cms.services.lifecycle import SavedEntry, check_publish, entries_saved
from cms.services.links import broken_links, dependents_blocking
from cms.services.search import index_entry, unindex_entry
from cms.services.validation import EntryInput, parse_entry
from cms.storage.tables import (
    Clock,
    Entry,
    EntryRelation,
    PublishedEntry,
    PublishedRelation,
    PublishedTag,
    utcnow,
)

logger = logging.getLogger("cms.workflow")


async def write_published(
    session: AsyncSession, ctype: ContentType, entry: Entry, *, action: str = "publish"
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
    # Search finds what the public reads: the published version's text.
    await index_entry(session, ctype, entry, body_text(entry))
    await session.flush()
    after = (await changes.entry_clinics(session, [entry], published=True))[entry.id]
    await changes.record(
        session,
        [
            changes.ChangeSpec.of(
                entry,
                kind=changes.UPSERT,
                action=action,
                state=changes.PUBLISHED,
                after=after,
                before=before,
                had_before=existing is not None,
            )
        ],
    )


def body_text(entry: Entry) -> str:
    """The plain text of ``entry``'s body, from its stored search text."""
    prefix = f"{entry.title}\n{entry.summary}\n"
    text = entry.search_text or ""
    return text[len(prefix) :] if text.startswith(prefix) else text


async def remove_published(
    session: AsyncSession, ctype: ContentType, entry: Entry, *, action: str
) -> None:
    """Take ``entry``'s published version down, if it has one."""
    await _drop_published(session, entry, action=action)
    entry.published_version = None
    refresh_documents(entry)


async def _drop_published(session: AsyncSession, entry: Entry, *, action: str) -> None:
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
    await changes.record(
        session,
        [
            changes.ChangeSpec.of(
                row,  # what the public saw
                kind=changes.DELETE,
                action=action,
                state=changes.PUBLISHED,
                before=before,
                had_before=True,
            )
        ],
    )


async def _delete_published_parts(session: AsyncSession, entry_id: str) -> None:
    await session.exec(
        delete(PublishedRelation).where(col(PublishedRelation.source_id) == entry_id)
    )
    await session.exec(delete(PublishedTag).where(col(PublishedTag.entry_id) == entry_id))


async def sync_published(session: AsyncSession, ctype: ContentType, entry: Entry) -> None:
    """Make the published version follow a status that came from a content file.

    Content files are the source of truth when loaded: ``published`` goes
    live as written, ``scheduled`` goes live at its ``published_at`` (or at
    once), any other status takes the entry off the public API.
    """
    if entry.status == "published":
        await write_published(session, ctype, entry, action="load")
        return
    await remove_published(session, ctype, entry, action="load")
    if entry.status == "scheduled":
        entry.scheduled_at = entry.published_at or entry.updated_at
        entry.scheduled_by = None
    refresh_documents(entry)


# --- The workflow -------------------------------------------------------------
#
# draft -> in_review -> published -> archived, with scheduled for a publish time
# in the future. Each step is a new version with a revision naming its actor.
# Checks that must pass before an entry goes live (plugins' "validate before
# publish", link integrity) belong in go_live(), which publishing now and the
# scheduler both go through; checks that must pass before it goes down belong
# in take_down(), which unpublishing, archiving and deleting go through.


async def _save_status(
    session: AsyncSession,
    ctx: WriteContext,
    ctype: ContentType,
    entry: Entry,
    status: str,
    *,
    action: str,
    published_at: dt.datetime | None = None,
    force: bool = False,
) -> EntryInput:
    """Save ``entry`` with ``status`` as a new version, then build its documents."""
    before = await faces(session, [entry.id])
    document = await current_document(session, ctype, entry)
    document.pop("id", None)
    document.pop("slug", None)
    document["status"] = status
    if published_at is not None:
        document["published_at"] = published_at.isoformat()
    inp = parse_entry(ctype, entry.slug, document, entry_id=entry.id)
    await save_entry(
        session, ctx.renderer, inp, actor=ctx.actor, now=ctx.now, action=action, force=force
    )
    await finish_writes(session, ctx.types, {entry.id: before.get(entry.id)})
    return inp


async def check_links_live(session: AsyncSession, entry: Entry) -> None:
    """Refuse (422) an entry going live whose body links to missing or unpublished entries.

    Call it before the published version is written: it checks ``entry``'s
    links against the published versions of the others.
    """
    broken, _ = await broken_links(session, source_ids=[entry.id], include_unpublished=True)
    if broken:
        raise BrokenLinks(broken)


async def check_not_linked(session: AsyncSession, entry: Entry) -> None:
    """Refuse (409) taking ``entry`` down while published entries link to it.

    Call it on the state after the published version is removed.
    """
    blocking = [
        d
        for d in await dependents_blocking(session, [(entry.type, entry.slug)])
        if d.source.id != entry.id
    ]
    if blocking:
        raise LinkedFromPublished(f"{entry.type}/{entry.slug}", blocking)


async def submit(
    session: AsyncSession, ctx: WriteContext, ctype: ContentType, entry: Entry
) -> None:
    """Submit a draft for review.

    Raises:
        Conflict: the entry is not a draft.
    """
    if entry.status != "draft":
        raise Conflict(
            f"only drafts can be submitted for review; this {ctype.name} is {entry.status}"
        )
    was_live = entry.published_version is not None
    await _save_status(session, ctx, ctype, entry, "in_review", action="submit")
    await entries_saved(ctx.plugins, session, [SavedEntry.of(entry, "draft", was_live=was_live)])


async def publish(
    session: AsyncSession,
    ctx: WriteContext,
    ctype: ContentType,
    entry: Entry,
    *,
    at: dt.datetime | None = None,
) -> None:
    """Publish the working copy now, or schedule it for ``at`` when that is in the future.

    A published entry keeps serving its published version until a scheduled
    one goes live.

    Raises:
        Conflict: the working copy is already what is published.
    """
    if entry.status == "published":
        raise Conflict(f"this {ctype.name} is published as it is; change it first")
    if at is not None and at > ctx.now:
        previous_status = entry.status
        was_live = entry.published_version is not None
        entry.scheduled_at = at
        entry.scheduled_by = ctx.actor
        inp = await _save_status(
            session,
            ctx,
            ctype,
            entry,
            "scheduled",
            action="schedule",
            # Never published before: it will have been published at `at`.
            published_at=entry.published_at or at,
            force=True,  # a new time for an entry already scheduled is a change too
        )
        # It will go live unattended: the checks run now, and again then.
        await check_publish(ctx.plugins, session, inp)
        if not ctx.force:
            await check_links_live(session, entry)
        await entries_saved(
            ctx.plugins, session, [SavedEntry.of(entry, previous_status, was_live=was_live)]
        )
        return
    await go_live(session, ctx, ctype, entry)


async def go_live(
    session: AsyncSession, ctx: WriteContext, ctype: ContentType, entry: Entry
) -> None:
    """Make the working copy the published version (now, or at its scheduled time).

    Raises:
        PublishRefused: a plugin gave reasons not to; nothing is written.
    """
    # A live entry stays published: re-publishing it (an edit) is no new publication.
    was_live = entry.published_version is not None
    previous_status = "published" if was_live else entry.status
    before = await faces(session, [entry.id])
    inp = await _save_status(
        session,
        ctx,
        ctype,
        entry,
        "published",
        action="publish",
        published_at=entry.published_at or ctx.now,
    )
    await check_publish(ctx.plugins, session, inp)
    if not ctx.force:
        await check_links_live(session, entry)
    await write_published(session, ctype, entry)
    # Other documents show the published version's name and URL: rebuild them
    # if this one changed those.
    await _refresh_dependents(session, ctx.types, before)
    await entries_saved(
        ctx.plugins, session, [SavedEntry.of(entry, previous_status, was_live=was_live)]
    )


async def unpublish(
    session: AsyncSession, ctx: WriteContext, ctype: ContentType, entry: Entry
) -> None:
    """Take the published version down (and cancel a schedule); the entry becomes a draft.

    Raises:
        Conflict: nothing is published or scheduled.
    """
    if entry.published_version is None and entry.status != "scheduled":
        raise Conflict(f"this {ctype.name} is neither published nor scheduled")
    await take_down(session, ctx, ctype, entry, "draft", action="unpublish")


async def archive(
    session: AsyncSession, ctx: WriteContext, ctype: ContentType, entry: Entry
) -> None:
    """Retire an entry: off the public API, kept with its history; publishing revives it.

    Raises:
        Conflict: it is archived already.
    """
    if entry.status == "archived":
        raise Conflict(f"this {ctype.name} is archived already")
    await take_down(session, ctx, ctype, entry, "archived", action="archive")


async def take_down(
    session: AsyncSession,
    ctx: WriteContext,
    ctype: ContentType,
    entry: Entry,
    status: str,
    *,
    action: str,
) -> None:
    """Remove the published version, cancel any schedule, and set ``status``."""
    # Plugins hear it as a change from published when a published version was
    # up, whatever the working copy said.
    was_live = entry.published_version is not None
    previous_status = "published" if was_live else entry.status
    entry.scheduled_at = None
    entry.scheduled_by = None
    # The published version goes first, so that the documents built after the
    # save (this entry's and those that link to it) no longer count it as public.
    await remove_published(session, ctype, entry, action=action)
    if not ctx.force:
        await check_not_linked(session, entry)
    # Forced: unpublishing a draft whose published version is live changes
    # what is published, not the draft.
    await _save_status(session, ctx, ctype, entry, status, action=action, force=True)
    await entries_saved(
        ctx.plugins, session, [SavedEntry.of(entry, previous_status, was_live=was_live)]
    )


async def delete_entry(session: AsyncSession, ctx: WriteContext, entry: Entry) -> None:
    """Delete an entry with its history, published version and redirects.

    Refused while another entry refers to it, in its working copy or its
    published version: deleting it would change that entry (its relation
    rows would go with it) with no new version or revision, and could leave
    it invalid. Those references must go first; archiving an entry is the way
    to retire it and keep everything.

    Raises:
        Conflict: naming each entry that refers to it (type/slug).
    """
    referrers: set[tuple[str, str]] = set()
    for relation in (EntryRelation, PublishedRelation):
        result = await session.exec(
            select(Entry.type, Entry.slug)
            .join(relation, col(relation.source_id) == col(Entry.id))
            .where(col(relation.target_id) == entry.id, col(Entry.id) != entry.id)
        )
        referrers.update(result.all())
    if referrers:
        names = ", ".join(f"{type_name}/{slug}" for type_name, slug in sorted(referrers))
        raise Conflict(
            f"{entry.type}/{entry.slug} cannot be deleted while other entries refer to it: "
            f"{names}. Remove those references first, or archive it instead."
        )
    face = (await faces(session, [entry.id])).get(entry.id)
    clinics = (await changes.entry_clinics(session, [entry], published=False))[entry.id]
    await _drop_published(session, entry, action="delete")
    if not ctx.force:
        await check_not_linked(session, entry)
    # Documents that link to it in their text are built again without the link
    # (no entry refers to it through a relation: that was refused above).
    affected = await dependents(session, ctx.types, [entry.id], [face] if face else [])
    affected.discard(entry.id)
    await session.exec(delete(Entry).where(col(Entry.id) == entry.id))
    session.expunge(entry)
    await generation.bump(session)
    await changes.record(
        session,
        [
            changes.ChangeSpec.of(
                entry,
                kind=changes.DELETE,
                action="delete",
                state=changes.WORKING,
                before=clinics,
                had_before=True,
            )
        ],
    )
    await rebuild_documents(session, ctx.types, affected)


# --- Scheduled publishing -------------------------------------------------------


async def publish_due(
    sessions: async_sessionmaker[AsyncSession],
    plugins: Plugins,
    renderer: Renderer,
    *,
    now: dt.datetime | None = None,
    batch: int = 50,
) -> int:
    """Publish the scheduled entries whose time has come, each in its own transaction.

    Safe to run in several workers at once: each entry is locked and checked
    again before it goes live. The revision names the token that scheduled it.

    Returns:
        How many went live.
    """
    now = now or utcnow()
    async with sessions() as session:
        due = (
            await session.exec(
                select(Entry.id, Entry.type)
                .where(Entry.status == "scheduled", col(Entry.scheduled_at) <= now)
                .order_by(col(Entry.scheduled_at))
                .limit(batch)
            )
        ).all()
    published = 0
    for entry_id, type_name in due:
        ctype = plugins.types.get(type_name)
        if ctype is None:  # its plugin is not enabled here
            continue
        async with sessions() as session:
            entry = await lock_entry(session, type_name, entry_id=entry_id)
            if (
                entry is None
                or entry.status != "scheduled"
                or entry.scheduled_at is None
                or entry.scheduled_at > now
            ):
                continue
            ctx = WriteContext(
                types=plugins.types,
                renderer=renderer,
                actor=entry.scheduled_by or "scheduler",
                now=now,
                plugins=plugins.manager,
            )
            try:
                await go_live(session, ctx, ctype, entry)
            except (InvalidEntry, Conflict, BrokenLinks) as exc:
                logger.warning("scheduled %s %s could not go live: %s", type_name, entry_id, exc)
                continue
            await session.commit()
            published += 1
    return published


async def run_scheduler(
    sessions: async_sessionmaker[AsyncSession],
    plugins: Plugins,
    renderer: Renderer,
    *,
    interval: float,
    clock: Clock = utcnow,
) -> None:
    """Publish due entries every ``interval`` seconds, until cancelled.

    The schedule lives in the database, so entries due while no server ran go
    live on the first look after a start.

    Args:
        clock: what tells whether an entry's time has come.
    """
    while True:
        try:
            await publish_due(sessions, plugins, renderer, now=clock())
        except Exception:
            logger.warning("scheduled publishing failed; trying again", exc_info=True)
        await asyncio.sleep(interval)
