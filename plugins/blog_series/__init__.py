"""Blog series: ordered parts (articles and case stories) and planned parts.

Registers the ``series`` type (``/api/v1/series``, ``content/series/``), adds
``outline`` (the parts in order, published ones and planned ones) to each
series and ``series`` (its navigation: part, total, previous, next) to every
entry that is a part of a published series. Both are computed when a series
or one of its parts is saved, and stored: reads never compute them.

Enabled through the ``cms`` entry point ``blog_series``.
"""

from __future__ import annotations

from collections.abc import Sequence

from cms.plugin import (
    AsyncSession,
    ContentType,
    ResponseField,
    SavedEntry,
    TypeRegistry,
    hookimpl,
)
from plugins.blog_series.navigation import NAVIGATION, OUTLINE, recompute, series_touched
from plugins.blog_series.types import (
    OPTIONAL_PART_TYPES,
    PART_TYPE,
    SERIES,
    OutlinePart,
    SeriesNavigation,
)


@hookimpl
def register_content_types() -> Sequence[ContentType]:
    """The series type."""
    return [SERIES]


@hookimpl
def register_response_fields(types: TypeRegistry) -> Sequence[ResponseField]:
    """``series`` on the types a part may be (those enabled), ``outline`` on series."""
    part_types = tuple(t for t in (PART_TYPE, *OPTIONAL_PART_TYPES) if types.enabled(t))
    return [
        ResponseField(
            name=NAVIGATION,
            types=part_types,
            schema=SeriesNavigation | None,
            description="The published series this entry is a part of, and its neighbours "
            "there; null when it is in none.",
        ),
        ResponseField(
            name=OUTLINE,
            types=(SERIES.name,),
            schema=list[OutlinePart] | None,
            description="The parts in reading order as readers see them: published parts "
            "(linked), then scheduled and planned ones (marked planned).",
        ),
    ]


@hookimpl
async def on_entries_saved(session: AsyncSession, saved: Sequence[SavedEntry]) -> None:
    """Recompute every series the save touched: the series itself, or one of its parts."""
    for series_id in await series_touched(session, saved):
        await recompute(session, series_id)
