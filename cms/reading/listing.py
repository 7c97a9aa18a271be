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
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import JSON, ColumnElement, and_, exists, false, func, literal, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.contenttypes import ContentType, sort_default, sort_kind
from cms.editorial.entries import RelatedRow, attach_relations, related_rows
from cms.editorial.extras import attach_extras, extra_values
from cms.errors import InvalidParameter
from cms.reading.facets import facet_clause
from cms.reading.search import dialect_of, matching_ids, parse_query
from cms.storage.tables import Entry, EntryRelation, UTCDateTime
from cms.storage.views import PUBLISHED, WORKING, View

# Filters every list accepts, and the type of entry each one names.
RELATION_FILTERS: Mapping[str, str] = {
    "clinic": "clinic",
    "condition": "condition",
    "practitioner": "practitioner",
}
FILTERS: tuple[str, ...] = (*RELATION_FILTERS, "tag")

# InvalidParameter moved to cms.errors; importing it from here still works.
__all__ = [
    "FILTERS",
    "InvalidParameter",
    "ListQuery",
    "Page",
    "list_entries",
    "list_page",
    "related_clause",
]


@dataclass(frozen=True)
class ListQuery:
    """What one list request asks for, already checked for shape.

    Attributes:
        filters: common and type-specific filters, each with its values
            (any of them matches); all filters must match.
        published_after: inclusive lower bound of ``published_at``.
        published_before: exclusive upper bound of ``published_at``, so
            that consecutive ranges never share an entry.
        q: full-text search within the list (see :mod:`cms.reading.search`).
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


# Working copies that were never published have no `published_at`; in the
# editors' view they sort as if published in the far future (newest first under
# the default `-published_at`), so that keyset cursors never hold a NULL.
NEVER_PUBLISHED = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)


class _JsonDocument(FunctionElement[Any]):
    """A pre-encoded document (bytes of JSON) read as JSON, to sort on one of its fields."""

    type = JSON()
    inherit_cache = True


@compiles(_JsonDocument, "sqlite")
def _sqlite_json(element: _JsonDocument, compiler: SQLCompiler, **kw: Any) -> str:
    # Text, not the blob: SQLite's JSON functions read a blob as its binary JSONB.
    return f"CAST({compiler.process(element.clauses, **kw)} AS TEXT)"


@compiles(_JsonDocument, "postgresql")
def _postgresql_json(element: _JsonDocument, compiler: SQLCompiler, **kw: Any) -> str:
    return f"convert_from({compiler.process(element.clauses, **kw)}, 'UTF8')::jsonb"


def _declared_sort(ctype: ContentType, name: str, view: View) -> Any:
    """The sort key of a field the type declares (:attr:`ContentType.sort_fields`).

    Working copies keep their own fields in ``data``; published versions in
    their document (the list item), which holds what was published. No index
    covers it: such a list reads every entry of the type, which suits the
    plugin types it is for (a few hundred series, not ten thousand articles).
    """
    document = col(Entry.data) if view is WORKING else _JsonDocument(view.entry.doc_item)
    value = document[name]
    kind = sort_kind(ctype, name)
    typed = (
        value.as_integer() if kind is int else value.as_float() if kind is float
        else value.as_string()
    )  # fmt: skip
    return func.coalesce(typed, literal(sort_default(ctype, name)))


def _sort_column(ctype: ContentType, sort: str, view: View) -> tuple[Any, bool]:
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name in ctype.sort_fields:
        return _declared_sort(ctype, name, view), descending
    column = getattr(view.entry, name)
    if view is WORKING and name == "published_at":
        column = func.coalesce(column, literal(NEVER_PUBLISHED, UTCDateTime()))
    return column, descending


def _to_json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def encode_cursor(sort: str, value: Any, entry_id: str) -> str:
    """An opaque cursor after the item with sort key ``value`` and id ``entry_id``."""
    raw = msgspec.json.encode([sort, _to_json(value), entry_id])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, sort: str, kind: type = str) -> tuple[Any, str]:
    """The sort key and id a cursor points after.

    Args:
        kind: what the values of a type's own sort field are (int, float or str).

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
        if value.tzinfo is None:  # every cursor we issue carries its zone
            raise InvalidParameter("cursor", "is not a cursor this API issued")
    elif kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)  # JSON has one number type: an integral float comes back an int
    elif not isinstance(value, kind) or isinstance(value, bool):
        raise InvalidParameter("cursor", "is not a cursor this API issued")
    return value, entry_id


async def _resolve(
    session: AsyncSession, view: View, type_name: str, slugs: Sequence[str]
) -> list[str]:
    table = view.entry
    query = select(table.id).where(table.type == type_name, col(table.slug).in_(slugs))
    return list((await session.exec(query)).all())


async def _filter_clauses(
    session: AsyncSession, view: View, ctype: ContentType, query: ListQuery
) -> list[ColumnElement[bool]]:
    entry, tag = view.entry, view.tag
    clauses: list[ColumnElement[bool]] = []
    if query.published_after is not None:
        clauses.append(col(entry.published_at) >= query.published_after)
    if query.published_before is not None:
        clauses.append(col(entry.published_at) < query.published_before)
    if query.q is not None:
        terms = parse_query(query.q)
        # No words (only punctuation): nothing matches, which is not an error.
        clauses.append(
            col(entry.id).in_(matching_ids(dialect_of(session), terms)) if terms else false()
        )
    for name, values in query.filters.items():
        own = ctype.filters.get(name)
        if own is not None:
            clauses.append(await _own_filter(session, view, ctype, own.field, values))
            continue
        if name == "tag":
            clauses.append(
                exists().where(col(tag.entry_id) == col(entry.id), col(tag.tag).in_(values))
            )
            continue
        ids = await _resolve(session, view, RELATION_FILTERS[name], values)
        if not ids:
            clauses.append(false())
            continue
        clauses.append(related_clause(view, ids, on_clinics=name == "clinic"))
    return clauses


