"""Each series' outline and its parts' navigation, recomputed when they change.

Both are stored as response fields (``set_extra``), so a read
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

from cms.plugin import (
    AsyncSession,
    EntryRecord,
    FieldError,
    SavedEntry,
    SaveRefused,
    clear_extras,
    entries_by_id,
    relations_from,
    relations_to,
    set_extra,
)
from plugins.blog_series.types import SERIES, OutlinePart, PartRef, SeriesNavigation

NAVIGATION = "series"
OUTLINE = "outline"
PARTS = "parts"


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
    # The series that list a part in their working copy or in their published
    # version (the outline readers see comes from the latter).
    for published in (False, True):
        listing = await relations_to(
            session, others, field=PARTS, source_type=SERIES.name, published=published
        )
        touched.update(r.source_id for r in listing)
    return sorted(touched)


def _part(entry: EntryRecord) -> _Part:
    # A part is published when it has a published version, whatever its
    # working copy's status (an edit pending review leaves the live version
    # up); readers see it under its published slug, title and summary, never
    # its working copy's.
    shown = entry.published or entry.working
    return _Part(
        entry.id, entry.type, shown.slug, shown.title, shown.summary, shown.status,
        entry.working.published_at,
    )  # fmt: skip


async def _parts(session: AsyncSession, series_id: str, *, published: bool) -> list[_Part]:
    """The parts of a series in order: of its published version when ``published``,
    else of its working copy."""
    listed = await relations_from(session, [series_id], field=PARTS, published=published)
    return [_part(r.entry) for r in listed]


async def _check_one_series_per_part(
    session: AsyncSession, series: EntryRecord, parts: Iterable[_Part]
) -> None:
    """A part carries one navigation, so it may belong to one series only."""
    by_id = {p.id: p for p in parts}
    if not by_id:
        return
    listing = await relations_to(session, by_id, field=PARTS, source_type=SERIES.name)
    clashes = sorted(
        (r.entry.working.slug, r.target_id) for r in listing if r.source_id != series.id
    )
    if clashes:
        raise SaveRefused(
            SERIES.name,
            series.working.slug,
            [
                FieldError(
                    PARTS,
                    f"{by_id[target].type}/{by_id[target].slug} is already a part of "
                    f"series {other!r}; an entry belongs to one series at most",
                )
                for other, target in clashes
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
    series = (await entries_by_id(session, [series_id])).get(series_id)
    if series is None:  # deleted in the same transaction
        return
    await _check_one_series_per_part(
        session, series, await _parts(session, series_id, published=False)
    )
    live_series = series.published
    if live_series is None:
        # Not public: its outline is its working copy's, for editors.
        parts = await _parts(session, series_id, published=False)
        planned = series.working.data.get("planned_parts") or []
    else:
        # Public: only published versions, the series' and its parts', so
        # that no draft reaches anonymous readers.
        parts = await _parts(session, series_id, published=True)
        planned = live_series.data.get("planned_parts") or []
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
