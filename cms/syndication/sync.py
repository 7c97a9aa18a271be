"""Mirroring one clinic of another instance of this CMS: ``cms sync pull``.

A pull reads the origin's change feed (``GET /api/v1/changes?clinic=…``) from
the position stored in ``sync_sources`` for (origin, clinic), page by page,
until it has caught up, and applies each change in its own transaction
together with the new position: an interrupted pull resumes after the last
change it applied and never applies one twice.

- ``upsert``: the entry's public document is fetched from the origin and
  saved here through the save pipeline (:mod:`cms.editorial.pipeline`, with
  a :class:`~cms.editorial.pipeline.Mirror`), published as the origin
  published it, with the origin's ``id``, ``published_at`` and
  ``canonical_url`` (the canonical-URL step leaves mirrors alone), and its
  internal links resolved as the origin resolves them (``mirror_links``).
  Relation targets missing here (an author, a condition, a clinic) are
  fetched and mirrored first, in the same transaction. Saving what is
  already here changes nothing: no version, revision or change event.
- ``delete``: the mirror of that entry is deleted. If other entries here
  still name it, it is kept while the origin still publishes it (it is what
  they name) and taken down (a draft, off the public API) otherwise. An entry
  that is not a mirror of that origin is never touched.

Every read of the origin goes through the API client, :mod:`cms.client`.

Mirrored entries carry ``mirror_source`` (the origin's base URL) and are
read-only here: the editors' routes answer 409 and content files may not
change them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.client import (
    ApiError,
    AsyncClient,
    Change,
    ChangePage,
    ClientError,
    InvalidBaseURL,
    Moved,
    NotFound,
    TransportError,
    base_url,
)
from cms.contenttypes import ContentType, TypeRegistry
from cms.editorial import pipeline, workflow
from cms.editorial.entries import find_entry
from cms.editorial.pipeline import Checks, Published, Told, WriteContext
from cms.editorial.slugs import release_slug
from cms.editorial.validation import EntryInput, document_fields, parse_entry, references
from cms.errors import Conflict, InvalidEntry
from cms.markdown import Renderer
from cms.plugin_manager import PluginError, Plugins
from cms.reading.links import split_link
from cms.schemas import web_url_problem
from cms.storage.db import writing
from cms.storage.tables import Entry, EntryRelation, PublishedRelation, SyncSource, utcnow
from cms.urls import API

ACTOR = "sync"
"""What revisions made by a pull name as their actor and action."""
TIMEOUT = 30.0


class SyncError(Exception):
    """A pull that cannot go on. The mirror stays at the last change applied (``report``)."""

    report: PullReport | None = None


@dataclass
class PullReport:
    """What a pull did, and where it stands."""

    source: str
    clinic: str
    start: int = 0
    """The position the pull started from."""
    position: int = 0
    """The last change applied (or read past): the next pull starts after it."""
    last_seq: int = 0
    """The origin's newest change when the feed was last read."""
    events: int = 0
    upserts: int = 0
    """Entries written here (created or changed), dependencies included."""
    unchanged: int = 0
    """Upserts of entries that already were as the origin has them."""
    deletes: int = 0
    """Mirrors deleted or taken down."""
    skipped: int = 0
    """Events left alone: gone at the origin, or no mirror of this origin here."""
    caught_up: bool = False


Progress = Callable[[Change, str], None]
"""Told of each applied event and what came of it."""


def normalize_source(url: str) -> str:
    """The origin's base URL as stored: no trailing slash, no ``/api/v1``.

    Raises:
        SyncError: not an http(s) URL with a host.
    """
    try:
        return base_url(url)
    except InvalidBaseURL as exc:
        raise SyncError(str(exc)) from exc


