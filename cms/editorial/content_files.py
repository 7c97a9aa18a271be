"""Content as Markdown files with YAML front matter, one folder per type.

``content/articles/low-back-pain-causes.md`` is the article with slug
``low-back-pain-causes``; its front matter holds the common and type-specific
fields (relations as slugs), the Markdown after it is the body. Loading
validates every file before writing anything, then upserts all of them in one
transaction; dumping writes the same layout back, leaving out every field
that has its default, so that load then dump reproduces the files.

Loading is a save like any other, one batch through the save pipeline
(:mod:`cms.editorial.pipeline`): after the entries and relations, it builds
the documents, makes the published versions follow the files' statuses,
then runs the plugins' publish checks and checks internal links on the
state after the load. A load that would publish an entry with a broken
link, or unpublish an entry that published entries link to, is refused
unless forced; plugins hear about what changed.

A load never reverts a change made in the database (through the API, the
scheduler, a mirror's pull). Each load and dump records, per folder and file,
the entry's version and what the file said (:class:`ContentFileState`): the
common ancestor of a three-way comparison. A file is taken when its entry has
not changed since; an entry that changed is kept, and reported as a conflict
when its file changed too, unless the load is forced.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import frontmatter
import msgspec
import yaml
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.contenttypes import ContentType, Relation, TypeRegistry
from cms.dates import iso
from cms.editorial import pipeline
from cms.editorial.editing import current_document
from cms.editorial.entries import content_hash, derived_id
from cms.editorial.pipeline import Checks, Published, Told, WriteContext
from cms.editorial.validation import EntryInput, parse_entry
from cms.errors import InvalidEntry, SaveRefused
from cms.markdown import Renderer
from cms.plugin_manager import Plugins
from cms.reading.links import BrokenLink
from cms.schemas import EntryCommon
from cms.storage.db import select_columns, writing
from cms.storage.tables import (
    ApiToken,
    ContentFileState,
    Entry,
    EntryRelation,
    Revision,
    utcnow,
)

SUFFIX = ".md"
# The revisions' actor of a load: a version it wrote did not come from the API.
LOAD_ACTOR = "content-load"
# Front-matter keys a load reads past: `cms remote pull` keeps the entry's ETag
# in the file for `cms remote push`; it says nothing about the entry itself.
IGNORED_KEYS = ("etag",)


class ContentError(Exception):
    """Files that cannot be loaded; each line names a file and a field.

    ``broken_links`` is true when some of the problems are internal links the
    load would break, which loading with ``force`` accepts.
    """

    def __init__(self, problems: list[str], *, broken_links: bool = False) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.broken_links = broken_links


@dataclass(frozen=True)
class Kept:
    """A file the load did not take: its entry changed in the database since the
    folder last saw it, and the database's version stands."""

    path: Path
    database: str
    """The entry now: ``version 7 of 2026-03-02T10:00:00Z (publish by token 'ana',
    id …)``, or that it was renamed or deleted."""
    file: str
    """The file against it: unchanged since it was last loaded or dumped, or
    changed and the fields in which it differs from the database."""


@dataclass
class LoadReport:
    """What a load did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept: list[Kept] = field(default_factory=list)
    """Files not changed since the folder last saw them, whose entries changed in
    the database: the database's version stands, and nothing needs doing."""
    conflicts: list[Kept] = field(default_factory=list)
    """Files changed since, whose entries changed in the database too: the
    database's version stands until the file is loaded with ``force``."""
    skipped_folders: list[str] = field(default_factory=list)
    broken_links: list[BrokenLink] = field(default_factory=list)
    """Broken links of the loaded entries, when the load was forced."""
    rebuilt: int = 0
    """Documents built: the loaded entries and the entries that show them."""


