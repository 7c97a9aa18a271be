"""Each series' outline and its parts' navigation, recomputed when they change.

Both are stored as response fields (:mod:`cms.services.extras`), so a read
never computes them: an article in a list costs nothing more than one
outside a series. They are recomputed for every series that a save touches:
the series itself (parts added, removed or reordered, planned parts changed,
published or unpublished) or any of its parts (published, unpublished,
scheduled, retitled).

What readers see comes from published versions only: a published series'
outline follows its published version's parts and planned parts, and each
published part shows its published slug, title and summary, so a draft
change (to the series or to a part) shows once it is published. An
unpublished series' outline (editors alone see it) follows its working copy.
A part that is published is listed and linked; a part that
is scheduled is listed as planned, with its release date; a part in any
other status (a draft, an archived entry) is left out altogether, so a title
that has not been cleared for publication never shows. Planned parts follow
the written ones. ``part`` and ``total`` count what readers see, so
unpublishing a part renumbers the parts after it and relinks its neighbours.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import case, func
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.services.errors import FieldError
from cms.services.extras import clear_extras, set_extra
from cms.services.lifecycle import SavedEntry, SaveRefused
from cms.storage.tables import Entry, EntryRelation, PublishedEntry, PublishedRelation
from plugins.blog_series.types import SERIES, OutlinePart, PartRef, SeriesNavigation

NAVIGATION = "series"
OUTLINE = "outline"
PARTS = "parts"
CHUNK = 1000


@dataclass(frozen=True)
class _Part:
    id: str
    type: str
    slug: str
    title: str
    summary: str
    status: str
    release: Any


async def series_touched(session: AsyncSession, saved: Sequence[SavedEntry]) -> list[str]:
    """Ids of the series whose outline may have changed with ``saved``, in a stable order."""
    touched = {s.id for s in saved if s.type == SERIES.name}
    others = [s.id for s in saved if s.type != SERIES.name]
    source = aliased(Entry, name="source")
    # In chunks: a bulk load may change more entries than a query takes parameters.
    for start in range(0, len(others), CHUNK):
        chunk = others[start : start + CHUNK]
        # The series that list a part in their working copy or in their
        # published version (the outline readers see comes from the latter).
        for relation in (EntryRelation, PublishedRelation):
            result = await session.exec(
                select(relation.source_id)
                .join(source, col(source.id) == col(relation.source_id))
                .where(
                    col(relation.field) == PARTS,
                    col(source.type) == SERIES.name,
                    col(relation.target_id).in_(chunk),
                )
            )
            touched.update(result.all())
    return sorted(touched)


async def _parts(session: AsyncSession, series_id: str, *, published: bool) -> list[_Part]:
    """The parts of a series in order: of its published version when ``published``
    (``published_relations``), else of its working copy (``relations``)."""
    # A part is published when it has a published version, whatever its
    # working copy's status (an edit pending review leaves the live version
    # up); readers see it under its published slug, title and summary, never
    # its working copy's.
    relation: type[EntryRelation] | type[PublishedRelation] = (
        PublishedRelation if published else EntryRelation
    )
    live = col(PublishedEntry.id).is_not(None)
    result = await session.exec(
        # sqlmodel's stubs stop at four columns; select() itself takes any number.
        select(  # type: ignore[call-overload]
            Entry.id,
            Entry.type,
            func.coalesce(PublishedEntry.slug, Entry.slug),
            func.coalesce(PublishedEntry.title, Entry.title),
            Entry.summary,
            PublishedEntry.doc,
            case((live, "published"), else_=col(Entry.status)),
            Entry.published_at,
        )
        .join(relation, col(relation.target_id) == col(Entry.id))
        .outerjoin(PublishedEntry, col(PublishedEntry.id) == col(Entry.id))
        .where(col(relation.source_id) == series_id, col(relation.field) == PARTS)
        .order_by(col(relation.position))
    )
    parts = []
    for id_, type_, slug, title, summary, doc, status, release in result.all():
        if doc:
            summary = msgspec.json.decode(doc).get("summary") or ""
        parts.append(_Part(id_, type_, slug, title, summary, status, release))
    return parts


async def _check_one_series_per_part(
    session: AsyncSession, series: Entry, parts: Iterable[_Part]
) -> None:
    """A part carries one navigation, so it may belong to one series only."""
    by_id = {p.id: p for p in parts}
    if not by_id:
        return
    source = aliased(Entry, name="source")
    result = await session.exec(
        select(EntryRelation.target_id, source.slug)
        .join(source, col(source.id) == col(EntryRelation.source_id))
        .where(
            col(EntryRelation.field) == PARTS,
            col(source.type) == SERIES.name,
            col(source.id) != series.id,
            col(EntryRelation.target_id).in_(list(by_id)),
        )
    )
    clashes = sorted(result.all(), key=lambda row: (row[1], row[0]))
    if clashes:
        raise SaveRefused(
            SERIES.name,
            series.slug,
            [
                FieldError(
                    PARTS,
                    f"{by_id[target].type}/{by_id[target].slug} is already a part of "
                    f"series {other!r}; an entry belongs to one series at most",
                )
                for target, other in clashes
            ],
        )


def outline(parts: Sequence[_Part], planned_parts: Sequence[Any]) -> list[OutlinePart]:
    """The parts readers see, numbered: published and scheduled ones, then planned ones."""
    items: list[OutlinePart] = []
    for part in parts:
        if part.status == "published":
            items.append(
                OutlinePart(part=len(items) + 1, status="published", type=part.type,
                            slug=part.slug, title=part.title, summary=part.summary)
            )  # fmt: skip
        elif part.status == "scheduled":
            release = part.release.date() if part.release is not None else None
            items.append(
                OutlinePart(part=len(items) + 1, status="planned", title=part.title,
                            summary=part.summary, release=release)
            )  # fmt: skip
    for planned in planned_parts:
        items.append(
            OutlinePart(
                part=len(items) + 1,
                status="planned",
                title=planned["title"],
                summary=planned.get("summary", ""),
                release=planned.get("release"),
            )
        )
    return items


async def recompute(session: AsyncSession, series_id: str) -> None:
    """Store the outline of one series and the navigation of each of its published parts."""
    series = await session.get(Entry, series_id)
    if series is None:  # deleted in the same transaction
        return
    await _check_one_series_per_part(
        session, series, await _parts(session, series_id, published=False)
    )
    live_series = await session.get(PublishedEntry, series_id)
    if live_series is None:
        # Not public: its outline is its working copy's, for editors.
        parts = await _parts(session, series_id, published=False)
        planned = series.data.get("planned_parts") or []
    else:
        # Public: only published versions, the series' and its parts', so
        # that no draft reaches anonymous readers.
        parts = await _parts(session, series_id, published=True)
        planned = msgspec.json.decode(live_series.doc).get("planned_parts") or []
    items = outline(parts, planned)
    await set_extra(session, series_id, OUTLINE, msgspec.to_builtins(items), source_id=series_id)
    await clear_extras(session, NAVIGATION, source_id=series_id)
    if live_series is None:
        return  # only a published series gives its parts a navigation
    by_slug = {(p.type, p.slug): p for p in parts}
    published = [i for i in items if i.status == "published"]
    refs = [PartRef(type=str(i.type), slug=str(i.slug), title=i.title) for i in published]
    for n, item in enumerate(published):
        navigation = SeriesNavigation(
            slug=live_series.slug,
            title=live_series.title,
            part=item.part,
            total=len(items),
            previous=refs[n - 1] if n > 0 else None,
            next=refs[n + 1] if n + 1 < len(refs) else None,
        )
        part = by_slug[(str(item.type), str(item.slug))]
        await set_extra(
            session, part.id, NAVIGATION, msgspec.to_builtins(navigation), source_id=series_id
        )
