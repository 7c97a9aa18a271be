"""Saving entries and reading them back.

A save renders the Markdown, rewrites the entry's tags, links, facets and
relations and appends a revision, all in the caller's transaction; the save
pipeline (:mod:`cms.editorial.pipeline`) runs these steps, then has the
documents built (they depend on other entries too). A read fetches pre-encoded documents and joins
the current {slug, title} of related entries in one more query (and, for
types that plugins add response fields to, their stored values in a third):
a fixed number of queries per request, whatever the page size.
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
from cms.dates import iso
from cms.editorial.extras import attach_extras, extra_values
from cms.editorial.validation import EntryInput
from cms.errors import FieldError, InvalidEntry
from cms.markdown import Renderer, RenderRefused
from cms.reading.facets import save_facets
from cms.reading.links import save_links
from cms.storage.db import select_columns
from cms.storage.tables import Entry, EntryRelation, EntryTag, Revision, SlugRedirect, utcnow
from cms.storage.views import PUBLISHED, WORKING
from cms.syndication import changes

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
    outbox: changes.Outbox,
    *,
    actor: str | None = None,
    now: dt.datetime | None = None,
    action: str = "save",
    force: bool = False,
) -> tuple[Entry, bool]:
    """Create or update the entry ``inp`` describes, without its relations.

    A step of the save pipeline (:mod:`cms.editorial.pipeline`), which then
    writes the entry's indexes (:func:`index_own_content`), calls
    :func:`save_relations` after every entry of a batch is saved, so that
    entries may reference each other in any order, then builds the public
    documents, which until then are empty (new entries) or stale.

    Args:
        outbox: where the change to the working copy is recorded.
        action: what the revision records the change as (``update``, ``publish``, …).
        force: write a new version even when the document is unchanged (a
            workflow step that changes only what is published).

    Returns:
        The entry and whether anything changed (an identical save is a no-op:
        no new version, no revision).

    Raises:
        InvalidEntry: another entry has the id, or the body is longer or
            costlier to render than the renderer's limits allow.
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
    if existing is not None and existing.content_hash == digest and not force:
        return existing, False

    common = inp.common
    published_at = common.published_at
    if common.status == "published" and published_at is None:
        published_at = now
    try:
        rendered = await renderer.render_limited(common.body)
    except RenderRefused as exc:
        raise InvalidEntry([FieldError("body", str(exc))]) from exc
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
    session.add(
        Revision(
            entry_id=entry.id,
            version=entry.version,
            created_at=now,
            actor=actor,
            action=action,
            changed_fields=_changed(previous, payload),
            snapshot=payload,
        )
    )
    await outbox.add(
        changes.ChangeSpec.of(
            entry,
            kind=changes.UPSERT,
            action="create" if existing is None else action,  # a new entry, however made
            state=changes.WORKING,
            after=changes.input_clinics(inp),
            at=now,
        )
    )
    return entry, True


async def index_own_content(
    session: AsyncSession,
    ctype: ContentType,
    entry: Entry,
    *,
    new: bool = False,
    tags: bool = True,
) -> None:
    """Write the indexes of what ``entry`` says itself: tags, links and facets.

    The search text is the published version's: it is written when an entry
    is published (:func:`cms.editorial.published.write_published`).

    Args:
        new: the entry was just created, so it has no index rows to replace
            (a bulk load of new entries skips four statements each).
        tags: write the tag rows too (a rebuild, which changes no tag, skips them).
    """
    if tags:
        if not new:
            await session.exec(delete(EntryTag).where(col(EntryTag.entry_id) == entry.id))
        session.add_all(EntryTag(entry_id=entry.id, tag=tag) for tag in entry.tags)
    await save_links(session, entry.id, entry.links, new=new)
    await save_facets(session, ctype, entry.id, entry.data, new=new)


