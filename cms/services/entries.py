"""Saving entries and reading them back.

A save renders the Markdown, rewrites the entry's tags, links, facets,
search text and relations and appends a revision, all in the caller's
transaction; :func:`cms.services.documents.finish_writes` then builds the
public documents (they depend on other entries too). A read fetches
pre-encoded documents and joins the current {slug, title} of related entries
in one more query: two queries per request, whatever the page size.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import msgspec
from sqlalchemy.orm import aliased
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.contenttypes import ContentType, TypeRegistry
from cms.markdown import Renderer
from cms.services.documents import index_own_content
from cms.services.errors import FieldError, InvalidEntry
from cms.services.validation import EntryInput
from cms.storage.db import select_columns
from cms.storage.tables import Entry, EntryRelation, EntryTag, Revision, utcnow

# Ids of entries loaded from files without an id are derived from type and
# slug, so loading the same folder on two instances gives the same ids.
ENTRY_NAMESPACE = uuid.UUID("6f1c9a3e-2b7d-4c5e-9a40-8d1e2f3a4b5c")

_encoder = msgspec.json.Encoder()


def derived_id(type_name: str, slug: str) -> str:
    """The id an entry gets when its file does not name one."""
    return str(uuid.uuid5(ENTRY_NAMESPACE, f"{type_name}/{slug}"))


def content_hash(payload: dict[str, Any]) -> str:
    """A digest of the write-side document, to skip saves that change nothing."""
    return hashlib.blake2b(_encoder.encode(payload), digest_size=16).hexdigest()


async def find_entry(session: AsyncSession, type_name: str, slug: str) -> Entry | None:
    """The entry of ``type_name`` with ``slug``, whatever its status."""
    result = await session.exec(select(Entry).where(Entry.type == type_name, Entry.slug == slug))
    return result.first()


async def save_entry(
    session: AsyncSession,
    renderer: Renderer,
    inp: EntryInput,
    *,
    actor: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[Entry, bool]:
    """Create or update the entry ``inp`` describes, without its relations.

    Call :func:`save_relations` after every entry of a batch is saved, so that
    entries may reference each other in any order, then
    :func:`cms.services.documents.finish_writes` once: it builds the public
    documents, which until then are empty (new entries) or stale.

    Returns:
        The entry and whether anything changed (an identical save is a no-op:
        no new version, no revision).
    """
    now = now or utcnow()
    existing = await find_entry(session, inp.ctype.name, inp.slug)
    entry_id = inp.id or (existing.id if existing else derived_id(inp.ctype.name, inp.slug))
    if existing is not None and existing.id != entry_id:
        raise InvalidEntry(
            [
                FieldError(
                    "id", f"{inp.ctype.name} {inp.slug!r} already exists with id {existing.id}"
                )
            ]
        )
    payload = inp.payload() | {"id": entry_id}
    digest = content_hash(payload)
    if existing is not None and existing.content_hash == digest:
        return existing, False

    common = inp.common
    published_at = common.published_at
    if common.status == "published" and published_at is None:
        published_at = now
    rendered = renderer.render(common.body)
    entry = existing or Entry(
        id=entry_id,
        type=inp.ctype.name,
        slug=inp.slug,
        title=common.title,
        status=common.status,
        created_at=now,
        updated_at=now,
        version=0,
    )
    previous = await _latest_snapshot(session, entry.id) if existing is not None else {}
    entry.title = common.title
    entry.summary = common.summary
    entry.body = common.body
    entry.status = common.status
    entry.origin_clinic = common.origin_clinic
    entry.published_at = published_at
    entry.updated_at = now
    entry.version += 1
    entry.last_reviewed = common.last_reviewed
    entry.seo = msgspec.to_builtins(common.seo)
    entry.tags = list(common.tags)
    own = msgspec.to_builtins(inp.fields)
    entry.data = {k: v for k, v in own.items() if k not in inp.ctype.relations}
    entry.body_html = rendered.html
    entry.toc = msgspec.to_builtins(rendered.toc)
    entry.reading_time_minutes = rendered.reading_time_minutes
    entry.links = list(rendered.links)
    entry.search_text = "\n".join((common.title, common.summary, rendered.text))
    entry.content_hash = digest
    session.add(entry)
    await session.flush()

    await session.exec(delete(EntryTag).where(col(EntryTag.entry_id) == entry.id))
    session.add_all(EntryTag(entry_id=entry.id, tag=tag) for tag in common.tags)
    await index_own_content(session, inp.ctype, entry, rendered.text, new=existing is None)
    session.add(
        Revision(
            entry_id=entry.id,
            version=entry.version,
            created_at=now,
            actor=actor,
            changed_fields=_changed(previous, payload),
            snapshot=payload,
        )
    )
    return entry, True


async def save_relations(
    session: AsyncSession, types: TypeRegistry, entry: Entry, inp: EntryInput
) -> set[str]:
    """Replace ``entry``'s relation rows with the slugs ``inp`` names.

    Returns:
        Ids of entries that became or stopped being parts of ``entry``
        (``has_part`` relations): their documents name their container, so
        pass them to ``finish_writes(also=...)``.

    Raises:
        InvalidEntry: naming each field that references a missing entry.
    """
    wanted = inp.relation_slugs()
    relations = inp.ctype.all_relations()
    by_type: dict[str, set[str]] = defaultdict(set)
    for name, slugs in wanted.items():
        by_type[relations[name].target].update(slugs)
    ids: dict[tuple[str, str], str] = {}
    for type_name, wanted_slugs in by_type.items():
        if not wanted_slugs:
            continue
        result = await session.exec(
            select(Entry.id, Entry.slug).where(
                Entry.type == type_name, col(Entry.slug).in_(wanted_slugs)
            )
        )
        ids.update({(type_name, slug): eid for eid, slug in result.all()})
    errors = [
        FieldError(name, f"no {relations[name].target} with slug {slug!r}")
        for name, slugs in wanted.items()
        for slug in slugs
        if (relations[name].target, slug) not in ids
    ]
    if errors:
        raise InvalidEntry(errors)
    has_part = set(inp.ctype.has_part_fields())
    removed = await session.exec(
        delete(EntryRelation)
        .where(col(EntryRelation.source_id) == entry.id)
        .returning(col(EntryRelation.field), col(EntryRelation.target_id))
    )
    old_parts = {(f, t) for f, t in removed.all() if f in has_part}
    new_parts = {
        (name, ids[(relations[name].target, slug)])
        for name in has_part
        for slug in wanted.get(name, [])
    }
    session.add_all(
        EntryRelation(
            source_id=entry.id,
            field=name,
            position=position,
            target_id=ids[(relations[name].target, slug)],
        )
        for name, slugs in wanted.items()
        for position, slug in enumerate(slugs)
    )
    await session.flush()
    return {target for _, target in old_parts ^ new_parts}


async def _latest_snapshot(session: AsyncSession, entry_id: str) -> dict[str, Any]:
    result = await session.exec(
        select(Revision.snapshot)
        .where(Revision.entry_id == entry_id)
        .order_by(col(Revision.version).desc())
        .limit(1)
    )
    snapshot = result.first()
    return dict(snapshot) if snapshot is not None else {}


def _changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(k for k in after.keys() | before.keys() if before.get(k) != after.get(k))


# --- Reading ---------------------------------------------------------------


class RelatedRow(msgspec.Struct, array_like=True):
    """One relation of a document being read, with its target's current name."""

    source_id: str
    field: str
    slug: str
    title: str
    target_id: str = ""


