"""Values of the fields that types filter on, indexed when an entry is saved.

A type's own list filter on a field that is not a relation (a practitioner's
``modality``) would otherwise have to look inside the JSON of every entry;
one row per value in ``entry_facets`` makes it an index lookup instead.
Publishing copies the rows to ``published_facets``, which the public lists
filter on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, exists, insert
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.contenttypes import ContentType
from cms.storage.tables import EntryFacet, PublishedFacet
from cms.storage.views import WORKING, View


def facet_values(ctype: ContentType, data: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(field, value) pairs of ``data`` for the fields ``ctype`` filters on."""
    pairs: set[tuple[str, str]] = set()
    for name in ctype.facet_fields():
        value = data.get(name)
        values = value if isinstance(value, list) else [value]
        pairs.update((name, v) for v in values if isinstance(v, str))
    return pairs


async def save_facets(
    session: AsyncSession,
    ctype: ContentType,
    entry_id: str,
    data: Mapping[str, Any],
    *,
    new: bool = False,
) -> None:
    """Replace the facet rows of ``entry_id`` with the values in ``data``.

    Args:
        new: the entry was just created and has no rows to replace.
    """
    if not ctype.facet_fields():
        return
    if not new:
        await session.exec(delete(EntryFacet).where(col(EntryFacet.entry_id) == entry_id))
    session.add_all(
        EntryFacet(entry_id=entry_id, field=name, value=value)
        for name, value in sorted(facet_values(ctype, data))
    )


async def save_published_facets(
    session: AsyncSession,
    ctype: ContentType,
    entry_id: str,
    data: Mapping[str, Any] | None = None,
    *,
    new: bool = False,
) -> None:
    """Replace the facet rows of ``entry_id``'s published version.

    Args:
        data: the published version's fields; None for the values of the
            working copy as saved (flushed), which is being published.
        new: its rows were just removed, there are none to replace.
    """
    if not new:
        await session.exec(delete(PublishedFacet).where(col(PublishedFacet.entry_id) == entry_id))
    if not ctype.facet_fields():
        return
    if data is not None:
        session.add_all(
            PublishedFacet(entry_id=entry_id, field=name, value=value)
            for name, value in sorted(facet_values(ctype, data))
        )
        return
    await session.exec(
        insert(PublishedFacet).from_select(
            ["entry_id", "field", "value"],
            select(EntryFacet.entry_id, EntryFacet.field, EntryFacet.value).where(
                col(EntryFacet.entry_id) == entry_id
            ),
        )
    )


def facet_clause(field: str, values: Sequence[str], view: View = WORKING) -> ColumnElement[bool]:
    """Entries of ``view`` whose ``field`` holds any of ``values``.

    Each view filters on its own values: the working copies on their last
    save's, the published versions on what was published (a published
    entry's pending draft changes no public list).
    """
    entry: Any = view.entry
    facet: Any = view.facet
    return exists().where(
        col(facet.entry_id) == col(entry.id),
        col(facet.field) == field,
        col(facet.value).in_(values),
    )
