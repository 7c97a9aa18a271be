"""Feeds: the newest published in-feeds entries related to one entry.

A type with ``has_feed`` (clinics, conditions, the blog series plugin's
series) gives each of its published entries a feed. Its items are the
published entries of the types with ``in_feeds`` (articles, case stories)
related to that entry, as the list filters relate them
(:func:`cms.reading.listing.related_clause`): for a clinic, the entries that
appear on it (its ``clinics`` relation); for any other entry, the entries
related to it either way (an article's ``conditions``, a series' ``parts``).

Everything is read from the published tables, so anonymous readers see
published versions only, and a page costs a fixed number of queries whatever
its size: the source entry, the page, the page's relations, the people and
sites it names, and the date of the newest change in the whole feed. The
formats themselves are made in :mod:`cms.http.reading.feeds`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import and_, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.contenttypes import ContentType, TypeRegistry
from cms.editorial.entries import RelatedRow, related_rows
from cms.errors import InvalidParameter
from cms.reading import cursors
from cms.reading.listing import related_clause
from cms.storage.db import select_columns
from cms.storage.views import PUBLISHED

# Feed ids are UUID v5 of the source entry's id in this namespace, so a
# clinic's feed and the clinic itself never share an id.
FEED_NAMESPACE = uuid.UUID("0b6e3f51-7c1d-4f0a-9d52-2f4c8e1a6b37")
# The categorisation schemes of an item's categories.
TAG_SCHEME = "urn:clinic-cms:tag"
CONDITION_SCHEME = "urn:clinic-cms:condition"
AUTHOR_TYPE = "practitioner"
CATEGORY_TYPE = "condition"


@dataclass(frozen=True)
class Person:
    """An author: a practitioner, or a clinic's site when nobody signed the entry."""

    name: str
    url: str | None = None


@dataclass(frozen=True)
class Category:
    """A tag or a condition of an item."""

    term: str
    scheme: str
    label: str


@dataclass(frozen=True)
class FeedItem:
    """One published entry as every format shows it."""

    id: str
    """The entry's id, as ``urn:uuid:<id>``: stable across renames and moves."""
    entry_id: str
    type: str
    title: str
    summary: str
    url: str | None
    """The entry's canonical URL."""
    content_html: str
    published: dt.datetime
    updated: dt.datetime
    authors: list[Person]
    categories: list[Category]


@dataclass(frozen=True)
class Feed:
    """One page of the feed of a source entry."""

    id: str
    """``urn:uuid:`` of a UUID v5 of the source entry's id: the same on every page and format."""
    source_id: str
    title: str
    description: str
    home_page_url: str | None
    """The clinic's ``site_url`` for a clinic; the entry's canonical URL otherwise."""
    updated: dt.datetime
    """The newest ``updated_at`` of every item of the feed (not only of this page)."""
    authors: list[Person]
    items: list[FeedItem]
    next_cursor: str | None
    shown_ids: list[str] = field(default_factory=list)
    """Every entry whose data is in the feed, for ``Surrogate-Key``."""


def feed_id(source_id: str) -> str:
    """The id of the feed of the entry ``source_id``."""
    return f"urn:uuid:{uuid.uuid5(FEED_NAMESPACE, source_id)}"


def _when(value: dt.datetime) -> dt.datetime:
    # SQLite gives naive UTC back through the TypeDecorator with its zone; be sure.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _cursor_tag(source_id: str) -> str:
    return f"feed:{source_id}"


def decode_cursor(cursor: str | None, source_id: str) -> tuple[dt.datetime, str] | None:
    """The ``(published_at, id)`` a feed cursor points after, or None for the first page.

    Raises:
        InvalidParameter: not a cursor of this feed.
    """
    key = cursors.unpack("cursor", cursor, _cursor_tag(source_id), (str, str))
    if key is None:
        return None
    try:
        when = dt.datetime.fromisoformat(key[0])
    except ValueError as exc:
        raise InvalidParameter("cursor", "is not a cursor this API issued") from exc
    if when.tzinfo is None:
        raise InvalidParameter("cursor", "is not a cursor this API issued")
    return when, key[1]


def _site(doc: dict[str, Any]) -> Person:
    """A clinic's site as an author: its name and home page."""
    return Person(name=doc["title"], url=doc.get("site_url") or None)


