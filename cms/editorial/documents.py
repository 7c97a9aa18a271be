"""Public documents of entries, and everything in them that depends on other entries.

A save (:func:`cms.editorial.entries.save_entry` and
:func:`~cms.editorial.entries.index_own_content`) stores what an entry derives
from itself: rendered HTML, table of contents, links, facets, search text.
The public document also shows things that belong to other entries:

- ``canonical_url``: the origin clinic's ``site_url`` and URL pattern;
- the hrefs of internal links: the targets' canonical URLs, or no link at
  all when a target is missing or not published;
- ``json_ld``: names and URLs of authors, reviewers, conditions, clinics,
  and the entries that contain it (``isPartOf``).

:func:`finish_writes` builds them once per write, after every entry and
relation of the write is saved, in the same transaction. It rebuilds the
written entries and every entry whose document shows something of theirs
that changed (its *face*: type, slug, title, status, canonical URL). Faces
depend only on the entry and its origin clinic, so the cascade stops after
one step: a clinic's new URL pattern moves the canonical URLs of the entries
on it (step 1), then the documents of entries that name those (step 2). The
dependents are found through the relations and links indexes, never by a
scan.

The save pipeline (:mod:`cms.editorial.pipeline`) calls, in one
transaction: ``save_entry`` for each entry, ``save_relations`` for each,
then :func:`finish_writes` once with the faces the entries had before.
Deleting an entry: collect :func:`dependents` first, delete, then
:func:`rebuild_documents` of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import and_, case, exists, false, func, literal, or_, tuple_
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms import jsonld
from cms.contenttypes import ContentType, TypeRegistry
from cms.dates import iso
from cms.editorial.entries import index_own_content
from cms.markdown import Renderer, resolve_internal_links
from cms.plugin_manager import PluginError
from cms.reading.facets import save_published_facets
from cms.reading.links import CHUNK, save_published_links, split_link
from cms.reading.search import index_entry, index_text
from cms.schemas import DETAIL_ONLY_FIELDS
from cms.storage.db import select_columns
from cms.storage.tables import Entry, EntryLink, EntryRelation, PublishedEntry
from cms.syndication import changes

_encoder = msgspec.json.Encoder()


@dataclass(frozen=True)
class Face:
    """What other entries' documents show of an entry."""

    id: str
    type: str
    slug: str
    title: str
    status: str
    canonical_url: str | None

    @property
    def published(self) -> bool:
        """Whether anonymous callers may see it (see :func:`visible_status`)."""
        return self.status == "published"


def face_columns(entry: Any) -> list[Any]:
    """The columns of a :class:`Face` (less its id) of ``entry`` (``Entry`` or an alias).

    While a published version is up, the face is the published one: its
    slug, title and canonical URL, status ``published`` (a published entry
    with a pending draft is public, though its working copy says draft), so
    that no draft's name or URL shows in another entry's document.
    """
    live = select(PublishedEntry).where(col(PublishedEntry.id) == entry.id)
    slug = live.with_only_columns(col(PublishedEntry.slug)).scalar_subquery()
    title = live.with_only_columns(col(PublishedEntry.title)).scalar_subquery()
    url = live.with_only_columns(col(PublishedEntry.canonical_url)).scalar_subquery()
    is_live = exists().where(col(PublishedEntry.id) == entry.id)
    return [
        entry.type,
        func.coalesce(slug, entry.slug),
        func.coalesce(title, entry.title),
        case((is_live, literal("published")), else_=entry.status),
        case((is_live, url), else_=entry.canonical_url),
    ]


def _chunks(ids: Iterable[str]) -> Iterable[list[str]]:
    items = sorted(set(ids))
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


async def faces(session: AsyncSession, ids: Collection[str]) -> dict[str, Face]:
    """The faces of ``ids``, by id (entries that do not exist are left out)."""
    out: dict[str, Face] = {}
    for chunk in _chunks(ids):
        rows = await session.exec(
            select_columns(Entry.id, *face_columns(Entry)).where(col(Entry.id).in_(chunk))
        )  # fmt: skip
        out.update({r[0]: Face(*r) for r in rows.all()})
    return out