class Origin:
    """The origin instance's API, as a pull reads it: through :mod:`cms.client`."""

    def __init__(self, client: AsyncClient) -> None:
        self.feed_reader = client
        """Reads the change feed, with the token if there is one."""
        self.public = client.anonymous()
        """Reads entries: always without the token, so that no draft reaches a mirror."""

    @staticmethod
    def _failure(exc: ClientError) -> SyncError:
        if isinstance(exc, TransportError):
            return SyncError(f"cannot reach the origin at {exc.url}: {exc.reason}")
        if isinstance(exc, ApiError):
            detail = exc.detail or exc.title
            hint = " (is --token right?)" if exc.status in (401, 403) else ""
            return SyncError(
                f"the origin answered {exc.status} to {exc.url}"
                + (f": {detail}" if detail else "")
                + hint
            )
        return SyncError(str(exc))

    async def feed(self, clinic: str, since: int, limit: int) -> ChangePage:
        """One page of the clinic's published changes after ``since``."""
        try:
            return await self.feed_reader.changes_page(since, clinic=clinic, limit=limit)
        except ClientError as exc:
            raise self._failure(exc) from exc

    async def entry(
        self, ctype: ContentType, slug: str, *, follow: bool = True
    ) -> dict[str, Any] | None:
        """The public document of ``ctype``/``slug``, or None when the origin has none.

        Read without the token, always: with one, the origin answers working
        copies, and a draft must never reach a mirror.

        Args:
            follow: follow a redirect from an old slug to the entry's new one.
        """
        try:
            found = await self.public.get(ctype.plural, slug, follow_redirects=follow)
        except (NotFound, Moved):
            return None
        except ClientError as exc:
            raise self._failure(exc) from exc
        if not isinstance(found.document.get("id"), str):
            url = f"{self.public.base}{API}/{ctype.plural}/{slug}"
            raise SyncError(f"{url} is not an entry of this CMS")
        if found.status != "published":  # only published versions are mirrored
            return None
        return found.document


def web_url(value: Any) -> str | None:
    """``value`` when it keeps the rule of every URL field (:data:`cms.schemas.WebUrl`),
    else None: what an origin says is written into documents here, so nothing
    else (``javascript:``) gets through."""
    if not isinstance(value, str) or web_url_problem(value):
        return None
    return value


# --- Turning an origin document into a write ---------------------------------------


