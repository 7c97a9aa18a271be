"""Lists of entries: filters, sort order and opaque keyset cursors.

A cursor is the sort key and id of the last item of the page, so the next
page is a range scan on the index for that sort column, however deep.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, and_, exists, false, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.contenttypes import ContentType
from cms.services.entries import attach_relations, related_rows
from cms.services.errors import InvalidParameter
from cms.storage.tables import Entry, EntryRelation, EntryTag

# Filters every list accepts, and the type of entry each one names.
RELATION_FILTERS: Mapping[str, str] = {
    "clinic": "clinic",
    "condition": "condition",
    "practitioner": "practitioner",
}
FILTERS: tuple[str, ...] = (*RELATION_FILTERS, "tag")

__all__ = ["FILTERS", "InvalidParameter", "ListQuery", "list_entries"]  # InvalidParameter moved


@dataclass(frozen=True)
class ListQuery:
    """What one list request asks for, already checked for shape."""

    limit: int = 20
    sort: str = "-published_at"
    cursor: str | None = None
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)


def _sort_column(sort: str) -> tuple[Any, bool]:
    descending = sort.startswith("-")
    return getattr(Entry, sort.lstrip("-")), descending


def _to_json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def encode_cursor(sort: str, value: Any, entry_id: str) -> str:
    """An opaque cursor after the item with sort key ``value`` and id ``entry_id``."""
    raw = msgspec.json.encode([sort, _to_json(value), entry_id])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, sort: str) -> tuple[Any, str]:
    """The sort key and id a cursor points after.

    Raises:
        InvalidParameter: the cursor is not one of ours, or was made for another sort.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        made_for, value, entry_id = msgspec.json.decode(raw, type=tuple[str, Any, str])
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise InvalidParameter("cursor", "is not a cursor this API issued") from exc
    if made_for != sort:
        raise InvalidParameter("cursor", f"was issued for sort={made_for}, not sort={sort}")
    if sort.lstrip("-") in {"published_at", "created_at", "updated_at"}:
        try:
            value = dt.datetime.fromisoformat(value)
        except (TypeError, ValueError) as exc:
            raise InvalidParameter("cursor", "is not a cursor this API issued") from exc
    elif not isinstance(value, str):
        raise InvalidParameter("cursor", "is not a cursor this API issued")
    return value, entry_id


async def _resolve(
    session: AsyncSession, type_name: str, slugs: Sequence[str], published_only: bool
) -> list[str]:
    query = select(Entry.id).where(Entry.type == type_name, col(Entry.slug).in_(slugs))
    if published_only:
        query = query.where(Entry.status == "published")
    return list((await session.exec(query)).all())


async def _filter_clauses(
    session: AsyncSession, filters: Mapping[str, Sequence[str]], published_only: bool
) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    for name, values in filters.items():
        if name == "tag":
            clauses.append(
                exists().where(
                    col(EntryTag.entry_id) == col(Entry.id), col(EntryTag.tag).in_(values)
                )
            )
            continue
        ids = await _resolve(session, RELATION_FILTERS[name], values, published_only)
        if not ids:
            clauses.append(false())
            continue
        if name == "clinic":
            clauses.append(
                exists().where(
                    col(EntryRelation.source_id) == col(Entry.id),
                    col(EntryRelation.field) == "clinics",
                    col(EntryRelation.target_id).in_(ids),
                )
            )
            continue
        outgoing = exists().where(
            col(EntryRelation.source_id) == col(Entry.id), col(EntryRelation.target_id).in_(ids)
        )
        # Relations count both ways: ?condition=sciatica lists the articles
        # about sciatica and, on practitioners, those who treat it; on
        # clinics, ?practitioner=x lists the clinics where x works.
        incoming = exists().where(
            col(EntryRelation.target_id) == col(Entry.id), col(EntryRelation.source_id).in_(ids)
        )
        clauses.append(or_(outgoing, incoming))
    return clauses


async def list_entries(
    session: AsyncSession, ctype: ContentType, query: ListQuery, *, published_only: bool = True
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``ctype`` entries and the cursor of the next page (None at the end)."""
    column, descending = _sort_column(query.sort)
    stmt = select(Entry.id, Entry.doc_item, column).where(Entry.type == ctype.name)
    if published_only:
        stmt = stmt.where(Entry.status == "published")
    for clause in await _filter_clauses(session, query.filters, published_only):
        stmt = stmt.where(clause)
    if query.cursor is not None:
        value, after_id = decode_cursor(query.cursor, query.sort)
        if descending:
            stmt = stmt.where(or_(column < value, and_(column == value, col(Entry.id) < after_id)))
        else:
            stmt = stmt.where(or_(column > value, and_(column == value, col(Entry.id) > after_id)))
    order = (column.desc(), col(Entry.id).desc()) if descending else (column, col(Entry.id))
    stmt = stmt.order_by(*order).limit(query.limit + 1)
    rows = list((await session.exec(stmt)).all())
    page, more = rows[: query.limit], len(rows) > query.limit
    related = (
        await related_rows(session, [r[0] for r in page], published_only=published_only)
        if page
        else []
    )
    docs = attach_relations(ctype, [(r[0], r[1]) for r in page], related)
    next_cursor = encode_cursor(query.sort, page[-1][2], page[-1][0]) if more else None
    return docs, next_cursor