# --- Step 1: canonical URLs ------------------------------------------------


def canonical_url(clinic_data: Mapping[str, Any] | None, type_name: str, slug: str) -> str | None:
    """``site_url`` + the clinic's URL pattern for ``type_name``, or None if it lacks either."""
    if not clinic_data:
        return None
    site = str(clinic_data.get("site_url") or "").rstrip("/")
    pattern = (clinic_data.get("url_patterns") or {}).get(type_name)
    if not site or not pattern:
        return None
    return site + str(pattern).replace("{slug}", slug)


async def _origins(session: AsyncSession, entries: Sequence[Entry]) -> dict[str, str | None]:
    """Each entry's origin clinic slug: ``origin_clinic``, else the first of ``clinics``."""
    origins: dict[str, str | None] = {e.id: e.origin_clinic for e in entries}
    missing = [e.id for e in entries if e.origin_clinic is None]
    if missing:
        clinic = aliased(Entry, name="clinic")
        rows = await session.exec(
            select(EntryRelation.source_id, clinic.slug)
            .join(clinic, col(clinic.id) == col(EntryRelation.target_id))
            .where(col(EntryRelation.source_id).in_(missing))
            .where(col(EntryRelation.field) == "clinics", col(EntryRelation.position) == 0)
        )
        origins.update(dict(rows.all()))
    return origins


async def _clinic_data(session: AsyncSession, slugs: Iterable[str | None]) -> dict[str, Any]:
    wanted = sorted({s for s in slugs if s})
    if not wanted:
        return {}
    rows = await session.exec(
        select(Entry.slug, Entry.data).where(Entry.type == "clinic", col(Entry.slug).in_(wanted))
    )
    return dict(rows.all())


async def update_canonical_urls(session: AsyncSession, ids: Collection[str]) -> set[str]:
    """Recompute the canonical URLs of ``ids``; the ids whose URL changed.

    Mirrored entries (``mirror_source``) keep the URL their origin gave them.
    """
    moved: set[str] = set()
    for chunk in _chunks(ids):
        query = select(Entry).where(col(Entry.id).in_(chunk), col(Entry.mirror_source).is_(None))
        entries = list((await session.exec(query)).all())
        origins = await _origins(session, entries)
        clinics = await _clinic_data(session, origins.values())
        for entry in entries:
            origin = origins.get(entry.id)
            url = canonical_url(clinics.get(origin) if origin else None, entry.type, entry.slug)
            if url != entry.canonical_url:
                entry.canonical_url = url
                session.add(entry)
                moved.add(entry.id)
        # A published copy without a pending draft moves with it (its
        # documents are rebuilt with the others), so that the entries that
        # show it are built with its new URL.
        live = [e.id for e in entries if e.id in moved and e.published_version == e.version]
        if live:
            urls = {e.id: e.canonical_url for e in entries}
            stmt = select(PublishedEntry).where(col(PublishedEntry.id).in_(live))
            for row in (await session.exec(stmt)).all():
                row.canonical_url = urls[row.id]
                session.add(row)
    await session.flush()
    return moved


async def _entries_on_clinics(session: AsyncSession, clinic_ids: Collection[str]) -> set[str]:
    out: set[str] = set()
    for chunk in _chunks(clinic_ids):
        rows = await session.exec(
            select(EntryRelation.source_id).where(
                col(EntryRelation.field) == "clinics", col(EntryRelation.target_id).in_(chunk)
            )
        )
        out.update(rows.all())
    return out


# --- Step 2: documents -----------------------------------------------------


def _has_part_pairs(types: TypeRegistry) -> list[tuple[str, str]]:
    return [(t.name, f) for t in types for f in t.has_part_fields()]