def relation_targets(ctype: ContentType, doc: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """The (type, slug, title) of every entry ``doc`` relates to (``clinics`` have no title)."""
    out: list[tuple[str, str, str | None]] = []
    for name, rel in ctype.all_relations().items():
        for ref in references(doc.get(name)):
            if isinstance(ref, str):
                out.append((rel.target, ref, None))
            elif isinstance(ref, dict) and isinstance(ref.get("slug"), str):
                out.append((str(ref.get("type") or rel.target), ref["slug"], ref.get("title")))
    return out


def entry_input(ctype: ContentType, doc: dict[str, Any]) -> EntryInput:
    """The write that makes a mirror say what the origin's public ``doc`` says, published.

    Raises:
        SyncError: the document does not validate here (naming each field).
    """
    raw = document_fields(ctype, doc) | {"status": "published"}
    try:
        return parse_entry(ctype, str(doc.get("slug")), raw, entry_id=doc["id"])
    except InvalidEntry as exc:
        fields = "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
        raise SyncError(f"{ctype.name}/{doc.get('slug')} does not validate here: {fields}") from exc


@dataclass
class _Planned:
    ctype: ContentType
    doc: dict[str, Any]
    links: dict[str, str | None]


async def _needs_fetch(
    session: AsyncSession,
    source: str,
    type_name: str,
    slug: str,
    title: str | None,
    *,
    refresh: bool,
) -> bool:
    """Whether a relation target must be fetched: missing here, or a mirror of ``source``
    that is stale (taken down, another title) or, with ``refresh``, any mirror of it."""
    row = (
        await session.exec(
            select(Entry.mirror_source, Entry.title, Entry.published_version).where(
                Entry.type == type_name, Entry.slug == slug
            )
        )
    ).first()
    if row is None:
        return True
    mirror, local_title, live = row
    stale = refresh or live is None or (title is not None and title != local_title)
    return mirror == source and stale


async def _plan(
    session: AsyncSession,
    origin: Origin,
    types: TypeRegistry,
    source: str,
    ctype: ContentType,
    doc: dict[str, Any],
) -> list[_Planned]:
    """``doc`` and every relation target to mirror with it, with their links' URLs.

    The entries ``doc`` names directly are fetched again when they are mirrors
    of ``source``: one that is not on the mirrored clinic has no events of its
    own here, but the entries naming it get one whenever what it shows them
    changes (a ``refresh``), which keeps it as fresh as they are.
    """
    planned: dict[tuple[str, str], _Planned] = {}
    queue = [(ctype, doc, 0)]
    queued = {(ctype.name, str(doc["slug"]))}
    while queue:
        current_type, current, depth = queue.pop()
        key = (current_type.name, str(current["slug"]))
        planned[key] = _Planned(current_type, current, {})
        for type_name, slug, title in relation_targets(current_type, current):
            if (type_name, slug) in queued:
                continue
            target_type = types.get(type_name)
            if target_type is None:
                raise SyncError(
                    f"{key[0]}/{key[1]} names {type_name}/{slug}, and type {type_name!r} is "
                    "not enabled here (CMS_PLUGINS)"
                )
            if await _needs_fetch(session, source, type_name, slug, title, refresh=depth == 0):
                target = await origin.entry(target_type, slug)
                if target is None:
                    raise SyncError(
                        f"{key[0]}/{key[1]} names {type_name}/{slug}, which the origin no "
                        "longer publishes; pull again in a moment"
                    )
                queue.append((target_type, target, depth + 1))
                queued.add((type_name, slug))
    # Internal links lead where the origin's lead: to the target's canonical URL
    # while it is published there under that slug, else nowhere (text).
    urls: dict[str, str | None] = {}
    for item in planned.values():
        for link in item.doc.get("links") or []:
            if link not in urls:
                type_name, slug = split_link(str(link))
                target_type = types.get(type_name)
                found = planned.get((type_name, slug))
                target = found.doc if found else None
                if target is None and target_type is not None:
                    target = await origin.entry(target_type, slug, follow=False)
                urls[link] = web_url(target.get("canonical_url")) if target else None
            item.links[link] = urls[link]
    return list(planned.values())


async def _mirror_row(
    session: AsyncSession, source: str, ctype: ContentType, inp: EntryInput
) -> Entry | None:
    """The mirror ``inp`` updates (the pipeline renames it to ``inp``'s slug if the
    origin renamed it), or None.

    Raises:
        SyncError: an entry here that is not a mirror of ``source`` has its id or slug.
    """
    name = f"{ctype.name}/{inp.slug}"
    local = await session.get(Entry, inp.id)
    taken = await find_entry(session, ctype.name, inp.slug)
    if local is not None and (local.mirror_source != source or local.type != ctype.name):
        raise SyncError(
            f"{name}: the entry with the origin's id {inp.id} here ({local.type}/{local.slug}) "
            f"is not a mirror of {source}; nothing of it was changed"
        )
    if taken is not None and taken is not local:
        raise SyncError(
            f"{name} exists here and is not the mirror of that entry of {source}; "
            "rename or delete it here, then pull again"
        )
    if local is None:
        await release_slug(session, ctype.name, inp.slug)
    return local


def _when(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value).astimezone(dt.UTC)
    except ValueError:
        return None


async def _write_upsert(
    session: AsyncSession, ctx: WriteContext, source: str, plan: list[_Planned]
) -> tuple[int, int]:
    """Save ``plan`` as published mirrors, in the caller's transaction.

    Returns:
        How many entries were written, and how many were already as planned.
    """
    saves: list[pipeline.Save] = []
    for item in plan:
        inp = entry_input(item.ctype, item.doc)
        local = await _mirror_row(session, source, item.ctype, inp)
        # What the origin says beside the content: its URL, where its links
        # lead, and when it was created and last changed.
        mirror = pipeline.Mirror(
            source=source,
            canonical_url=web_url(item.doc.get("canonical_url")),
            links=item.links,
            created_at=_when(item.doc.get("created_at")),
            updated_at=_when(item.doc.get("updated_at")),
        )
        saves.append(
            pipeline.Save(
                inp, entry=local, action=ACTOR, published=Published.PUBLISH, mirror=mirror
            )
        )
    # The origin ran the publish and link checks (Checks.NONE); plugins hear
    # the working copy's status before (Told.WORKING).
    result = await pipeline.save(session, ctx, saves, checks=Checks.NONE, told=Told.WORKING)
    written = sum(1 for s in result.saved if s.changed)
    return written, len(result.saved) - written


async def _referred_to(session: AsyncSession, entry_id: str) -> bool:
    """Whether another entry names ``entry_id`` in a relation (working or published)."""
    for relation in (EntryRelation, PublishedRelation):
        found = await session.exec(
            select(relation.source_id)
            .where(col(relation.target_id) == entry_id, col(relation.source_id) != entry_id)
            .limit(1)
        )
        if found.first() is not None:
            return True
    return False


async def _write_delete(
    session: AsyncSession, ctx: WriteContext, source: str, event: Change, still_live: bool
) -> tuple[str, bool]:
    """Remove the mirror of ``event``'s entry, in the caller's transaction.

    Returns:
        What happened, and whether the mirror was removed (deleted or taken down).
    """
    entry = await session.get(Entry, event.id)
    if entry is None:
        return "skipped: no mirror of it here", False
    if entry.mirror_source != source:
        return f"skipped: {entry.type}/{entry.slug} here is not a mirror of {source}", False
    ctype = ctx.types.get(entry.type)
    if ctype is None:
        raise SyncError(f"{entry.type}/{entry.slug}: type {entry.type!r} is not enabled here")
    if not await _referred_to(session, entry.id):
        await workflow.delete_entry(session, ctx, entry)
        return "deleted", True
    if still_live:
        return "kept: entries here name it, and the origin still publishes it", False
    if entry.published_version is None:
        return "unchanged: already taken down", False
    await workflow.take_down(session, ctx, ctype, entry, "draft", action=ACTOR)
    return "taken down (entries here still name it)", True


# --- The pull ------------------------------------------------------------------------


async def _start(sessions: async_sessionmaker[AsyncSession], source: str, clinic: str) -> int:
    async with writing(sessions) as session, session.begin():
        row = await session.get(SyncSource, (source, clinic))
        if row is None:
            session.add(SyncSource(source=source, clinic=clinic, seq=0, updated_at=utcnow()))
            return 0
        return int(row.seq)


async def _advance(session: AsyncSession, source: str, clinic: str, old: int, new: int) -> None:
    """Move the stored position from ``old`` to ``new`` in the caller's transaction.

    The compare-and-set also serialises pulls of one mirror: a second pull
    that started from the same position finds it moved and stops.
    """
    moved = await session.exec(
        update(SyncSource)
        .where(
            col(SyncSource.source) == source,
            col(SyncSource.clinic) == clinic,
            col(SyncSource.seq) == old,
        )
        .values(seq=new, updated_at=utcnow())
        .returning(col(SyncSource.seq))
    )
    if moved.first() is None:
        raise SyncError(
            f"the mirror of {clinic} from {source} is no longer at change {old}: "
            "another pull ran at the same time; run it again"
        )


async def pull(
    sessions: async_sessionmaker[AsyncSession],
    plugins: Plugins,
    renderer: Renderer,
    source: str,
    clinic: str,
    *,
    token: str | None = None,
    max_events: int | None = None,
    batch: int = 100,
    progress: Progress | None = None,
    client: httpx.AsyncClient | None = None,
) -> PullReport:
    """Apply the origin's changes to ``clinic`` since the stored position, until caught up.

    Args:
        source: the origin's base URL (``https://cms.example.org``).
        token: sent as ``Authorization: Bearer`` with the origin's change feed
            (never with entry reads, which must see published versions only).
        max_events: stop after applying this many events (resume with the next pull).
        batch: events per page of the feed.
        client: an HTTP client to use instead of a new one.

    Raises:
        SyncError: the origin is unreachable or answers something unexpected, a
            type is not enabled here, or an entry here is in the way; ``report``
            says how far the pull got (its position is stored).
    """
    base = normalize_source(source)
    report = PullReport(source=base, clinic=clinic)
    reader = AsyncClient(base, token, http=client, timeout=TIMEOUT)
    try:
        origin = Origin(reader)
        report.start = report.position = await _start(sessions, base, clinic)
        if report.start == 0:
            # A first pull: a misspelt clinic would read an empty feed, and succeed.
            clinic_type = plugins.types.get("clinic")
            assert clinic_type is not None, "clinics are a core type"
            if await origin.entry(clinic_type, clinic) is None:
                raise SyncError(f"the origin {base} publishes no clinic {clinic!r}")
        await _pull_pages(sessions, plugins, renderer, origin, report, max_events, batch, progress)
    except SyncError as exc:
        exc.report = report
        raise
    finally:
        await reader.aclose()
    return report


async def _pull_pages(
    sessions: async_sessionmaker[AsyncSession],
    plugins: Plugins,
    renderer: Renderer,
    origin: Origin,
    report: PullReport,
    max_events: int | None,
    batch: int,
    progress: Progress | None,
) -> None:
    while max_events is None or report.events < max_events:
        limit = batch if max_events is None else min(batch, max_events - report.events)
        page = await origin.feed(report.clinic, report.position, limit)
        report.last_seq = page.last_seq
        for event in page.data:
            if event.seq <= report.position:
                continue
            outcome = await _apply(sessions, plugins, renderer, origin, report, event)
            report.position = event.seq
            report.events += 1
            if progress is not None:
                progress(event, outcome)
            if max_events is not None and report.events >= max_events:
                break
        else:
            if page.next_since > report.position:
                # Changes to other clinics lie in between: read past them.
                async with writing(sessions) as session, session.begin():
                    await _advance(
                        session, report.source, report.clinic, report.position, page.next_since
                    )
                report.position = page.next_since
            if report.position >= page.last_seq or not page.data:
                break
    report.caught_up = report.position >= report.last_seq


async def _apply(
    sessions: async_sessionmaker[AsyncSession],
    plugins: Plugins,
    renderer: Renderer,
    origin: Origin,
    report: PullReport,
    event: Change,
) -> str:
    """Apply one event and store the position after it, in one transaction; what happened."""
    types = plugins.types
    source = report.source
    where = f"change {event.seq} ({event.event} {event.type}/{event.slug})"
    ctype = types.get(event.type)
    ctx = WriteContext(
        types=types,
        renderer=renderer,
        actor=ACTOR,
        now=utcnow(),
        plugins=plugins.manager,
        force=True,  # the origin decided; links here follow
    )
    try:
        if event.event == "upsert":
            if ctype is None:
                raise SyncError(
                    f"type {event.type!r} is not enabled here (CMS_PLUGINS); enable its "
                    "plugin, then pull again"
                )
            doc = await origin.entry(ctype, event.slug)
            if doc is not None and doc["id"] != event.id:
                doc = None  # the slug is another entry's now; this one's events follow
            plan: list[_Planned] = []
            if doc is not None:
                async with sessions() as session:
                    plan = await _plan(session, origin, types, source, ctype, doc)
            async with writing(sessions) as session, session.begin():
                await _advance(session, source, report.clinic, report.position, event.seq)
                if not plan:
                    report.skipped += 1
                    return "skipped: gone at the origin"
                written, unchanged = await _write_upsert(session, ctx, source, plan)
            report.upserts += written
            report.unchanged += unchanged
            if written == 0:
                return "unchanged"
            return f"applied ({written} entries written)" if written > 1 else "applied"
        still_live = False
        if ctype is not None:
            async with sessions() as session:
                local = await session.get(Entry, event.id)
                mine = local is not None and local.mirror_source == source
            if mine:
                doc = await origin.entry(ctype, event.slug)
                still_live = doc is not None and doc["id"] == event.id
        async with writing(sessions) as session, session.begin():
            await _advance(session, source, report.clinic, report.position, event.seq)
            outcome, removed = await _write_delete(session, ctx, source, event, still_live)
        if removed:
            report.deletes += 1
        elif outcome.startswith("skipped"):
            report.skipped += 1
        return outcome
    except SyncError as exc:
        raise SyncError(f"{where}: {exc}") from exc
    except (InvalidEntry, Conflict, PluginError) as exc:
        raise SyncError(f"{where}: {_describe(exc)}") from exc


def _describe(exc: Exception) -> str:
    if isinstance(exc, InvalidEntry):
        return "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
    return str(exc)


def describe(report: PullReport) -> str:
    """One line on where a pull stopped."""
    where = f"at change {report.position} of {report.last_seq}"
    if report.caught_up:
        return f"{where}: caught up"
    return f"{where}: stopped early; the next pull resumes after change {report.position}"
