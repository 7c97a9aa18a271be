"""The workflow: draft, review, publishing now or at a set time, taking down, deleting.

draft -> in_review -> published -> archived, with scheduled for a publish
time in the future. Each step is a new version with a revision naming its
actor, saved through the save pipeline (:mod:`cms.editorial.pipeline`),
which also writes or removes the published version beside the working copy
(:mod:`cms.editorial.published`) and runs the checks: those that must pass
before an entry goes live (plugins' "validate before publish", link
integrity) for publishing now, scheduling and the scheduler; those that
must pass before it goes down for unpublishing, archiving and deleting.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.contenttypes import ContentType
from cms.editorial import pipeline
from cms.editorial.editing import current_document, lock_entry
from cms.editorial.pipeline import Published, Told, WriteContext
from cms.editorial.validation import EntryInput, parse_entry
from cms.errors import BrokenLinks, Conflict, InvalidEntry
from cms.markdown import Renderer
from cms.plugin_manager import Plugins
from cms.storage.tables import Clock, Entry, EntryRelation, PublishedRelation, utcnow

logger = logging.getLogger("cms.workflow")


async def _with_status(
    session: AsyncSession,
    ctype: ContentType,
    entry: Entry,
    status: str,
    *,
    published_at: dt.datetime | None = None,
) -> EntryInput:
    """``entry``'s current content with ``status`` (and ``published_at``): a step's save."""
    document = await current_document(session, ctype, entry)
    document.pop("id", None)
    document.pop("slug", None)
    document["status"] = status
    if published_at is not None:
        document["published_at"] = published_at.isoformat()
    return parse_entry(ctype, entry.slug, document, entry_id=entry.id)


async def _step(
    session: AsyncSession,
    ctx: WriteContext,
    inp: EntryInput,
    entry: Entry,
    *,
    action: str,
    published: Published = Published.KEEP,
    new_version: bool = False,
    told: Told = Told.PUBLIC,
) -> None:
    """Save a workflow step of ``entry`` (its references unchanged) as one unit of work."""
    await pipeline.save(
        session,
        ctx,
        [
            pipeline.Save(
                inp,
                entry=entry,
                action=action,
                new_version=new_version,
                relations=False,
                published=published,
            )
        ],
        told=told,
    )


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
    inp = await _with_status(session, ctype, entry, "in_review")
    # Hooks hear it was a draft, whether or not a published version is up.
    await _step(session, ctx, inp, entry, action="submit", told=Told.WORKING)


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
        # Never published before: it will have been published at `at`.
        inp = await _with_status(
            session, ctype, entry, "scheduled", published_at=entry.published_at or at
        )
        entry.scheduled_at = at
        entry.scheduled_by = ctx.actor
        # It will go live unattended: the checks run now (the pipeline checks
        # every entry a save leaves scheduled), and again then.
        await _step(
            session,
            ctx,
            inp,
            entry,
            action="schedule",
            new_version=True,  # a new time for an entry already scheduled is a change too
            told=Told.WORKING,
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
    inp = await _with_status(
        session, ctype, entry, "published", published_at=entry.published_at or ctx.now
    )
    # A live entry stays published (Told.PUBLIC): re-publishing it (an edit)
    # is no new publication.
    await _step(session, ctx, inp, entry, action="publish", published=Published.PUBLISH)


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
    inp = await _with_status(session, ctype, entry, status)
    entry.scheduled_at = None
    entry.scheduled_by = None
    # Plugins hear it as a change from published when a published version was
    # up (Told.PUBLIC), whatever the working copy said.
    await _step(
        session,
        ctx,
        inp,
        entry,
        action=action,
        published=Published.WITHDRAW,
        # Unpublishing a draft whose published version is live changes what
        # is published, not the draft.
        new_version=True,
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
    await pipeline.delete(session, ctx, entry)


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


@dataclass(frozen=True)
class Overdue:
    """Scheduled entries whose time has come and which are not published yet."""

    count: int
    oldest: dt.datetime | None
    """When the longest-waiting of them was due; None when there is none."""

    def lag(self, now: dt.datetime) -> float:
        """Seconds the longest-waiting one has waited (0 when none waits)."""
        return max(0.0, (now - self.oldest).total_seconds()) if self.oldest else 0.0


async def overdue(session: AsyncSession, *, now: dt.datetime) -> Overdue:
    """What scheduled publishing has yet to do at ``now``: one indexed query.

    An entry stays here while no scheduler runs, and while one that runs
    cannot publish it (it fails a publish check): its wait grows either way.
    """
    count, oldest = (
        await session.exec(
            select(func.count(), func.min(Entry.scheduled_at)).where(
                Entry.status == "scheduled", col(Entry.scheduled_at) <= now
            )
        )
    ).one()
    return Overdue(count=int(count), oldest=oldest)


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