async def dependents(
    session: AsyncSession, types: TypeRegistry, ids: Collection[str], named: Iterable[Face]
) -> set[str]:
    """Entries whose documents show something of ``ids``.

    Args:
        ids: entries whose face changed.
        named: their faces, old and new: links name entries by type and slug,
            so a renamed entry's old linkers depend on it too.

    Returns:
        Entries that relate to them, link to them, or are parts of them.
    """
    out: set[str] = set()
    for chunk in _chunks(ids):
        rows = await session.exec(
            select(EntryRelation.source_id).where(col(EntryRelation.target_id).in_(chunk))
        )
        out.update(rows.all())
        parts = _has_part_pairs(types)
        if parts:
            source = aliased(Entry, name="source")
            rows = await session.exec(
                select(EntryRelation.target_id)
                .join(source, col(source.id) == col(EntryRelation.source_id))
                .where(col(EntryRelation.source_id).in_(chunk))
                .where(
                    or_(
                        *(
                            and_(col(source.type) == t, col(EntryRelation.field) == f)
                            for t, f in parts
                        )
                    )
                )
            )
            out.update(rows.all())
    pairs = sorted({(f.type, f.slug) for f in named})
    for start in range(0, len(pairs), CHUNK):
        rows = await session.exec(
            select(EntryLink.source_id).where(
                tuple_(col(EntryLink.target_type), col(EntryLink.target_slug)).in_(
                    pairs[start : start + CHUNK]
                )
            )
        )
        out.update(rows.all())
    return out


def build_documents(
    entry: Entry,
    ctype: ContentType,
    origin: str | None,
    body_html: str,
    json_ld: dict[str, Any],
    *,
    editor: bool = True,
) -> tuple[bytes, bytes]:
    """The public object of ``entry``, full and as a list item, pre-encoded.

    Relation fields hold placeholders here, so that their keys keep their
    place; :func:`cms.editorial.entries.attach_relations` fills them at read
    time, so that a renamed or unpublished target never shows stale.
    ``editor`` adds the workflow fields only editors see (the working
    documents); published copies are made without them.
    """
    placeholders: dict[str, Any] = {
        name: ([] if rel.many else None) for name, rel in ctype.all_relations().items()
    }
    doc: dict[str, Any] = {
        "id": entry.id,
        "type": entry.type,
        "slug": entry.slug,
        "title": entry.title,
        "summary": entry.summary,
        "status": entry.status,
        "clinics": [],
        "origin_clinic": origin,
        "canonical_url": entry.canonical_url,
        "tags": entry.tags,
        "seo": entry.seo,
        "published_at": iso(entry.published_at),
        "created_at": iso(entry.created_at),
        "updated_at": iso(entry.updated_at),
        "version": entry.version,
        **(
            {
                "scheduled_at": iso(entry.scheduled_at),
                "published_version": entry.published_version,
            }
            if editor
            else {}
        ),
        **({"mirror_source": entry.mirror_source} if editor and entry.mirror_source else {}),
        "reviewed_by": None,
        "last_reviewed": iso(entry.last_reviewed),
        "body": entry.body,
        "body_html": body_html,
        "toc": entry.toc,
        "reading_time_minutes": entry.reading_time_minutes,
        "links": entry.links,
    }
    for name in ctype.fields.__struct_fields__:
        doc[name] = placeholders[name] if name in ctype.relations else entry.data.get(name)
    doc["json_ld"] = json_ld
    item = {k: v for k, v in doc.items() if k not in DETAIL_ONLY_FIELDS}
    return _encoder.encode(doc), _encoder.encode(item)


@dataclass(frozen=True)
class _Related:
    field: str
    face: Face


def _ref(types: TypeRegistry, face: Face) -> jsonld.LdRef:
    ctype = types.get(face.type)
    return jsonld.LdRef(
        id=face.id,
        type=face.type,
        title=face.title,
        url=face.canonical_url,
        schema_type=ctype.json_ld_type if ctype else "Thing",
    )


