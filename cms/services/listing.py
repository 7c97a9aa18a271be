"""Lists of entries: filters, sort order and opaque keyset cursors.

A cursor is the sort key and id of the last item of the page, so the next
page is a range scan on the index for that sort column, however deep.

Filters: the common ones (clinic, condition, practitioner, tag), a date
range, full-text ``q``, and the filters each type declares
(:attr:`cms.contenttypes.ContentType.filters`): relation fields go through
the relations table, other fields through the facets saved with the entry.
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
from cms.services.entries import RelatedRow, attach_relations, related_rows
from cms.services.errors import InvalidParameter
from cms.services.facets import facet_clause
from cms.services.search import dialect_of, matching_ids, parse_query
from cms.storage.tables import Entry, EntryRelation, EntryTag

# Filters every list accepts, and the type of entry each one names.
RELATION_FILTERS: Mapping[str, str] = {
    "clinic": "clinic",
    "condition": "condition",
    "practitioner": "practitioner",
}
FILTERS: tuple[str, ...] = (*RELATION_FILTERS, "tag")

# InvalidParameter moved to cms.services.errors; importing it from here still works.
__all__ = ["FILTERS", "InvalidParameter", "ListQuery", "Page", "list_entries", "list_page"]


@dataclass(frozen=True)
class ListQuery:
    """What one list request asks for, already checked for shape.

    Attributes:
        filters: common and type-specific filters, each with its values
            (any of them matches); all filters must match.
        published_after: inclusive lower bound of ``published_at``.
        published_before: exclusive upper bound of ``published_at``, so
            that consecutive ranges never share an entry.
        q: full-text search within the list (see :mod:`cms.services.search`).
    """

    limit: int = 20
    sort: str = "-published_at"
    cursor: str | None = None
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    published_after: dt.datetime | None = None
    published_before: dt.datetime | None = None
    q: str | None = None


@dataclass(frozen=True)
class Page:
    """One page of a list: the documents, their relation rows and the next cursor."""

    docs: list[dict[str, Any]]
    related: list[RelatedRow]
    next_cursor: str | None


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
    session: AsyncSession, ctype: ContentType, query: ListQuery, published_only: bool
) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if query.published_after is not None:
        clauses.append(col(Entry.published_at) >= query.published_after)
    if query.published_before is not None:
        clauses.append(col(Entry.published_at) < query.published_before)
    if query.q is not None:
        terms = parse_query(query.q)
        # No words (only punctuation): nothing matches, which is not an error.
        clauses.append(
            col(Entry.id).in_(matching_ids(dialect_of(session), terms)) if terms else false()
        )
    for name, values in query.filters.items():
        own = ctype.filters.get(name)
        if own is not None:
            clauses.append(await _own_filter(session, ctype, own.field, values, published_only))
            continue
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


async def _own_filter(
    session: AsyncSession,
    ctype: ContentType,
    field_name: str,
    values: Sequence[str],
    published_only: bool,
) -> ColumnElement[bool]:
    """A filter the type declares: on a relation field, or on an indexed value."""
    relation = ctype.relations.get(field_name)
    if relation is None:
        return facet_clause(field_name, values)
    ids = await _resolve(session, relation.target, values, published_only)
    if not ids:
        return false()
    return exists().where(
        col(EntryRelation.source_id) == col(Entry.id),
        col(EntryRelation.field) == field_name,
        col(EntryRelation.target_id).in_(ids),
    )


async def list_entries(
    session: AsyncSession, ctype: ContentType, query: ListQuery, *, published_only: bool = True
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``ctype`` entries and the cursor of the next page (None at the end)."""
    page = await list_page(session, ctype, query, published_only=published_only)
    return page.docs, page.next_cursor


async def list_page(
    session: AsyncSession, ctype: ContentType, query: ListQuery, *, published_only: bool = True
) -> Page:
    """One page of ``ctype`` entries, with the relation rows its documents were given.

    Two queries whatever the page size (plus one per relation filter, to
    resolve its slugs): the page, then the relations of its entries.
    """
    column, descending = _sort_column(query.sort)
    stmt = select(Entry.id, Entry.doc_item, column).where(Entry.type == ctype.name)
    if published_only:
        stmt = stmt.where(Entry.status == "published")
    for clause in await _filter_clauses(session, ctype, query, published_only):
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
    return Page(docs=docs, related=related, next_cursor=next_cursor)