async def related_rows(
    session: AsyncSession, source_ids: Iterable[str], *, published_only: bool
) -> list[RelatedRow]:
    """Every relation of ``source_ids``, in field order, with target slug and title."""
    target = aliased(Entry, name="target")
    query = (
        select_columns(
            EntryRelation.source_id, EntryRelation.field, target.slug, target.title, target.id
        )
        .join(target, col(target.id) == col(EntryRelation.target_id))
        .where(col(EntryRelation.source_id).in_(list(source_ids)))
        .order_by(
            col(EntryRelation.source_id), col(EntryRelation.field), col(EntryRelation.position)
        )
    )
    if published_only:
        query = query.where(target.status == "published")
    result = await session.exec(query)
    return [RelatedRow(*row) for row in result.all()]


def attach_relations(
    ctype: ContentType, docs: list[tuple[str, bytes]], related: list[RelatedRow]
) -> list[dict[str, Any]]:
    """Decode ``docs`` (id, bytes) and fill their relation fields from ``related``.

    ``clinics`` is a list of slugs (the sites an entry appears on); every other
    relation is a ``{slug, title}`` reference, or a list of them.
    """
    by_source: dict[str, dict[str, list[RelatedRow]]] = defaultdict(lambda: defaultdict(list))
    for row in related:
        by_source[row.source_id][row.field].append(row)
    relations = ctype.all_relations()
    out = []
    for entry_id, raw in docs:
        doc: dict[str, Any] = msgspec.json.decode(raw)
        fields = by_source.get(entry_id, {})
        for name, rel in relations.items():
            rows = fields.get(name, [])
            if name == "clinics":
                doc[name] = [r.slug for r in rows]
            elif rel.many:
                doc[name] = [{"slug": r.slug, "title": r.title} for r in rows]
            else:
                doc[name] = {"slug": rows[0].slug, "title": rows[0].title} if rows else None
        out.append(doc)
    return out


async def read_entry(
    session: AsyncSession, ctype: ContentType, slug: str, *, published_only: bool = True
) -> dict[str, Any] | None:
    """The public object of one entry, or None when there is none to show."""
    found = await read_entry_with_relations(session, ctype, slug, published_only=published_only)
    return found[0] if found is not None else None


async def read_entry_with_relations(
    session: AsyncSession, ctype: ContentType, slug: str, *, published_only: bool = True
) -> tuple[dict[str, Any], list[RelatedRow]] | None:
    """The public object of one entry and the relation rows it was given, or None."""
    query = select(Entry.id, Entry.doc).where(Entry.type == ctype.name, Entry.slug == slug)
    if published_only:
        query = query.where(Entry.status == "published")
    row = (await session.exec(query)).first()
    if row is None:
        return None
    related = await related_rows(session, [row[0]], published_only=published_only)
    return attach_relations(ctype, [(row[0], row[1])], related)[0], related
