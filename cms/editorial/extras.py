"""Values of response fields: written by plugins on save, read a page at a time.

A plugin that adds a field to another type's response (a series' navigation
on each of its parts) computes the value when something it depends on is
saved and stores it here. A read fetches the values of every entry on the
page in one query, whatever the page size.

A session remembers what each value it changes was before its first change,
so that the unit of work can tell, at its end, which entries' values really
changed (:func:`changed_entries`): their cached public answers are purged,
and a save that computes the same values again purges nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.contenttypes import ContentType
from cms.storage.tables import EntryExtra

_BEFORE = "cms.extras_before"
"""Where a session keeps the values it changed as they were: (entry id, name) → value."""

Key = tuple[str, str]


async def _stored(session: AsyncSession, keys: Collection[Key]) -> dict[Key, Any]:
    """The stored values of ``keys`` (entry id, name), in one query."""
    if not keys:
        return {}
    result = await session.exec(
        select(EntryExtra.entry_id, EntryExtra.name, EntryExtra.value).where(
            col(EntryExtra.entry_id).in_({k[0] for k in keys}),
            col(EntryExtra.name).in_({k[1] for k in keys}),
        )
    )
    return {(e, n): v for e, n, v in result.all() if (e, n) in keys}


def _before(session: AsyncSession) -> dict[Key, Any]:
    before: dict[Key, Any] = session.info.setdefault(_BEFORE, {})
    return before


def forget_changes(session: AsyncSession) -> None:
    """Start remembering afresh (a new unit of work in ``session``)."""
    session.info.pop(_BEFORE, None)


async def changed_entries(session: AsyncSession) -> list[str]:
    """The entries whose values the session changed since it began remembering; forgets them."""
    before: dict[Key, Any] = session.info.pop(_BEFORE, None) or {}
    if not before:
        return []
    await session.flush()
    now = await _stored(session, set(before))
    return sorted({key[0] for key, value in before.items() if now.get(key) != value})


async def set_extra(
    session: AsyncSession, entry_id: str, name: str, value: Any, *, source_id: str | None = None
) -> None:
    """Store ``value`` as response field ``name`` of ``entry_id`` (None removes it).

    Args:
        source_id: the entry the value was derived from, so that
            :func:`clear_extras` can drop everything derived from it at once.
    """
    before = _before(session)
    if (entry_id, name) not in before:
        before[(entry_id, name)] = (await _stored(session, {(entry_id, name)})).get(
            (entry_id, name)
        )
    await session.exec(
        delete(EntryExtra).where(col(EntryExtra.entry_id) == entry_id, col(EntryExtra.name) == name)
    )
    if value is not None:
        session.add(EntryExtra(entry_id=entry_id, name=name, source_id=source_id, value=value))
    await session.flush()


async def clear_extras(session: AsyncSession, name: str, *, source_id: str) -> list[str]:
    """Remove every value of ``name`` derived from ``source_id``; the entries they were on."""
    result = await session.exec(
        select(EntryExtra.entry_id, EntryExtra.value).where(
            col(EntryExtra.source_id) == source_id, col(EntryExtra.name) == name
        )
    )
    rows = result.all()
    before = _before(session)
    for entry_id, value in rows:
        before.setdefault((entry_id, name), value)
    entry_ids = [r[0] for r in rows]
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
