"""Internal links between entries: what links where, what is broken, what would break.

Markdown links name entries (``cms:condition/sciatica``). Each save stores an
entry's links as rows of ``entry_links`` by target type and slug, so that
"what links here" is an index lookup and a link to an entry that does not
exist yet is kept (and found again when it is created). Publishing copies
them to ``published_links``
(:func:`cms.editorial.published.write_published`): what the public is told
links where (backlinks, broken links) and what taking an entry down would
break are read there, so that a published entry's pending draft links
nowhere public until it is published.

A link is *broken* when its target does not exist or is not published. The
write paths keep published entries free of broken links unless forced:

- publishing (or saving a published entry) with a broken link is refused:
  :func:`broken_links` of the written entries (a 422 on the editors' API);
- unpublishing, archiving or deleting an entry that published entries link
  to is refused: :func:`dependents_blocking` (a 409 on the editors' API).

``cms content load`` runs both checks on the state after the load and
refuses the load unless ``--force``; the editors' write routes call the same
functions in their transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Literal

from sqlalchemy import and_, exists, insert, or_, tuple_
from sqlalchemy.orm import aliased
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.reading.cursors import pack, unpack
from cms.schemas import Base
from cms.storage.db import select_columns
from cms.storage.tables import Entry, EntryLink, PublishedEntry, PublishedLink
from cms.storage.views import PUBLISHED, WORKING

# IN-lists are split so that no statement exceeds a database's bind-parameter limit.
CHUNK = 500


class LinkedEntry(Base):
    """An entry on one end of a link."""

    id: str
    type: str
    slug: str
    title: str
    canonical_url: str | None = None


class BrokenLink(Base):
    """A link from a published entry to one that is missing or not published."""

    source: LinkedEntry
    target: str
    """The target as the Markdown names it: `type/slug`."""
    reason: Literal["missing", "not_published"]


class Dependent(Base):
    """A published entry that links to an entry about to be unpublished or deleted."""

    target: str
    """The entry it links to, `type/slug`."""
    source: LinkedEntry


def split_link(link: str) -> tuple[str, str]:
    """``condition/sciatica`` -> ``("condition", "sciatica")``."""
    type_name, _, slug = link.partition("/")
    return type_name, slug


async def save_links(
    session: AsyncSession, entry_id: str, links: Sequence[str], *, new: bool = False
) -> None:
    """Replace ``entry_id``'s link rows with ``links`` (``type/slug``, in order).

    Args:
        new: the entry was just created and has no rows to replace.
    """
    if not new:
        await session.exec(delete(EntryLink).where(col(EntryLink.source_id) == entry_id))
    session.add_all(
        EntryLink(source_id=entry_id, position=n, target_type=t, target_slug=s)
        for n, (t, s) in enumerate(split_link(link) for link in links)
    )


async def save_published_links(
    session: AsyncSession,
    entry_id: str,
    links: Sequence[str] | None = None,
    *,
    new: bool = False,
) -> None:
    """Replace the link rows of ``entry_id``'s published version.

    Args:
        links: the published version's links (``type/slug``, in order); None
            for those of the working copy as saved (flushed), which is being
            published.
        new: its rows were just removed, there are none to replace.
    """
    if not new:
        await session.exec(delete(PublishedLink).where(col(PublishedLink.source_id) == entry_id))
    if links is not None:
        session.add_all(
            PublishedLink(source_id=entry_id, position=n, target_type=t, target_slug=s)
            for n, (t, s) in enumerate(split_link(link) for link in links)
        )
        return
    await session.exec(
        insert(PublishedLink).from_select(
            ["source_id", "position", "target_type", "target_slug"],
            select(
                EntryLink.source_id,
                EntryLink.position,
                EntryLink.target_type,
                EntryLink.target_slug,
            ).where(col(EntryLink.source_id) == entry_id),
        )
    )


def _linked(row: tuple[str, str, str, str, str | None]) -> LinkedEntry:
    return LinkedEntry(id=row[0], type=row[1], slug=row[2], title=row[3], canonical_url=row[4])


async def published_id(session: AsyncSession, type_name: str, slug: str) -> str | None:
    """The id of the published entry ``type_name/slug``, or None."""
    found = await session.exec(
        select(PublishedEntry.id).where(
            PublishedEntry.type == type_name, PublishedEntry.slug == slug
        )
    )
    return found.first()


async def backlinks(
    session: AsyncSession,
    type_name: str,
    slug: str,
    *,
    limit: int,
    cursor: str | None = None,
    published_only: bool = True,
) -> tuple[list[LinkedEntry], str | None]:
    """Entries whose body links to ``type_name/slug``, by title, and the next cursor.

    Args:
        published_only: the published versions of the linking entries, by
            the links, slug and title they were published with (what the
            public sees); otherwise every working copy, by its own links.
    """
    tag = f"backlinks:{type_name}/{slug}"
    after = unpack("cursor", cursor, tag, (str, str))
    view = PUBLISHED if published_only else WORKING
    src: Any = view.entry
    link: Any = view.link
    stmt = select_columns(src.id, src.type, src.slug, src.title, src.canonical_url).where(
        exists().where(
            col(link.source_id) == col(src.id),
            col(link.target_type) == type_name,
            col(link.target_slug) == slug,
        )
    )
    if after is not None:
        title, entry_id = after
        stmt = stmt.where(
            or_(col(src.title) > title, and_(col(src.title) == title, col(src.id) > entry_id))
        )
    stmt = stmt.order_by(col(src.title), col(src.id)).limit(limit + 1)
    rows = list((await session.exec(stmt)).all())
    page, more = rows[:limit], len(rows) > limit
    next_cursor = pack(tag, page[-1][3], page[-1][0]) if more else None
    return [_linked(r) for r in page], next_cursor


async def broken_links(
    session: AsyncSession,
    *,
    source_ids: Collection[str] | None = None,
    limit: int | None = None,
    cursor: str | None = None,
    include_unpublished: bool = False,
) -> tuple[list[BrokenLink], str | None]:
    """Links from published entries to entries that are missing or not published.

    Args:
        source_ids: only the links of these entries (a write checks its own);
            None for every published entry.
        limit: a page size, with ``cursor`` for the pages after the first;
            None for all of them.
        include_unpublished: check the working copies of ``source_ids``
            and their links, whether or not they are published (an entry
            about to go live).

    Returns:
        The links by source type, source slug and position, and the next cursor.
    """
    # Published means has a published version (``published_entries``), not
    # the working copy's status: a published entry with a pending draft is
    # still public, and still links, as its published version does (never
    # as its draft does, which is no one's business until it is published).
    view = WORKING if include_unpublished else PUBLISHED
    source: Any = aliased(view.entry, name="source")
    link: Any = view.link
    target = aliased(Entry, name="target")
    live = aliased(PublishedEntry, name="live")
    after = unpack("cursor", cursor, "broken", (str, str, int))
    stmt = (
        select_columns(source.id, source.type, source.slug, source.title, source.canonical_url,
               link.target_type, link.target_slug, link.position, target.status)
        .join(link, col(link.source_id) == col(source.id))
        .outerjoin(target, and_(col(target.type) == col(link.target_type),
                                col(target.slug) == col(link.target_slug)))
        .outerjoin(live, col(live.id) == col(target.id))
        .where(col(live.id).is_(None))
    )  # fmt: skip
    if after is not None:
        a_type, a_slug, a_pos = after
        stmt = stmt.where(
            tuple_(col(source.type), col(source.slug), col(link.position))
            > tuple_(a_type, a_slug, a_pos)
        )
    stmt = stmt.order_by(col(source.type), col(source.slug), col(link.position))
    rows: list[tuple[str, str, str, str, str | None, str, str, int, str | None]] = []
    if source_ids is None:
        if limit is not None:
            stmt = stmt.limit(limit + 1)
        rows = list((await session.exec(stmt)).all())
    else:
        ids = list(source_ids)
        for start in range(0, len(ids), CHUNK):
            chunk = stmt.where(col(source.id).in_(ids[start : start + CHUNK]))
            rows.extend((await session.exec(chunk)).all())
    more = limit is not None and len(rows) > limit
    page = rows[:limit] if limit is not None else rows
    links = [
        BrokenLink(
            source=_linked(r[:5]),
            target=f"{r[5]}/{r[6]}",
            reason="missing" if r[8] is None else "not_published",
        )
        for r in page
    ]
    next_cursor = pack("broken", page[-1][1], page[-1][2], page[-1][7]) if more else None
    return links, next_cursor


async def dependents_blocking(
    session: AsyncSession, targets: Collection[tuple[str, str]]
) -> list[Dependent]:
    """Published entries that link to any of ``targets`` (type, slug), by target.

    By the links of their published versions: those are what would break.
    A pending draft's links are checked when it is published.

    Call it on the state after a write: an entry that is itself being
    unpublished in the same write no longer counts as published.
    """
    wanted = sorted(set(targets))
    out: list[Dependent] = []
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        stmt = (
            select_columns(PublishedLink.target_type, PublishedLink.target_slug,
                   PublishedEntry.id, PublishedEntry.type, PublishedEntry.slug,
                   PublishedEntry.title, PublishedEntry.canonical_url)
            .distinct()
            .join(PublishedEntry, col(PublishedEntry.id) == col(PublishedLink.source_id))
            .where(tuple_(col(PublishedLink.target_type),
                          col(PublishedLink.target_slug)).in_(chunk))
            .order_by(col(PublishedLink.target_type), col(PublishedLink.target_slug),
                      col(PublishedEntry.type), col(PublishedEntry.slug))
        )  # fmt: skip
        for row in (await session.exec(stmt)).all():
            out.append(Dependent(target=f"{row[0]}/{row[1]}", source=_linked(row[2:])))
    return out