def related_clause(
    view: View, ids: Sequence[str], *, on_clinics: bool = False
) -> ColumnElement[bool]:
    """Entries of ``view`` related to any of ``ids``, as the list filters mean it.

    Args:
        on_clinics: ``ids`` are clinics: the entries that appear on them
            (their ``clinics`` relation), not those that merely name them
            (a case story's ``clinic``, where the treatment took place).
    """
    entry, rel = view.entry, view.relation
    if on_clinics:
        return exists().where(
            col(rel.source_id) == col(entry.id),
            col(rel.field) == "clinics",
            col(rel.target_id).in_(ids),
        )
    outgoing = exists().where(col(rel.source_id) == col(entry.id), col(rel.target_id).in_(ids))
    # Relations count both ways: ?condition=sciatica lists the articles
    # about sciatica and, on practitioners, those who treat it; on
    # clinics, ?practitioner=x lists the clinics where x works.
    incoming = exists().where(col(rel.target_id) == col(entry.id), col(rel.source_id).in_(ids))
    return or_(outgoing, incoming)


def clinic_scope_clause(clinics: Collection[str]) -> ColumnElement[bool]:
    """Working copies that appear on at least one of ``clinics`` (slugs), in the same query."""
    clinic = aliased(Entry, name="scope_clinic")
    return exists().where(
        col(EntryRelation.source_id) == col(Entry.id),
        col(EntryRelation.field) == "clinics",
        col(EntryRelation.target_id) == col(clinic.id),
        col(clinic.type) == "clinic",
        col(clinic.slug).in_(list(clinics)),
    )


async def _own_filter(
    session: AsyncSession,
    view: View,
    ctype: ContentType,
    field_name: str,
    values: Sequence[str],
) -> ColumnElement[bool]:
    """A filter the type declares: on a relation field, or on an indexed value."""
    relation = ctype.relations.get(field_name)
    if relation is None:
        return facet_clause(field_name, values, view)
    ids = await _resolve(session, view, relation.target, values)
    if not ids:
        return false()
    rel = view.relation
    return exists().where(
        col(rel.source_id) == col(view.entry.id),
        col(rel.field) == field_name,
        col(rel.target_id).in_(ids),
    )


async def list_entries(
    session: AsyncSession,
    ctype: ContentType,
    query: ListQuery,
    *,
    published_only: bool = True,
    statuses: Collection[str] = (),
    clinic_scope: Collection[str] | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``ctype`` entries and the cursor of the next page (None at the end).

    Args:
        published_only: list the published versions (the public view);
            otherwise the working copies (the editors' view).
        statuses: working copies only: the statuses to list (all when empty).
        clinic_scope: working copies only: list only entries that appear on
            one of these clinics (None: no limit).
    """
    page = await list_page(
        session,
        ctype,
        query,
        published_only=published_only,
        statuses=statuses,
        clinic_scope=clinic_scope,
    )
    return page.docs, page.next_cursor


async def list_page(
    session: AsyncSession,
    ctype: ContentType,
    query: ListQuery,
    *,
    published_only: bool = True,
    statuses: Collection[str] = (),
    clinic_scope: Collection[str] | None = None,
) -> Page:
    """One page of ``ctype`` entries, with the relation rows its documents were given.

    A fixed number of queries whatever the page size (plus one per relation
    filter, to resolve its slugs): the page, the relations of its entries,
    and plugins' response fields for the types that have them.
    """
    view = PUBLISHED if published_only else WORKING
    table = view.entry
    column, descending = _sort_column(ctype, query.sort, view)
    stmt = select(table.id, table.doc_item, column).where(table.type == ctype.name)
    if not published_only:
        if statuses:
            stmt = stmt.where(col(Entry.status).in_(list(statuses)))
        if clinic_scope is not None:
            stmt = stmt.where(clinic_scope_clause(clinic_scope))
    for clause in await _filter_clauses(session, view, ctype, query):
        stmt = stmt.where(clause)
    if query.cursor is not None:
        name = query.sort.lstrip("-")
        kind = sort_kind(ctype, name) if name in ctype.sort_fields else str
        value, after_id = decode_cursor(query.cursor, query.sort, kind)
        if descending:
            stmt = stmt.where(or_(column < value, and_(column == value, col(table.id) < after_id)))
        else:
            stmt = stmt.where(or_(column > value, and_(column == value, col(table.id) > after_id)))
    order = (column.desc(), col(table.id).desc()) if descending else (column, col(table.id))
    stmt = stmt.order_by(*order).limit(query.limit + 1)
    rows = list((await session.exec(stmt)).all())
    page, more = rows[: query.limit], len(rows) > query.limit
    related = (
        await related_rows(session, [r[0] for r in page], published_only=published_only)
        if page
        else []
    )
    docs = attach_relations(ctype, [(r[0], r[1]) for r in page], related)
    attach_extras(ctype, docs, await extra_values(session, ctype, [r[0] for r in page]))
    next_cursor = encode_cursor(query.sort, page[-1][2], page[-1][0]) if more else None
    return Page(docs=docs, related=related, next_cursor=next_cursor)