async def rebuild_documents(
    session: AsyncSession, types: TypeRegistry, ids: Collection[str], outbox: changes.Outbox
) -> None:
    """Build the public documents of ``ids`` from the current state of the database.

    Four queries per chunk of entries, whatever the number of links and
    relations: the entries, their relation targets, their link targets and
    the entries that contain them. A published version that shows something
    new is recorded in ``outbox`` (a ``refresh``).
    """
    parts = _has_part_pairs(types)
    for chunk in _chunks(ids):
        entries = list((await session.exec(select(Entry).where(col(Entry.id).in_(chunk)))).all())
        target = aliased(Entry, name="target")
        rows = await session.exec(
            select_columns(EntryRelation.source_id, EntryRelation.field, target.id,
                           *face_columns(target))
            .join(target, col(target.id) == col(EntryRelation.target_id))
            .where(col(EntryRelation.source_id).in_(chunk))
            .order_by(col(EntryRelation.source_id), col(EntryRelation.field),
                      col(EntryRelation.position))
        )  # fmt: skip
        related: dict[str, list[_Related]] = defaultdict(list)
        for row in rows.all():
            related[row[0]].append(_Related(row[1], Face(*row[2:])))

        pairs = sorted({split_link(link) for e in entries for link in e.links})
        link_faces: dict[str, Face] = {}
        for start in range(0, len(pairs), CHUNK):
            rows2 = await session.exec(
                select_columns(Entry.id, *face_columns(Entry))
                .where(tuple_(col(Entry.type), col(Entry.slug)).in_(pairs[start : start + CHUNK]))
            )  # fmt: skip
            link_faces.update({f"{r[1]}/{r[2]}": Face(*r) for r in rows2.all()})

        containers: dict[str, list[Face]] = defaultdict(list)
        if parts:
            source = aliased(Entry, name="source")
            rows3 = await session.exec(
                select_columns(EntryRelation.target_id, source.id, *face_columns(source))
                .join(source, col(source.id) == col(EntryRelation.source_id))
                .where(col(EntryRelation.target_id).in_(chunk))
                .where(or_(false(), *(and_(col(source.type) == t, col(EntryRelation.field) == f)
                                      for t, f in parts)))
                .order_by(col(source.title), col(source.id))
            )  # fmt: skip
            for row in rows3.all():
                containers[row[0]].append(Face(*row[1:]))

        # Published copies are snapshots made at publish time; a dependent's is
        # rebuilt only when it has no pending draft (its working copy is what
        # is published), else it waits until the entry is published again.
        live = [e.id for e in entries if e.published_version == e.version]
        published: dict[str, PublishedEntry] = {}
        if live:
            found = await session.exec(
                select(PublishedEntry).where(col(PublishedEntry.id).in_(live))
            )
            published = {p.id: p for p in found.all()}
        refreshed: list[Entry] = []
        for entry in entries:
            ctype = types.get(entry.type)
            if ctype is None:  # a disabled plugin's entry: its document stays as it was
                continue
            _rebuild_one(types, ctype, entry, related[entry.id], link_faces, containers[entry.id])
            session.add(entry)
            live_row = published.get(entry.id)
            if live_row is not None:
                before = (live_row.doc, live_row.slug, live_row.title, live_row.canonical_url)
                copy_to_published(live_row, entry)
                session.add(live_row)
                if before != (live_row.doc, live_row.slug, live_row.title, live_row.canonical_url):
                    refreshed.append(entry)
        await session.flush()
        if refreshed:
            await _record_refreshes(session, refreshed, outbox)


async def _record_refreshes(
    session: AsyncSession, entries: Sequence[Entry], outbox: changes.Outbox
) -> None:
    """Record that the published versions of ``entries`` show something new (a renamed target)."""
    clinics = await changes.entry_clinics(session, entries, published=True)
    await outbox.add(
        *(
            changes.ChangeSpec.of(
                e,
                kind=changes.UPSERT,
                action="refresh",
                state=changes.PUBLISHED,
                after=clinics[e.id],
                before=clinics[e.id],
                had_before=True,
            )
            for e in entries
        )
    )


