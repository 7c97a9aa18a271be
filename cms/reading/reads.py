"""Bulk reads of stored entries and their relations, as plugins read them in hooks.

A hook that keeps something derived up to date (a series' outline) needs
the entries around the ones a save changed: which series list this part,
what the parts of this series are, as editors and as readers see them.
These reads answer that in one query each, for any number of entries (in
chunks, below the databases' limit on query parameters), so a plugin never
writes SQL against the core's tables, and a bulk load stays a fixed number
of queries per chunk.

An :class:`EntryRecord` holds both versions of an entry: its working copy
(what editors change) and its published version (what anonymous readers
get), or None when nothing of it is published. Relations are read either
from the working copies or from the published versions (``published``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import ColumnElement
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.storage.db import select_columns
from cms.storage.tables import Entry, EntryRelation, PublishedEntry, PublishedRelation

CHUNK = 1000
"""Ids per query: below SQLite's and asyncpg's limits on bound parameters."""

__all__ = [
    "EntryRecord",
    "EntryVersion",
    "RelationRecord",
    "entries_by_id",
    "entries_by_slug",
    "relations_from",
    "relations_to",
]


@dataclass(frozen=True)
class EntryVersion:
    """One version of an entry: its working copy, or its published version.

    Attributes:
        slug: its slug in this version.
        title: its title in this version.
        summary: its summary in this version.
        status: the working copy's status; ``published`` for the published version.
        published_at: when it was (or, scheduled, will be) published.
        data: the type's own fields as stored, relations left out (they are
            rows: see :func:`relations_from`).
    """

    slug: str
    title: str
    summary: str
    status: str
    published_at: dt.datetime | None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EntryRecord:
    """A stored entry: its working copy and, when it has one, its published version."""

    id: str
    type: str
    working: EntryVersion
    published: EntryVersion | None

    @property
    def live(self) -> bool:
        """Whether readers see a version of it (it may have a pending draft)."""
        return self.published is not None


@dataclass(frozen=True)
class RelationRecord:
    """One relation row with the entry at its other end.

    Attributes:
        source_id: the entry whose field holds the reference.
        field: the relation field (``parts``).
        position: the place of the reference in the field, from 0.
        target_id: the entry referenced.
        entry: the entry at the far end of the read: the target for
            :func:`relations_from`, the source for :func:`relations_to`.
    """

    source_id: str
    field: str
    position: int
    target_id: str
    entry: EntryRecord


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    items = list(dict.fromkeys(values))
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _record_columns(entry: Any, live: Any) -> tuple[Any, ...]:
    """The columns :func:`_record` reads, for ``entry`` and its ``live`` (published) row."""
    return (
        entry.id, entry.type, entry.slug, entry.title, entry.summary, entry.status,
        entry.published_at, entry.data,
        live.slug, live.title, live.published_at, live.doc_item,
    )  # fmt: skip


_RECORD_WIDTH = 12


def _record(row: Sequence[Any]) -> EntryRecord:
    (id_, type_, slug, title, summary, status, published_at, data,
     live_slug, live_title, live_published_at, live_item) = row  # fmt: skip
    working = EntryVersion(
        slug=slug, title=title, summary=summary, status=status,
        published_at=published_at, data=dict(data or {}),
    )  # fmt: skip
    published = None
    if live_slug is not None:
        # The published list item holds the summary and the own fields as they
        # were published; the working copy's keys say which keys are own fields.
        item: dict[str, Any] = msgspec.json.decode(live_item) if live_item else {}
        published = EntryVersion(
            slug=live_slug,
            title=live_title,
            summary=item.get("summary") or "",
            status="published",
            published_at=live_published_at,
            data={k: item[k] for k in working.data if k in item},
        )
    return EntryRecord(id=id_, type=type_, working=working, published=published)


async def _records(session: AsyncSession, where: ColumnElement[bool]) -> list[EntryRecord]:
    query = (
        select_columns(*_record_columns(Entry, PublishedEntry))
        .outerjoin(PublishedEntry, col(PublishedEntry.id) == col(Entry.id))
        .where(where)
    )
    return [_record(row) for row in (await session.exec(query)).all()]


async def entries_by_id(session: AsyncSession, ids: Iterable[str]) -> dict[str, EntryRecord]:
    """The stored entries among ``ids``, by id; an id with no entry is left out.

    One query per thousand ids.
    """
    out: dict[str, EntryRecord] = {}
    for chunk in _chunks(ids):
        for record in await _records(session, col(Entry.id).in_(chunk)):
            out[record.id] = record
    return out


async def entries_by_slug(
    session: AsyncSession, type_name: str, slugs: Iterable[str], *, published: bool = False
) -> dict[str, EntryRecord]:
    """The entries of ``type_name`` with ``slugs``, by slug; a slug with none is left out.

    Args:
        published: match the published versions' slugs (what readers use)
            instead of the working copies'; entries with no published version
            are then left out.
    """
    out: dict[str, EntryRecord] = {}
    for chunk in _chunks(slugs):
        if published:
            where = (col(PublishedEntry.type) == type_name) & col(PublishedEntry.slug).in_(chunk)
        else:
            where = (col(Entry.type) == type_name) & col(Entry.slug).in_(chunk)
        for record in await _records(session, where):
            version = record.published if published else record.working
            assert version is not None, "matched on its published slug"
            out[version.slug] = record
    return out


# The entry at the far end of a relation, and its published version. Built
# once: an alias copies every column, too costly per read.
_OTHER = aliased(Entry, name="other")
_OTHER_LIVE = aliased(PublishedEntry, name="other_live")


def _relation_table(published: bool) -> type[EntryRelation] | type[PublishedRelation]:
    return PublishedRelation if published else EntryRelation


async def _relations(
    session: AsyncSession,
    ids: Iterable[str],
    *,
    outgoing: bool,
    field: str | None,
    other_type: str | None,
    published: bool,
) -> list[RelationRecord]:
    rel = _relation_table(published)
    other, live = _OTHER, _OTHER_LIVE
    near, far = (rel.source_id, rel.target_id) if outgoing else (rel.target_id, rel.source_id)
    out: list[RelationRecord] = []
    for chunk in _chunks(ids):
        query = (
            select_columns(
                rel.source_id,
                rel.field,
                rel.position,
                rel.target_id,
                *_record_columns(other, live),
            )
            .join(other, col(other.id) == col(far))
            .outerjoin(live, col(live.id) == col(other.id))
            .where(col(near).in_(chunk))
            .order_by(col(rel.source_id), col(rel.field), col(rel.position))
        )
        if field is not None:
            query = query.where(col(rel.field) == field)
        if other_type is not None:
            query = query.where(col(other.type) == other_type)
        for row in (await session.exec(query)).all():
            source_id, name, position, target_id = row[:4]
            out.append(
                RelationRecord(
                    source_id=source_id,
                    field=name,
                    position=position,
                    target_id=target_id,
                    entry=_record(row[4 : 4 + _RECORD_WIDTH]),
                )
            )
    return out


async def relations_from(
    session: AsyncSession,
    source_ids: Iterable[str],
    *,
    field: str | None = None,
    target_type: str | None = None,
    published: bool = False,
) -> list[RelationRecord]:
    """The references ``source_ids`` hold, in field order, each with its target entry.

    One query per thousand sources.

    Args:
        field: only this relation field.
        target_type: only targets of this type.
        published: the published versions' relations (as readers see them)
            instead of the working copies'.
    """
    return await _relations(
        session, source_ids, outgoing=True, field=field, other_type=target_type,
        published=published,
    )  # fmt: skip


async def relations_to(
    session: AsyncSession,
    target_ids: Iterable[str],
    *,
    field: str | None = None,
    source_type: str | None = None,
    published: bool = False,
) -> list[RelationRecord]:
    """The references to ``target_ids``, each with the entry holding it (its source).

    One query per thousand targets.

    Args:
        field: only references from this relation field.
        source_type: only references held by entries of this type.
        published: the published versions' relations (as readers see them)
            instead of the working copies'.
    """
    return await _relations(
        session, target_ids, outgoing=False, field=field, other_type=source_type,
        published=published,
    )  # fmt: skip
