"""Values of response fields: written by plugins on save, read a page at a time.

A plugin that adds a field to another type's response (a series' navigation
on each of its parts) computes the value when something it depends on is
saved and stores it here. A read fetches the values of every entry on the
page in one query, whatever the page size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.contenttypes import ContentType
from cms.storage.tables import EntryExtra


async def set_extra(
    session: AsyncSession, entry_id: str, name: str, value: Any, *, source_id: str | None = None
) -> None:
    """Store ``value`` as response field ``name`` of ``entry_id`` (None removes it).

    Args:
        source_id: the entry the value was derived from, so that
            :func:`clear_extras` can drop everything derived from it at once.
    """
    await session.exec(
        delete(EntryExtra).where(col(EntryExtra.entry_id) == entry_id, col(EntryExtra.name) == name)
    )
    if value is not None:
        session.add(EntryExtra(entry_id=entry_id, name=name, source_id=source_id, value=value))
    await session.flush()


async def clear_extras(session: AsyncSession, name: str, *, source_id: str) -> list[str]:
    """Remove every value of ``name`` derived from ``source_id``; the entries they were on."""
    result = await session.exec(
        select(EntryExtra.entry_id).where(
            col(EntryExtra.source_id) == source_id, col(EntryExtra.name) == name
        )
    )
    entry_ids = list(result.all())
    await session.exec(
        delete(EntryExtra).where(
            col(EntryExtra.source_id) == source_id, col(EntryExtra.name) == name
        )
    )
    return entry_ids


async def extra_values(
    session: AsyncSession, ctype: ContentType, entry_ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The stored response-field values of ``entry_ids``, by entry id then field name.

    One query; none when ``ctype`` has no response fields. Values of fields no
    enabled plugin registers any more are left out.
    """
    names = [f.name for f in ctype.response_fields]
    ids = list(entry_ids)
    if not names or not ids:
        return {}
    result = await session.exec(
        select(EntryExtra.entry_id, EntryExtra.name, EntryExtra.value).where(
            col(EntryExtra.entry_id).in_(ids), col(EntryExtra.name).in_(names)
        )
    )
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for entry_id, name, value in result.all():
        out[entry_id][name] = value
    return out


def attach_extras(
    ctype: ContentType, docs: list[dict[str, Any]], values: Mapping[str, Mapping[str, Any]]
) -> None:
    """Set every response field of ``ctype`` on ``docs`` (null where none is stored)."""
    if not ctype.response_fields:
        return
    for doc in docs:
        stored = values.get(doc["id"], {})
        for rfield in ctype.response_fields:
            doc[rfield.name] = stored.get(rfield.name)