def _files(root: Path, types: TypeRegistry) -> tuple[list[tuple[ContentType, Path]], list[str]]:
    if not root.is_dir():
        raise ContentError([f"{root}: not a folder"])
    found: list[tuple[ContentType, Path]] = []
    skipped: list[str] = []
    problems: list[str] = []
    for folder in sorted(p for p in root.iterdir() if not p.name.startswith(".")):
        if not folder.is_dir():
            problems.append(f"{folder}: only type folders belong here (e.g. articles/)")
            continue
        ctype = types.by_plural(folder.name)
        if ctype is None:
            # A plugin's folder while the plugin is disabled: not an error.
            skipped.append(folder.name)
            continue
        for path in sorted(folder.iterdir()):
            if path.name.startswith("."):
                continue
            if path.suffix != SUFFIX or not path.is_file():
                problems.append(f"{path}: not a {SUFFIX} file")
                continue
            found.append((ctype, path))
    if problems:
        raise ContentError(problems)
    return found, skipped


def read_file(ctype: ContentType, path: Path) -> EntryInput:
    """Parse and validate one content file.

    Raises:
        ContentError: naming the file and each bad field.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ContentError([f"{path}: front matter is not valid YAML: {exc}"]) from exc
    return parse_file(ctype, path, text)


def parse_file(ctype: ContentType, path: Path, text: str) -> EntryInput:
    """Parse and validate ``text``, the content of the file at ``path``.

    An ``etag`` key (written by ``cms remote pull``) is read past.

    Raises:
        ContentError: naming the file and each bad field.
    """
    try:
        post = frontmatter.loads(text)
    except (yaml.YAMLError, ValueError) as exc:
        raise ContentError([f"{path}: front matter is not valid YAML: {exc}"]) from exc
    meta: dict[str, Any] = dict(post.metadata)
    for ignored in IGNORED_KEYS:
        meta.pop(ignored, None)
    for reserved in ("slug", "body", "type"):
        if reserved in meta:
            raise ContentError(
                [f"{path}: {reserved}: not allowed in front matter (it comes from the file)"]
            )
    entry_id = meta.pop("id", None)
    if entry_id is not None and not isinstance(entry_id, str):
        raise ContentError([f"{path}: id: must be a UUID string"])
    meta["body"] = post.content
    try:
        return parse_entry(ctype, path.stem, meta, entry_id=entry_id)
    except InvalidEntry as exc:
        raise ContentError([f"{path}: {e.field}: {e.message}" for e in exc.errors]) from exc


async def load_content(
    sessions: async_sessionmaker[AsyncSession],
    plugins: Plugins,
    renderer: Renderer,
    root: Path,
    *,
    progress: Callable[[int], None] | None = None,
    force: bool = False,
    allow_broken_links: bool = False,
) -> LoadReport:
    """Validate every file under ``root``, then upsert them all in one transaction.

    A file is taken only when its entry has not changed in the database since
    ``root`` was last loaded or dumped; otherwise the database's version
    stands, and the file is reported in :attr:`LoadReport.kept` (the file did
    not change either) or :attr:`LoadReport.conflicts` (it did). Entries the
    load leaves published or scheduled must pass every plugin's publish check;
    then plugins are told what changed.

    Args:
        plugins: the loaded plugins: their types, checks and reactions.
        progress: called with the number of files just processed.
        force: the files win: take every file as written, over changes made in
            the database, and despite broken links (as ``allow_broken_links``).
        allow_broken_links: load even if published entries are left with
            broken internal links; they are reported in
            :attr:`LoadReport.broken_links`.

    Raises:
        ContentError: listing every invalid file and field, every reason a
            publish was refused and every link the load would break; nothing
            is written.
    """
    types = plugins.types
    found, skipped = _files(root, types)
    inputs: list[tuple[Path, EntryInput]] = []
    problems: list[str] = []
    for ctype, path in found:
        try:
            inputs.append((path, read_file(ctype, path)))
        except ContentError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ContentError(problems)

    report = LoadReport(skipped_folders=skipped)
    folder = _folder_key(root)
    ctx = WriteContext(
        types=types,
        renderer=renderer,
        actor=LOAD_ACTOR,
        now=utcnow(),
        plugins=plugins.manager,
        force=force or allow_broken_links,  # the links the load breaks are listed instead
    )
    async with writing(sessions) as session, session.begin():
        plan = await _plan(session, folder, inputs, force=force)
        report.kept, report.conflicts = plan.kept, plan.conflicts
        report.unchanged += plan.unchanged
        if progress and len(inputs) > len(plan.take):
            progress(len(inputs) - len(plan.take))
        problems.extend(plan.problems)
        # A file that would change a mirror refuses the load, conflict or not: mirrors
        # change only through `cms sync pull`, and the folder has no business with them.
        problems.extend(await _mirror_problems(session, plan.take + plan.conflicting))
        if problems:
            raise ContentError(problems)
        paths = [path for path, _inp, _digest in plan.take]
        # The published versions follow the files (Published.FOLLOW), whose
        # statuses plugins hear as they are (Told.STATUS).
        saves = [
            pipeline.Save(inp, published=Published.FOLLOW, now=utcnow())
            for _path, inp, _digest in plan.take
        ]
        try:
            result = await pipeline.save(
                session, ctx, saves, checks=Checks.BATCH, told=Told.STATUS, progress=progress
            )
        except pipeline.Refused as exc:
            await session.rollback()
            lines = [
                p.message if p.index is None else f"{paths[p.index]}: {p.field}: {p.message}"
                for p in exc.problems
            ]
            raise ContentError(lines, broken_links=exc.broken_links) from exc
        except InvalidEntry as exc:  # a plugin refused the save (on_entries_saved)
            await session.rollback()
            where: Path | str = root
            if isinstance(exc, SaveRefused):
                where = root / types[exc.entry_type].plural / f"{exc.slug}{SUFFIX}"
            raise ContentError([f"{where}: {e.field}: {e.message}" for e in exc.errors]) from exc
        for saved in result.saved:
            if not saved.changed:
                report.unchanged += 1
            elif saved.existed:
                report.updated += 1
            else:
                report.created += 1
        report.rebuilt, report.broken_links = result.rebuilt, result.broken_links
        await _remember(
            session,
            folder,
            [
                (s.save.inp.ctype.name, s.save.inp.slug, s.entry, digest)
                for s, (_path, _inp, digest) in zip(result.saved, plan.take, strict=True)
            ],
            action="load",
        )
    return report


FOLDER_KEY_LENGTH = 1000


def _folder_key(root: Path) -> str:
    """How :class:`ContentFileState` names a folder: its absolute path."""
    key = str(root.resolve())
    if len(key) > FOLDER_KEY_LENGTH:
        raise ContentError([f"{root}: the folder's path is longer than {FOLDER_KEY_LENGTH}"])
    return key


@dataclass
class _Plan:
    """Which files a load takes, and which it leaves to the database's version."""

    take: list[tuple[Path, EntryInput, str]] = field(default_factory=list)
    """The files to save, with the digest of what each says."""
    kept: list[Kept] = field(default_factory=list)
    conflicts: list[Kept] = field(default_factory=list)
    conflicting: list[tuple[Path, EntryInput, str]] = field(default_factory=list)
    """The files of :attr:`conflicts`, as :attr:`take` holds them."""
    unchanged: int = 0
    """Files and entries both as the folder last saw them (nothing to save)."""
    problems: list[str] = field(default_factory=list)