async def save_relations(
    session: AsyncSession, types: TypeRegistry, entry: Entry, inp: EntryInput
) -> set[str]:
    """Replace ``entry``'s relation rows with the slugs ``inp`` names.

    Returns:
        Ids of entries that became or stopped being parts of ``entry``
        (``has_part`` relations): their documents name their container, so
        they are rebuilt too.

    Raises:
        InvalidEntry: naming each field that references a missing entry.
    """
    wanted = inp.relation_slugs()
    relations = inp.ctype.all_relations()
    by_type: dict[str, set[str]] = defaultdict(set)
    errors: list[FieldError] = []
    for name, values in wanted.items():
        rel = relations[name]
        for value in values:
            type_name, slug = rel.split(value)
            if type_name not in rel.targets:
                errors.append(
                    FieldError(name, f"{value!r}: must name one of {', '.join(rel.targets)}")
                )
            elif not types.enabled(type_name):
                errors.append(
                    FieldError(name, f"{value!r}: type {type_name!r} is not enabled (CMS_PLUGINS)")
                )
            else:
                by_type[type_name].add(slug)
    if errors:
        raise InvalidEntry(errors)
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
        missing = wanted_slugs - {slug for (t, slug) in ids if t == type_name}
        if missing:
            # A slug a target had before it was renamed still names it (an old
            # revision being restored, a content file not yet updated).
            moved = await session.exec(
                select(SlugRedirect.slug, SlugRedirect.entry_id).where(
                    SlugRedirect.type == type_name, col(SlugRedirect.slug).in_(missing)
                )
            )
            ids.update({(type_name, slug): eid for slug, eid in moved.all()})
    errors = [
        FieldError(name, f"no {key[0]} with slug {key[1]!r}")
        for name, values in wanted.items()
        for key in map(relations[name].split, values)
        if key not in ids
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
        (name, ids[relations[name].split(value)])
        for name in has_part
        for value in wanted.get(name, [])
    }
    session.add_all(
        EntryRelation(
            source_id=entry.id,
            field=name,
            position=position,
            target_id=ids[relations[name].split(value)],
        )
        for name, values in wanted.items()
        for position, value in enumerate(values)
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


def editor_fields(entry: Entry) -> dict[str, Any]:
    """The workflow fields only editors see: when it goes live, which version is live."""
    return {
        "scheduled_at": iso(entry.scheduled_at),
        "published_version": entry.published_version,
    }


def refresh_documents(entry: Entry) -> None:
    """Re-encode the workflow fields of the working documents, after a workflow step.

    The documents themselves are built by
    :func:`cms.editorial.documents.finish_writes`; writing or removing the
    published version, which changes only the schedule or the published
    version, patches them here.
    """
    if not entry.doc:
        return
    fields = editor_fields(entry) | {"status": entry.status}
    doc: dict[str, Any] = msgspec.json.decode(entry.doc)
    doc.update({k: v for k, v in fields.items() if k in doc})
    item: dict[str, Any] = msgspec.json.decode(entry.doc_item) if entry.doc_item else {}
    item.update({k: v for k, v in fields.items() if k in item})
    entry.doc, entry.doc_item = _encoder.encode(doc), _encoder.encode(item)


# --- Reading ---------------------------------------------------------------


# Built once per view: an alias copies every column, too costly per request.
_TARGETS: dict[bool, Any] = {
    True: aliased(PUBLISHED.entry, name="target"),
    False: aliased(WORKING.entry, name="target"),
}


class RelatedRow(msgspec.Struct, array_like=True):
    """One relation of a document being read, with its target's current name."""

    source_id: str
    field: str
    slug: str
    title: str
    type: str
    target_id: str = ""


async def related_rows(
    session: AsyncSession, source_ids: Iterable[str], *, published_only: bool
) -> list[RelatedRow]:
    """Every relation of ``source_ids``, in field order, with target slug, title and type.

    ``published_only`` reads the published versions' relations, to targets
    that are published themselves (under their published slug and title);
    otherwise the working copies' relations, to targets in any status.
    """
    view = PUBLISHED if published_only else WORKING
    rel = view.relation
    target = _TARGETS[published_only]
    query = (
        select_columns(rel.source_id, rel.field, target.slug, target.title, target.type, target.id)
        .join(target, col(target.id) == col(rel.target_id))
        .where(col(rel.source_id).in_(list(source_ids)))
        .order_by(col(rel.source_id), col(rel.field), col(rel.position))
    )
    result = await session.exec(query)
    return [RelatedRow(*row) for row in result.all()]


def attach_relations(
    ctype: ContentType, docs: list[tuple[str, bytes]], related: list[RelatedRow]
) -> list[dict[str, Any]]:
    """Decode ``docs`` (id, bytes) and fill their relation fields from ``related``.

    ``clinics`` is a list of slugs (the sites an entry appears on); every other
    relation is a ``{slug, title}`` reference, or a list of them, with the
    target's ``type`` too when the relation may name several types.
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
            refs = [reference(r, rel.typed) for r in rows]
            if name == "clinics":
                doc[name] = [r.slug for r in rows]
            elif rel.many:
                doc[name] = refs
            else:
                doc[name] = refs[0] if refs else None
        out.append(doc)
    return out


def reference(row: RelatedRow, typed: bool) -> dict[str, str]:
    """The reference a relation shows: ``{slug, title}``, with ``type`` when ``typed``."""
    if typed:
        return {"type": row.type, "slug": row.slug, "title": row.title}
    return {"slug": row.slug, "title": row.title}


async def read_entry(
    session: AsyncSession,
    ctype: ContentType,
    slug: str | None = None,
    *,
    published_only: bool = True,
    entry_id: str | None = None,
) -> dict[str, Any] | None:
    """One entry by ``slug`` (or ``entry_id``), or None when there is none to show.

    ``published_only`` reads the published version (what the public sees);
    otherwise the working copy editors read and change.
    """
    found = await read_entry_with_relations(
        session, ctype, slug, published_only=published_only, entry_id=entry_id
    )
    return found[0] if found is not None else None


async def read_entry_with_relations(
    session: AsyncSession,
    ctype: ContentType,
    slug: str | None = None,
    *,
    published_only: bool = True,
    entry_id: str | None = None,
) -> tuple[dict[str, Any], list[RelatedRow]] | None:
    """One entry's object and the relation rows it was given, or None."""
    table = PUBLISHED.entry if published_only else WORKING.entry
    query = select(table.id, table.doc).where(table.type == ctype.name)
    query = (
        query.where(table.slug == slug) if entry_id is None else query.where(table.id == entry_id)
    )
    row = (await session.exec(query)).first()
    if row is None:
        return None
    related = await related_rows(session, [row[0]], published_only=published_only)
    docs = attach_relations(ctype, [(row[0], row[1])], related)
    attach_extras(ctype, docs, await extra_values(session, ctype, [row[0]]))
    return docs[0], related