def _rebuild_one(
    types: TypeRegistry,
    ctype: ContentType,
    entry: Entry,
    related: Sequence[_Related],
    link_faces: Mapping[str, Face],
    containers: Sequence[Face],
) -> None:
    clinic_slugs = [r.face.slug for r in related if r.field == "clinics"]
    origin = entry.origin_clinic or next(iter(clinic_slugs), None)
    urls = {
        link: face.canonical_url if face.published else None
        for link in entry.links
        if (face := link_faces.get(link)) is not None
    }
    if entry.mirror_source is not None:
        # A mirror's links lead where its origin's do, mirrored here or not.
        urls = dict(entry.mirror_links or {})
    by_field: dict[str, list[jsonld.LdRef]] = defaultdict(list)
    origin_ref = None
    for rel in related:
        if not rel.face.published:
            continue
        ref = _ref(types, rel.face)
        by_field[rel.field].append(ref)
        if rel.field == "clinics" and rel.face.slug == origin:
            origin_ref = ref
    html = resolve_internal_links(entry.body_html, urls)
    ld = jsonld.LdEntry(
        me=jsonld.LdRef(id=entry.id, type=entry.type, title=entry.title,
                        url=entry.canonical_url, schema_type=ctype.json_ld_type),
        summary=entry.summary,
        published_at=entry.published_at,
        updated_at=entry.updated_at,
        last_reviewed=entry.last_reviewed,
        tags=entry.tags,
        data=entry.data,
        related=by_field,
        origin=origin_ref,
        containers=[_ref(types, f) for f in containers if f.published],
        body_html=html,
    )  # fmt: skip
    has_part = [ref for name in ctype.has_part_fields() for ref in by_field.get(name, [])]
    try:
        document = jsonld.build(ld, ctype.json_ld, ctype.json_ld_type, has_part)
    except Exception as exc:  # a plugin's mapping: name it, whatever it raised
        raise PluginError(
            f"plugin {ctype.plugin!r}: the JSON-LD mapping of {ctype.name} failed on "
            f"{entry.slug!r}: {exc!r}"
        ) from exc
    entry.doc, entry.doc_item = build_documents(entry, ctype, origin, html, document)


EDITOR_FIELDS = ("scheduled_at", "published_version", "mirror_source")


def copy_to_published(row: PublishedEntry, entry: Entry) -> None:
    """Make ``row`` the published version of ``entry``'s working copy, as it is now.

    The one place that decides what a published row holds: publishing writes
    it, and a dependent without a pending draft is refreshed through it.
    """
    row.slug = entry.slug
    row.title = entry.title
    assert entry.published_at is not None, "a published entry has a publication date"
    row.published_at = entry.published_at
    row.updated_at = entry.updated_at
    row.version = entry.version
    row.canonical_url = entry.canonical_url
    row.doc, row.doc_item = public_copy(entry.doc)


def public_copy(raw: bytes) -> tuple[bytes, bytes]:
    """A working document without the editor-only fields: full and as a list item."""
    doc: dict[str, Any] = msgspec.json.decode(raw)
    for name in EDITOR_FIELDS:
        doc.pop(name, None)
    item = {k: v for k, v in doc.items() if k not in DETAIL_ONLY_FIELDS}
    return _encoder.encode(doc), _encoder.encode(item)


# --- A write, start to finish ----------------------------------------------


async def finish_writes(
    session: AsyncSession,
    types: TypeRegistry,
    before: Mapping[str, Face | None],
    outbox: changes.Outbox,
    *,
    also: Iterable[str] = (),
) -> set[str]:
    """Build what the entries of a write derive from others, and rebuild their dependents.

    Args:
        before: every entry the write saved, with its face before the write
            (None for a new entry).
        outbox: where refreshed published versions are recorded.
        also: more entries to rebuild, e.g. former parts of a series
            (what :func:`cms.editorial.entries.save_relations` returns).

    Returns:
        The ids whose documents were rebuilt (a CDN purges their ``entry:`` keys).
    """
    changed = set(before)
    after = await faces(session, changed)
    clinics = {i for i, f in after.items() if f.type == "clinic"}
    on_clinics = await _entries_on_clinics(session, clinics) if clinics else set()
    moved = await update_canonical_urls(session, changed | on_clinics)
    after = await faces(session, changed | moved)
    face_changed = {i for i in changed if before[i] != after.get(i)} | moved
    named = [f for i in face_changed for f in (before.get(i), after.get(i)) if f is not None]
    dirty = changed | moved | set(also)
    if face_changed:
        dirty |= await dependents(session, types, face_changed, named)
    await rebuild_documents(session, types, dirty, outbox)
    return dirty