class _Current(NamedTuple):
    id: str
    type: str
    slug: str
    version: int
    content_hash: str
    updated_at: dt.datetime


async def _plan(
    session: AsyncSession, folder: str, inputs: list[tuple[Path, EntryInput]], *, force: bool
) -> _Plan:
    """Compare each file and its entry with what the folder's last load or dump saw.

    The entry changed in the database when its version (or id) is not the one
    recorded, or it is gone. Without a record (a database upgraded from
    before 0007, a folder never loaded here) an entry whose latest version was
    written by a load has not changed in the database; any other has.
    """
    rows = await session.exec(
        select_columns(
            Entry.id, Entry.type, Entry.slug, Entry.version, Entry.content_hash, Entry.updated_at
        )
    )
    by_key: dict[tuple[str, str], _Current] = {}
    by_id: dict[str, _Current] = {}
    for row in rows.all():
        entry = _Current(*row)
        by_key[(entry.type, entry.slug)] = entry
        by_id[entry.id] = entry
    bases = {
        (b.type, b.slug): b
        for b in (
            await session.exec(select(ContentFileState).where(ContentFileState.folder == folder))
        ).all()
    }
    # First pass: what can be decided without the entries' latest revisions.
    differing: list[tuple[Path, EntryInput, str, _Current | None, ContentFileState | None]] = []
    plan = _Plan()
    for path, inp in inputs:
        type_name = inp.ctype.name
        current = by_key.get((type_name, inp.slug))
        entry_id = inp.id or (current.id if current else derived_id(type_name, inp.slug))
        digest = content_hash(inp.payload() | {"id": entry_id})
        if current is None:
            # Renamed in the database: the entry the file names lives under another slug.
            moved = by_id.get(entry_id)
            current = moved if moved is not None and moved.type == type_name else None
        elif current.content_hash == digest or (inp.id is not None and inp.id != current.id):
            # The same content (the save is a no-op), or another entry's slug (refused by the save).
            plan.take.append((path, inp, digest))
            continue
        differing.append((path, inp, digest, current, bases.get((type_name, inp.slug))))
    if force:
        for path, inp, digest, current, _base in differing:
            if current is not None and current.slug != inp.slug:
                plan.problems.append(
                    f"{path}: slug: this {inp.ctype.name} was renamed to {current.slug!r} "
                    f"in the database; rename the file to {current.slug}{SUFFIX} to load it"
                )
            plan.take.append((path, inp, digest))
        return plan

    latest = await _latest_revisions(session, [c.id for _, _, _, c, _ in differing if c])
    for path, inp, digest, current, base in differing:
        file_changed = base is None or base.file_hash != digest
        if current is None:
            db_changed = base is not None  # loaded from here before, deleted since
        elif base is None:
            written_by = latest.get(current.id, (None, ""))[0]
            db_changed = current.slug != inp.slug or written_by != LOAD_ACTOR
        else:
            db_changed = (current.id, current.slug, current.version) != (
                base.entry_id,
                base.slug,
                base.version,
            )
        if not db_changed:
            if file_changed:
                plan.take.append((path, inp, digest))
            else:
                # As the folder last saw both: a dump writes what a save may have
                # filled in (published_at), so the digests may differ.
                plan.unchanged += 1
            continue
        database = _describe_entry(current, latest.get(current.id) if current else None, base)
        if current is not None and current.slug != inp.slug:
            database = f"renamed to {current.slug!r} in the database, {database}"
        if not file_changed:
            plan.kept.append(Kept(path, database, f"unchanged since {_describe_base(base)}"))
            continue
        since = f"changed since {_describe_base(base)}" if base else "not loaded from here before"
        differs = await _differing_fields(session, inp, digest, current)
        plan.conflicts.append(Kept(path, database, since + differs))
        plan.conflicting.append((path, inp, digest))
    return plan