async def read_feed(
    session: AsyncSession,
    types: TypeRegistry,
    source_type: ContentType,
    slug: str,
    *,
    limit: int,
    cursor: str | None,
) -> Feed | None:
    """One page of the feed of the published ``source_type`` entry ``slug``; None if none.

    Raises:
        InvalidParameter: ``cursor`` is not one this feed issued.
    """
    entry = PUBLISHED.entry
    found = (
        await session.exec(
            select_columns(entry.id, entry.doc_item).where(
                entry.type == source_type.name, entry.slug == slug
            )
        )
    ).first()
    if found is None:
        return None
    source_id = found[0]
    source: dict[str, Any] = msgspec.json.decode(found[1])
    after = decode_cursor(cursor, source_id)
    in_feeds = [t.name for t in types if t.in_feeds]
    member = and_(
        col(entry.type).in_(in_feeds),
        related_clause(PUBLISHED, [source_id], on_clinics=source_type.name == "clinic"),
    )

    stmt = select_columns(entry.id, entry.type, entry.doc, entry.published_at).where(member)
    if after is not None:
        when, after_id = after
        stmt = stmt.where(
            or_(
                col(entry.published_at) < when,
                and_(col(entry.published_at) == when, col(entry.id) < after_id),
            )
        )
    stmt = stmt.order_by(col(entry.published_at).desc(), col(entry.id).desc()).limit(limit + 1)
    rows = list((await session.exec(stmt)).all())
    page, more = rows[:limit], len(rows) > limit
    docs: list[tuple[str, str, dict[str, Any]]] = [
        (r[0], r[1], msgspec.json.decode(r[2])) for r in page
    ]
    related = await related_rows(session, [r[0] for r in page], published_only=True) if page else []

    # The people and sites the page names, in one query: the practitioners who
    # wrote the items, and the origin clinics (the fallback authors).
    by_source: dict[str, dict[str, list[RelatedRow]]] = defaultdict(lambda: defaultdict(list))
    for row in related:
        by_source[row.source_id][row.field].append(row)
    author_fields = {
        name: [f for f, rel in types[name].relations.items() if rel.target == AUTHOR_TYPE]
        for name in in_feeds
    }
    condition_fields = {
        name: [f for f, rel in types[name].all_relations().items() if rel.target == CATEGORY_TYPE]
        for name in in_feeds
    }
    author_ids = {
        row.target_id
        for entry_id, type_name, _doc in docs
        for f in author_fields.get(type_name, [])
        for row in by_source[entry_id][f]
    }
    origins = {doc.get("origin_clinic") for _i, _t, doc in docs} | {source.get("origin_clinic")}
    origin_slugs = sorted(s for s in origins if s)
    people: dict[str, Person] = {}
    sites: dict[str, Person] = {}
    site_ids: dict[str, str] = {}
    if author_ids or origin_slugs:
        found_people = await session.exec(
            select_columns(entry.id, entry.type, entry.slug, entry.canonical_url, entry.doc_item)
            .where(
                or_(
                    col(entry.id).in_(sorted(author_ids)),
                    and_(col(entry.type) == "clinic", col(entry.slug).in_(origin_slugs)),
                )
            )
        )  # fmt: skip
        for pid, ptype, pslug, purl, raw in found_people.all():
            pdoc: dict[str, Any] = msgspec.json.decode(raw)
            if ptype == "clinic" and pslug in origin_slugs:
                sites[pslug] = _site(pdoc)
                site_ids[pslug] = pid
            if pid in author_ids:
                people[pid] = Person(name=pdoc["title"], url=purl)

    newest = (await session.exec(select(func.max(entry.updated_at)).where(member))).one()

    items: list[FeedItem] = []
    shown: list[str] = [source_id]
    for entry_id, type_name, doc in docs:
        fields = by_source[entry_id]
        authors = [
            people[row.target_id]
            for f in author_fields.get(type_name, [])
            for row in fields[f]
            if row.target_id in people
        ]
        origin = doc.get("origin_clinic")
        if not authors and origin in sites:
            authors = [sites[origin]]
            shown.append(site_ids[origin])
        categories = [Category(term=tag, scheme=TAG_SCHEME, label=tag) for tag in doc["tags"]]
        categories += [
            Category(term=row.slug, scheme=CONDITION_SCHEME, label=row.title)
            for f in condition_fields.get(type_name, [])
            for row in fields[f]
        ]
        items.append(
            FeedItem(
                id=f"urn:uuid:{entry_id}",
                entry_id=entry_id,
                type=type_name,
                title=doc["title"],
                summary=doc.get("summary") or "",
                url=doc.get("canonical_url"),
                content_html=doc.get("body_html") or "",
                published=dt.datetime.fromisoformat(doc["published_at"]),
                updated=dt.datetime.fromisoformat(doc["updated_at"]),
                authors=authors,
                categories=categories,
            )
        )
        shown.append(entry_id)
    shown += [row.target_id for row in related]

    site = sites.get(source.get("origin_clinic") or "")
    if site is not None:
        shown.append(site_ids[source["origin_clinic"]])
    if source_type.name == "clinic":
        home = site.url if site else None
    else:
        home = source.get("canonical_url") or (site.url if site else None)
    next_cursor = (
        cursors.pack(_cursor_tag(source_id), _cursor_time(page[-1][3]), page[-1][0])
        if more
        else None
    )
    return Feed(
        id=feed_id(source_id),
        source_id=source_id,
        title=source["title"],
        description=source.get("summary") or f"New from {source['title']}.",
        home_page_url=home,
        updated=_when(newest)
        if newest is not None
        else dt.datetime.fromisoformat(source["updated_at"]),
        authors=[site] if site else [],
        items=items,
        next_cursor=next_cursor,
        shown_ids=list(dict.fromkeys(shown)),
    )


def _cursor_time(value: dt.datetime) -> str:
    # Not cms.dates.iso: a cursor keeps the `+00:00` form it was first issued with,
    # so the `next` links in feeds (and their ETags) stay the same bytes.
    return _when(value).astimezone(dt.UTC).isoformat()
