"""Content as Markdown files with YAML front matter, one folder per type.

``content/articles/low-back-pain-causes.md`` is the article with slug
``low-back-pain-causes``; its front matter holds the common and type-specific
fields (relations as slugs), the Markdown after it is the body. Loading
validates every file before writing anything, then upserts all of them in one
transaction; dumping writes the same layout back, leaving out every field
that has its default, so that load then dump reproduces the files.

Loading is a save like any other: after the entries and relations, it
builds the documents (:func:`cms.services.documents.finish_writes`), makes
the published versions follow the files' statuses, then runs the plugins'
publish checks and checks internal links on the state after the load. A load
that would publish an entry with a broken link, or unpublish an entry that
published entries link to, is refused unless forced; plugins hear about what
changed (:mod:`cms.services.lifecycle`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontmatter
import msgspec
import yaml
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.contenttypes import ContentType, Relation, TypeRegistry
from cms.markdown import Renderer
from cms.plugins import PluginError, Plugins
from cms.schemas import EntryCommon
from cms.services.documents import Face, face_columns, faces, finish_writes, refresh_dependents
from cms.services.entries import content_hash, derived_id, save_entry, save_relations
from cms.services.errors import InvalidEntry
from cms.services.lifecycle import (
    SavedEntry,
    SaveRefused,
    entries_saved,
    needs_publish_check,
    publish_problems,
)
from cms.services.links import BrokenLink, broken_links, dependents_blocking
from cms.services.validation import EntryInput, parse_entry
from cms.services.workflow import sync_published
from cms.storage.db import select_columns
from cms.storage.tables import Entry, EntryRelation

SUFFIX = ".md"


class ContentError(Exception):
    """Files that cannot be loaded; each line names a file and a field.

    ``broken_links`` is true when some of the problems are internal links the
    load would break, which loading with ``force`` accepts.
    """

    def __init__(self, problems: list[str], *, broken_links: bool = False) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.broken_links = broken_links


@dataclass
class LoadReport:
    """What a load did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
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
        post = frontmatter.loads(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as exc:
        raise ContentError([f"{path}: front matter is not valid YAML: {exc}"]) from exc
    meta: dict[str, Any] = dict(post.metadata)
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
) -> LoadReport:
    """Validate every file under ``root``, then upsert them all in one transaction.

    Entries the load leaves published or scheduled must pass every plugin's
    publish check; then plugins are told what changed.

    Args:
        plugins: the loaded plugins: their types, checks and reactions.
        progress: called with the number of files just processed.
        force: load even if published entries are left with broken internal
            links; they are reported in :attr:`LoadReport.broken_links`.

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
    async with sessions() as session, session.begin():
        saved: list[tuple[Path, EntryInput, Entry, bool]] = []
        # Every entry's face before the load: what changed decides what else to rebuild.
        existing: dict[tuple[str, str], Face] = {}
        statuses: dict[tuple[str, str], str] = {}
        for row in (
            await session.exec(
                select_columns(Entry.type, Entry.slug, Entry.status, Entry.id,
                               *face_columns(Entry))
            )
        ).all():  # fmt: skip
            existing[(row[0], row[1])] = Face(*row[3:])
            statuses[(row[0], row[1])] = row[2]
        problems.extend(await _mirror_problems(session, inputs))
        if problems:
            raise ContentError(problems)
        for path, inp in inputs:
            try:
                entry, changed = await save_entry(session, renderer, inp, actor="content-load")
            except InvalidEntry as exc:
                problems.extend(f"{path}: {e.field}: {e.message}" for e in exc.errors)
                continue
            saved.append((path, inp, entry, changed))
            if progress:
                progress(1)
        # Relations last: entries may reference each other in any order.
        before: dict[str, Face | None] = {}
        touched: set[str] = set()
        paths: dict[str, Path] = {}
        for path, inp, entry, changed in saved:
            if not changed:
                report.unchanged += 1
                continue
            try:
                touched |= await save_relations(session, types, entry, inp)
            except InvalidEntry as exc:
                problems.extend(f"{path}: {e.field}: {e.message}" for e in exc.errors)
                continue
            before[entry.id] = existing.get((inp.ctype.name, inp.slug))
            paths[entry.id] = path
            if (inp.ctype.name, inp.slug) in existing:
                report.updated += 1
            else:
                report.created += 1
        link_problems: list[str] = []
        changed_inputs = [(path, inp, entry) for path, inp, entry, changed in saved if changed]
        if not problems and before:
            try:
                report.rebuilt = len(await finish_writes(session, types, before, also=touched))
                # The published versions follow the files, from the documents just built.
                for _path, inp, entry in changed_inputs:
                    await sync_published(session, inp.ctype, entry)
                report.rebuilt += len(await refresh_dependents(session, types, before))
            except PluginError as exc:
                await session.rollback()
                raise ContentError([str(exc)]) from exc
        # Publish checks once every relation and document is in place: a check may read them.
        if not problems:
            for path, inp, _entry in changed_inputs:
                if needs_publish_check(inp):
                    refused = await publish_problems(plugins.manager, session, inp)
                    problems.extend(
                        f"{path}: {e.field}: publishing refused: {e.message}" for e in refused
                    )
        if not problems and before:
            link_problems, report.broken_links = await _check_links(session, before, paths)
            if force:
                link_problems = []
        if not problems and not link_problems:
            events = [
                SavedEntry.of(entry, statuses.get((entry.type, entry.slug)))
                for _path, _inp, entry in changed_inputs
            ]
            try:
                await entries_saved(plugins.manager, session, events)
            except InvalidEntry as exc:
                where: Path | str = root
                if isinstance(exc, SaveRefused):
                    where = root / types[exc.entry_type].plural / f"{exc.slug}{SUFFIX}"
                problems.extend(f"{where}: {e.field}: {e.message}" for e in exc.errors)
        if problems or link_problems:
            await session.rollback()
            raise ContentError(problems + link_problems, broken_links=bool(link_problems))
    return report


async def _mirror_problems(
    session: AsyncSession, inputs: list[tuple[Path, EntryInput]]
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
    for path, inp in inputs:
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


async def _check_links(
    session: AsyncSession, before: dict[str, Face | None], paths: dict[str, Path]
) -> tuple[list[str], list[BrokenLink]]:
    """What the load breaks: links of the loaded entries, and links to entries it withdraws.

    Returns:
        A problem line for each, and the same links as :class:`BrokenLink`.
    """
    broken, _ = await broken_links(session, source_ids=list(before))
    problems = [
        f"{paths[b.source.id]}: body: links to {b.target}, which "
        + ("does not exist" if b.reason == "missing" else "is not published")
        for b in broken
    ]
    now = {i: f.status for i, f in (await faces(session, list(before))).items()}
    withdrawn = [
        (face.type, face.slug)
        for entry_id, face in before.items()
        if face is not None and face.published and now.get(entry_id) != "published"
    ]
    seen = {(b.source.id, b.target) for b in broken}
    for dep in await dependents_blocking(session, withdrawn):
        problems.append(
            f"{dep.target}: would no longer be published, but published "
            f"{dep.source.type}/{dep.source.slug} links to it"
        )
        if (dep.source.id, dep.target) not in seen:
            broken.append(BrokenLink(source=dep.source, target=dep.target, reason="not_published"))
    return problems, broken


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


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def entry_file(ctype: ContentType, entry: Entry, relations: dict[str, list[str]]) -> str:
    """The content file of ``entry``: front matter and body.

    Args:
        relations: each relation field's values as written in files: slugs,
            or ``type/slug`` for relations that may name several types.
    """
    common_relations = {k: v for k, v in relations.items() if k in EntryCommon.__struct_fields__}
    common = msgspec.convert(
        {
            "title": entry.title,
            "summary": entry.summary,
            "status": entry.status,
            "clinics": common_relations.get("clinics", []),
            "origin_clinic": entry.origin_clinic,
            "tags": entry.tags,
            "seo": entry.seo,
            "published_at": _iso(entry.published_at) if entry.published_at else None,
            "reviewed_by": next(iter(common_relations.get("reviewed_by", [])), None),
            "last_reviewed": entry.last_reviewed.isoformat() if entry.last_reviewed else None,
        },
        EntryCommon,
    )
    own_raw = dict(entry.data)
    for name, rel in ctype.relations.items():
        slugs = relations.get(name, [])
        own_raw[name] = slugs if rel.many else (slugs[0] if slugs else None)
    own = msgspec.convert(own_raw, ctype.fields)
    meta: dict[str, Any] = {}
    if entry.id != derived_id(ctype.name, entry.slug):
        meta["id"] = entry.id
    meta.update(_non_default(common, skip=frozenset({"body"})))
    meta.update(_non_default(own))
    post = frontmatter.Post(entry.body, **meta)
    # No line folding: one field, one line, so diffs in git stay readable.
    return frontmatter.dumps(post, sort_keys=False, width=1_000_000) + "\n"


async def dump_content(
    sessions: async_sessionmaker[AsyncSession], types: TypeRegistry, root: Path
) -> int:
    """Write every entry under ``root``; remove files of entries that no longer exist.

    Returns:
        The number of files written.
    """
    written = 0
    async with sessions() as session:
        for ctype in types:
            entries = list(
                (
                    await session.exec(
                        select(Entry).where(Entry.type == ctype.name).order_by(col(Entry.slug))
                    )
                ).all()
            )
            folder = root / ctype.plural
            keep = {f"{e.slug}{SUFFIX}" for e in entries}
            if folder.is_dir():
                for stale in folder.glob(f"*{SUFFIX}"):
                    if stale.name not in keep:
                        stale.unlink()
            if not entries:
                continue
            folder.mkdir(parents=True, exist_ok=True)
            ids = [e.id for e in entries]
            relations = await _relation_values(session, ids, ctype.all_relations())
            for entry in entries:
                text = entry_file(ctype, entry, relations.get(entry.id, {}))
                (folder / f"{entry.slug}{SUFFIX}").write_text(text, encoding="utf-8")
                written += 1
    return written


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