async def _latest_revisions(
    session: AsyncSession, ids: list[str]
) -> dict[str, tuple[str | None, str]]:
    """Who wrote each entry's current version, and how: actor and a description."""
    if not ids:
        return {}
    rows = (
        await session.exec(
            select(Revision.entry_id, Revision.actor, Revision.action)
            .join(
                Entry,
                (col(Entry.id) == col(Revision.entry_id))
                & (col(Entry.version) == col(Revision.version)),
            )
            .where(col(Revision.entry_id).in_(ids))
        )
    ).all()
    actors = {actor for _, actor, _ in rows if actor}
    names = dict(
        (await session.exec(select(ApiToken.id, ApiToken.name).where(col(ApiToken.id).in_(actors))))
        .all()
    ) if actors else {}  # fmt: skip
    out: dict[str, tuple[str | None, str]] = {}
    for entry_id, actor, action in rows:
        who = f"token {names[actor]!r} ({actor})" if actor in names else (actor or "unknown")
        out[entry_id] = (actor, f"{action or 'save'} by {who}")
    return out


def _describe_entry(
    current: _Current | None, latest: tuple[str | None, str] | None, base: ContentFileState | None
) -> str:
    """The entry's side of a kept file: its version now and who made it, or that it is gone."""
    if current is None:
        assert base is not None
        return f"deleted in the database (it was {base.type}/{base.slug}, id {base.entry_id})"
    what = f"version {current.version} of {iso(current.updated_at)}"
    if latest is not None:
        what += f" ({latest[1]})"
    return what


def _describe_base(base: ContentFileState | None) -> str:
    if base is None:
        return "it was last loaded"
    done = "loaded" if base.action == "load" else "dumped"
    return f"it was {done} at version {base.version} ({iso(base.at)})"