async def refresh_dependents(
    session: AsyncSession,
    types: TypeRegistry,
    before: Mapping[str, Face | None],
    outbox: changes.Outbox,
) -> set[str]:
    """Rebuild the entries whose documents show something of ``before`` that changed since.

    For a step that changes an entry's face after :func:`finish_writes` ran:
    publishing replaces the published version, whose name and URL are what
    other documents show.

    Returns:
        The ids rebuilt.
    """
    after = await faces(session, before)
    changed = {i for i in before if before[i] != after.get(i)}
    if not changed:
        return set()
    named = [f for i in changed for f in (before.get(i), after.get(i)) if f is not None]
    dirty = await dependents(session, types, changed, named) - set(before)
    await rebuild_documents(session, types, dirty, outbox)
    return dirty


async def rebuild_all(
    session: AsyncSession, types: TypeRegistry, renderer: Renderer, outbox: changes.Outbox
) -> int:
    """Derive everything again for every entry of an enabled type, without new versions.

    For a database migrated from an earlier schema, or after a plugin's
    Markdown extension, filters or JSON-LD mapping changed.

    Returns:
        The number of entries rebuilt.
    """
    names = [t.name for t in types]
    ids = list((await session.exec(select(Entry.id).where(col(Entry.type).in_(names)))).all())
    for chunk in _chunks(ids):
        entries = (await session.exec(select(Entry).where(col(Entry.id).in_(chunk)))).all()
        for entry in entries:
            rendered = renderer.render(entry.body)
            entry.body_html = rendered.html
            entry.toc = msgspec.to_builtins(rendered.toc)
            entry.reading_time_minutes = rendered.reading_time_minutes
            entry.links = list(rendered.links)
            entry.search_text = "\n".join((entry.title, entry.summary, rendered.text))
            session.add(entry)
            await index_own_content(session, types[entry.type], entry, tags=False)
        await session.flush()
    await update_canonical_urls(session, ids)
    await rebuild_documents(session, types, ids, outbox)
    await _reindex_published(session, types, renderer, ids)
    return len(ids)


async def _reindex_published(
    session: AsyncSession, types: TypeRegistry, renderer: Renderer, ids: Sequence[str]
) -> None:
    """Write the search text, links and facet values of every published version among ``ids``.

    Search, the public link lists and the public list filters follow what
    the public reads: an entry with a pending draft is indexed under its
    published version (its published document).
    """
    for chunk in _chunks(ids):
        rows = await session.exec(
            select(Entry, PublishedEntry)
            .join(PublishedEntry, col(PublishedEntry.id) == col(Entry.id))
            .where(col(Entry.id).in_(chunk))
        )
        for entry, live in rows.all():
            ctype = types[entry.type]
            if entry.published_version == entry.version:
                text = renderer.render(entry.body).text
                await index_entry(session, ctype, entry, text)
                await save_published_links(session, entry.id)
                await save_published_facets(session, ctype, entry.id)
                continue
            doc = msgspec.json.decode(live.doc)
            rendered = renderer.render(doc.get("body", ""))
            await index_text(
                session, ctype, entry.id, status="published", title=doc.get("title", ""),
                summary=doc.get("summary", ""), data=doc, body_text=rendered.text,
            )  # fmt: skip
            await save_published_links(session, entry.id, rendered.links)
            await save_published_facets(session, ctype, entry.id, doc)
        await session.flush()
