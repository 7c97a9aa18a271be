"""Values of the fields that types filter on, indexed when an entry is saved.

A type's own list filter on a field that is not a relation (a practitioner's
``modality``) would otherwise have to look inside the JSON of every entry;
one row per value in ``entry_facets`` makes it an index lookup instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, exists
from sqlmodel import col, delete
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.contenttypes import ContentType
from cms.storage.tables import Entry, EntryFacet


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


def facet_clause(field: str, values: Sequence[str], entry: Any = Entry) -> ColumnElement[bool]:
    """Entries whose ``field`` holds any of ``values``.

    ``entry`` is the table listed (working copies or published versions).
    The facets are the working copy's: a published entry with a pending
    draft filters on its draft's values (as ``q`` does not: search text is
    the published version's).
    """
    return exists().where(
        col(EntryFacet.entry_id) == col(entry.id),
        col(EntryFacet.field) == field,
        col(EntryFacet.value).in_(values),
    )