async def _differing_fields(
    session: AsyncSession, inp: EntryInput, digest: str, current: _Current | None
) -> str:
    """``; it differs in title, body``: where the file and the entry disagree."""
    if current is None:
        return ""
    entry = await session.get(Entry, current.id)
    assert entry is not None
    theirs = await current_document(session, inp.ctype, entry)
    ours = inp.payload() | {"id": entry.id}
    fields = sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
    return f"; it differs in {', '.join(fields)}" if fields else ""


async def _remember(
    session: AsyncSession,
    folder: str,
    files: list[tuple[str, str, Entry, str]],
    *,
    action: str,
) -> None:
    """Record what ``folder``'s files said and which versions of their entries that was.

    Args:
        files: type, slug, the entry and the digest of its file, each.
        action: ``load`` or ``dump``.
    """
    bases = {
        (b.type, b.slug): b
        for b in (
            await session.exec(select(ContentFileState).where(ContentFileState.folder == folder))
        ).all()
    }
    now = utcnow()
    for type_name, slug, entry, digest in files:
        base = bases.get((type_name, slug))
        if base is None:
            session.add(
                ContentFileState(
                    folder=folder,
                    type=type_name,
                    slug=slug,
                    entry_id=entry.id,
                    version=entry.version,
                    file_hash=digest,
                    at=now,
                    action=action,
                )
            )
        elif (base.entry_id, base.version, base.file_hash) != (entry.id, entry.version, digest):
            base.entry_id, base.version, base.file_hash = entry.id, entry.version, digest
            base.at, base.action = now, action
    await session.flush()


async def _mirror_problems(
    session: AsyncSession, inputs: list[tuple[Path, EntryInput, str]]
) -> list[str]:
    """Files that would change an entry mirrored from another instance: a problem each.

    Mirrors change only through ``cms sync pull``. A file that says exactly
    what the mirror holds (a dump of this database, loaded back) changes
    nothing and passes.
    """
    rows = await session.exec(
        select_columns(
            Entry.type, Entry.slug, Entry.id, Entry.mirror_source, Entry.content_hash
        ).where(col(Entry.mirror_source).is_not(None))
    )
    mirrors = {(t, s): (i, m, h) for t, s, i, m, h in rows.all()}
    by_id = {i: (m, h) for i, m, h in mirrors.values()}
    problems = []
    for path, inp, _digest in inputs:
        found = mirrors.get((inp.ctype.name, inp.slug))
        entry_id = inp.id or (found[0] if found else derived_id(inp.ctype.name, inp.slug))
        mirror = (found[1], found[2]) if found else by_id.get(entry_id)
        if mirror is None:
            continue
        if content_hash(inp.payload() | {"id": entry_id}) != mirror[1]:
            problems.append(
                f"{path}: this {inp.ctype.name} is a read-only mirror of {mirror[0]} "
                "(cms sync pull); change it there, or leave this file out"
            )
    return problems


def _non_default(struct: msgspec.Struct, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for info in msgspec.structs.fields(struct):
        if info.name in skip:
            continue
        value = getattr(struct, info.name)
        if info.default is not msgspec.NODEFAULT and value == info.default:
            continue
        if info.default_factory is not msgspec.NODEFAULT and value == info.default_factory():
            continue
        out[info.name] = msgspec.to_builtins(value)
    return out


def entry_file(
    ctype: ContentType,
    entry: Entry,
    relations: Mapping[str, list[str]],
    *,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """The content file of ``entry``: front matter and body, as ``content dump`` writes it.

    Args:
        relations: each relation field's values as written in files: slugs,
            or ``type/slug`` for relations that may name several types.
        extra: keys to add at the end of the front matter (``etag``).
    """
    document: dict[str, Any] = {
        "id": entry.id,
        "slug": entry.slug,
        "title": entry.title,
        "summary": entry.summary,
        "body": entry.body,
        "status": entry.status,
        "origin_clinic": entry.origin_clinic,
        "tags": entry.tags,
        "seo": entry.seo,
        "published_at": iso(entry.published_at),
        "last_reviewed": iso(entry.last_reviewed),
        **entry.data,
    }
    for name, rel in ctype.all_relations().items():
        values = list(relations.get(name, []))
        document[name] = values if rel.many else next(iter(values), None)
    return document_file(ctype, document, extra=extra)


def document_file(
    ctype: ContentType, document: Mapping[str, Any], *, extra: Mapping[str, Any] | None = None
) -> str:
    """The content file of a write-side document, as ``content dump`` writes it.

    Args:
        document: ``slug``, optionally ``id``, and the common and type-specific
            fields as a content file or a revision holds them (relations as
            slugs, or ``type/slug`` for relations that may name several
            types). Other keys are left out.
        extra: keys to add at the end of the front matter (``cms remote pull``
            adds the entry's ``etag``; a load reads past it).

    Raises:
        msgspec.ValidationError: a field is not what the type declares.
    """
    slug = document["slug"]
    common = msgspec.convert(
        {k: v for k, v in document.items() if k in EntryCommon.__struct_fields__}, EntryCommon
    )
    own = msgspec.convert(
        {k: v for k, v in document.items() if k in ctype.fields.__struct_fields__}, ctype.fields
    )
    meta: dict[str, Any] = {}
    entry_id = document.get("id")
    if entry_id is not None and entry_id != derived_id(ctype.name, slug):
        meta["id"] = entry_id
    meta.update(_non_default(common, skip=frozenset({"body"})))
    meta.update(_non_default(own))
    meta.update(extra or {})
    post = frontmatter.Post(common.body, **meta)
    # No line folding: one field, one line, so diffs in git stay readable.
    return frontmatter.dumps(post, sort_keys=False, width=1_000_000) + "\n"


async def dump_content(
    sessions: async_sessionmaker[AsyncSession], types: TypeRegistry, root: Path
) -> int:
    """Write every entry under ``root``; remove files of entries that no longer exist.

    Records what each file says and which version of its entry that is, so
    that a load of ``root`` takes files edited after the dump.

    Returns:
        The number of files written.
    """
    folder = _folder_key(root)
    written: list[tuple[str, str, Entry, str]] = []
    async with writing(sessions) as session, session.begin():
        for ctype in types:
            entries = list(
                (
                    await session.exec(
                        select(Entry).where(Entry.type == ctype.name).order_by(col(Entry.slug))
                    )
                ).all()
            )
            folder_path = root / ctype.plural
            keep = {f"{e.slug}{SUFFIX}" for e in entries}
            if folder_path.is_dir():
                for stale in folder_path.glob(f"*{SUFFIX}"):
                    if stale.name not in keep:
                        stale.unlink()
            await session.exec(
                delete(ContentFileState).where(
                    col(ContentFileState.folder) == folder,
                    col(ContentFileState.type) == ctype.name,
                    col(ContentFileState.slug).not_in([e.slug for e in entries]),
                )
            )
            if not entries:
                continue
            folder_path.mkdir(parents=True, exist_ok=True)
            ids = [e.id for e in entries]
            relations = await _relation_values(session, ids, ctype.all_relations())
            for entry in entries:
                path = folder_path / f"{entry.slug}{SUFFIX}"
                text = entry_file(ctype, entry, relations.get(entry.id, {}))
                path.write_text(text, encoding="utf-8")
                # What a load will make of the file, to know it unchanged then.
                said = parse_file(ctype, path, text).payload() | {"id": entry.id}
                written.append((ctype.name, entry.slug, entry, content_hash(said)))
        await _remember(session, folder, written, action="dump")
    return len(written)


async def _relation_values(
    session: AsyncSession, ids: list[str], relations: Mapping[str, Relation]
) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    result = await session.exec(
        select(EntryRelation.source_id, EntryRelation.field, Entry.type, Entry.slug)
        .join(Entry, col(Entry.id) == col(EntryRelation.target_id))
        .where(col(EntryRelation.source_id).in_(ids))
        .order_by(
            col(EntryRelation.source_id), col(EntryRelation.field), col(EntryRelation.position)
        )
    )
    for source_id, fname, type_name, slug in result.all():
        rel = relations.get(fname)
        if rel is not None:  # rows of a field the type no longer declares are not written
            out[source_id][fname].append(rel.join(type_name, slug))
    return out
