"""The save pipeline: one unit of work for every write of entries.

Every path that changes entries goes through here, in the caller's session
(the caller commits once, at the edge): the editors' create, merge patch and
restore (:mod:`cms.editorial.editing`, :mod:`cms.editorial.revisions`), each
workflow step and the scheduler (:mod:`cms.editorial.workflow`), ``cms
content load`` (:mod:`cms.editorial.content_files`), ``cms sync pull``
(:mod:`cms.syndication.sync`) and ``cms content rebuild``. A path describes its
write as :class:`Save` items and calls :func:`save` once (:func:`delete` to
delete an entry, :func:`rebuild` to derive everything again): adding a write
path is one call. The steps run here and nowhere else; a test fails when
another module calls one of them.

:func:`save` runs, in this order:

1. **Before**: what each entry was: its status and whether a published
   version was up (for the hooks), and, once any take-down is done, its face
   (what other documents show of it, for the dependents).
2. **Take down** (:attr:`Published.WITHDRAW`): the published version goes
   first, so that the documents built after the save no longer count it as
   public; then no published entry may link to it (unless forced).
3. **Rename**: an entry saved under a new slug keeps the old one as a redirect.
4. **Entry rows** (:func:`~cms.editorial.entries.save_entry`), one by one:
   rendering, the entry's own fields, a revision, the change to its working
   copy; then its tag, link and facet indexes (the working copy's). A save
   that changes nothing is skipped, here and in every later step. The unit's
   first write takes the writers' turn (:mod:`cms.syndication.generation`).
5. **Relations**, once every row of the batch is written, so that entries
   may name each other in any order.
6. **Documents** (:func:`~cms.editorial.documents.finish_writes`): canonical
   URLs, the working documents of the saved entries and of every entry that
   shows something of theirs that changed.
7. **Checks** (:attr:`Checks.EACH`): the plugins' publish checks and the
   entry's own links, for every entry the save leaves published or
   scheduled, before anything goes live.
8. **Published copies** (:mod:`cms.editorial.published`):
   :attr:`Published.PUBLISH` and :attr:`Published.FOLLOW`, with the link and
   facet indexes of the published version (what the public link lists and
   list filters read: a draft's own, from step 4, show nowhere public); a
   batch whose entries show one another is built again when one's published
   face moved.
9. **Dependents**: the documents that show a published face that just moved.
10. **Checks** (:attr:`Checks.BATCH`): the same, and what the batch leaves
    linking nowhere, on the state after the whole batch.
11. **Change records**: the unit's changes, numbered and written at once
    (:func:`cms.syndication.changes.record`).
12. **Plugin hooks**: ``on_entries_saved``, then ``on_after_publish``.
13. **Cache purges**: one numbered purge that every process's response
    cache follows (:mod:`cms.syndication.purges`): every cached answer when
    the unit changed what anonymous readers see (a published change, a
    response field the hooks changed); only the answers that name no key
    when it changed working copies alone, so an editor's drafts leave the
    core's answers cached.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pluggy
from sqlmodel import col
from sqlmodel import delete as delete_rows
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.contenttypes import TypeRegistry
from cms.editorial import extras
from cms.editorial.documents import (
    Face,
    dependents,
    face_columns,
    faces,
    finish_writes,
    rebuild_all,
    rebuild_documents,
    refresh_dependents,
)
from cms.editorial.entries import index_own_content, save_entry, save_relations
from cms.editorial.lifecycle import (
    check_publish,
    entries_saved,
    needs_publish_check,
    publish_problems,
)
from cms.editorial.published import (
    drop_published,
    follow_status,
    remove_published,
    write_published,
)
from cms.editorial.saved import SavedEntry
from cms.editorial.slugs import record_rename
from cms.editorial.validation import EntryInput
from cms.errors import BrokenLinks, InvalidEntry, LinkedFromPublished
from cms.markdown import Renderer
from cms.plugin_manager import PluginError
from cms.reading.links import BrokenLink, broken_links, dependents_blocking
from cms.storage.db import select_columns
from cms.storage.tables import Entry
from cms.syndication import changes, generation, purges


@dataclass(frozen=True)
class WriteContext:
    """Who writes, when, and what a save needs.

    Attributes:
        actor: what the revision names: a token id, ``scheduler``, ``sync``
            or ``content-load``.
    """

    types: TypeRegistry
    renderer: Renderer
    actor: str
    now: dt.datetime
    plugins: pluggy.PluginManager
    """Whose hooks hear of every save (publish checks, reactions)."""
    force: bool = False
    """Skip the link-integrity checks (``force=true``): publishing with broken
    links, taking down an entry published entries link to."""


class Published(enum.Enum):
    """What a save does to the entry's published version."""

    KEEP = "keep"
    """Leave it as it is: an edit, a submission, a schedule (it goes live later)."""
    PUBLISH = "publish"
    """Make the saved working copy the published version: going live, a mirror."""
    WITHDRAW = "withdraw"
    """Take it down before the save: unpublishing, archiving."""
    FOLLOW = "follow"
    """Follow the status the save gives (content files, the source of truth when
    loaded): ``published`` goes live, ``scheduled`` waits, anything else comes down."""


class Checks(enum.Enum):
    """When a unit's publish and link checks run, and how it tells what fails."""

    EACH = "each"
    """An editor's step: checked before the published version is written; the
    first failure is raised (``PublishRefused``, ``BrokenLinks``,
    ``LinkedFromPublished``)."""
    BATCH = "batch"
    """Content files: every problem is collected and raised at once
    (:class:`Refused`), and the checks run on the state after the whole
    batch, whose entries may need one another published."""
    NONE = "none"
    """A mirror: the origin ran them."""


class Told(enum.Enum):
    """What the hooks are told an entry was before the save
    (:attr:`SavedEntry.previous_status` and :attr:`SavedEntry.was_live`)."""

    PUBLIC = "public"
    """``published`` while a published version was up, whatever the working copy
    said, and whether one was: edits, publishing, taking down."""
    WORKING = "working"
    """The working copy's status, and whether a published version was up: a
    submission, a schedule, a mirror."""
    STATUS = "status"
    """The working copy's status alone, liveness following from the statuses:
    content files, whose status is the truth."""


@dataclass(frozen=True)
class Mirror:
    """What an origin says of a mirrored entry beside its content (``cms sync pull``)."""

    source: str
    """The origin's base URL."""
    canonical_url: str | None
    links: dict[str, str | None]
    """Where each internal link leads at the origin (None: it is text there)."""
    created_at: dt.datetime | None = None
    """None: as the entry has it."""
    updated_at: dt.datetime | None = None
    """None: as the entry has it."""


@dataclass(frozen=True)
class Save:
    """One entry a unit of work writes."""

    inp: EntryInput
    entry: Entry | None = None
    """The row it changes, as the caller read (and locked) it; None for a new
    entry, or in a batch (:attr:`Checks.BATCH`), where the row holding its
    type and slug is the one it changes."""
    action: str = "save"
    """What the revision and the change records call it: ``create``,
    ``update``, ``publish``, …"""
    new_version: bool = False
    """Write a new version even when the document is unchanged (a workflow
    step that changes only what is published)."""
    relations: bool = True
    """Write its relation rows; a workflow step, which changes no reference, skips them."""
    published: Published = Published.KEEP
    mirror: Mirror | None = None
    now: dt.datetime | None = None
    """When it is saved, if not at the unit's time (a content load stamps each
    entry as it comes, as it always has)."""


@dataclass(frozen=True)
class Saved:
    """What a unit of work did with one :class:`Save`."""

    save: Save
    entry: Entry
    changed: bool
    """False when the save changed nothing (no version, no revision)."""
    existed: bool
    """Whether the entry was there before."""


@dataclass
class Result:
    """What :func:`save` did."""

    saved: list[Saved] = field(default_factory=list)
    """One per :class:`Save`, in order."""
    rebuilt: int = 0
    """Documents built: the saved entries' and those of the entries that show them."""
    broken_links: list[BrokenLink] = field(default_factory=list)
    """Links the batch leaves broken, when it was forced (:attr:`Checks.BATCH`)."""


@dataclass(frozen=True)
class Problem:
    """One reason a batch (:attr:`Checks.BATCH`) is refused."""

    index: int | None
    """The position of the entry at fault among the saves; None when the
    reason names none (a plugin failed, a link into an entry it withdraws)."""
    field: str
    message: str


class Refused(Exception):
    """A batch that cannot be saved: every problem found. Roll back; nothing holds."""

    def __init__(self, problems: list[Problem], *, broken_links: bool = False) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems
        self.broken_links = broken_links
        """Whether the problems are links the batch would break (forcing accepts them)."""


class UnitOfWork:
    """One write's transaction, as the pipeline sees it: its changes and its turn.

    Its changes wait in :attr:`outbox` and are recorded at the end of the
    write, in one statement, and its purges after the hooks. The first write
    takes the writers' turn, once (:func:`generation.bump`): its row stays
    locked until the commit, so a concurrent writer waits there before it
    has written anything.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.outbox = changes.Outbox(session)
        self.writing = False
        extras.forget_changes(session)

    async def write(self) -> None:
        """Take the unit's turn before its first write (does nothing after that)."""
        if not self.writing:
            self.writing = True
            await generation.bump(self.session)

    async def record(self) -> None:
        """Number and write the unit's changes."""
        assert self.writing or not self.outbox.specs, "a change without a write"
        await changes.record(self.session, self.outbox.specs)

    async def purge(self, *, everything: bool = False) -> None:
        """Record what the unit purges from the response caches (:mod:`cms.syndication.purges`).

        Every cached answer when it changed what anonymous readers see (a
        published change, or a value of a plugin's response field);
        otherwise, when it wrote working copies only, the answers that name
        no key (a plugin's route may show a working copy), none of the core's.
        """
        fields_changed = await extras.changed_entries(self.session)
        published = any(spec.state == changes.PUBLISHED for spec in self.outbox.specs)
        if everything or published or fields_changed:
            await purges.record(self.session, [purges.EVERYTHING])
        elif self.writing:
            await purges.record(self.session, [purges.KEYLESS])


@dataclass
class _Item:
    save: Save
    index: int
    entry: Entry | None = None
    changed: bool = False
    existed: bool = False
    face: Face | None = None
    previous: str | None = None
    was_live: bool | None = None


def _before_told(item: _Item, told: Told, status: str | None, live: bool | None) -> None:
    """Keep what the hooks will be told ``item`` was (``status`` None: it is new)."""
    if status is None:
        item.previous, item.was_live = None, (None if told is Told.STATUS else False)
        return
    item.existed = True
    if told is Told.STATUS:
        item.previous, item.was_live = status, None
        return
    item.was_live = bool(live)
    item.previous = "published" if live and told is Told.PUBLIC else status


async def save(
    session: AsyncSession,
    ctx: WriteContext,
    saves: Sequence[Save],
    *,
    checks: Checks = Checks.EACH,
    told: Told = Told.PUBLIC,
    progress: Callable[[int], None] | None = None,
) -> Result:
    """Write ``saves`` as one unit, in the caller's transaction (see the module's steps).

    Args:
        checks: when the publish and link checks run, and how failures are told.
        told: what the hooks hear each entry was before.
        progress: called with 1 after each entry's row is written.

    Raises:
        InvalidEntry: a field is invalid, or a plugin refused the save
            (``PublishRefused`` and ``SaveRefused`` among them).
        BrokenLinks, LinkedFromPublished: the save breaks links (:attr:`Checks.EACH`).
        Refused: every problem of a batch (:attr:`Checks.BATCH`).
        PluginError: a plugin failed.
    """
    uow = UnitOfWork(session)
    items = [_Item(s, i) for i, s in enumerate(saves)]
    batch = checks is Checks.BATCH
    # 1. Before, as the hooks will hear it: read before a take-down changes it.
    if not batch:
        for item in items:
            row = item.save.entry
            if row is None:
                _before_told(item, told, None, None)
            else:
                _before_told(item, told, row.status, row.published_version is not None)
    # 2. Take down.
    for item in items:
        if item.save.published is Published.WITHDRAW:
            row = item.save.entry
            assert row is not None, "only an entry that exists is taken down"
            await uow.write()
            await remove_published(session, row, uow.outbox, action=item.save.action)
            if checks is Checks.EACH and not ctx.force:
                await _check_not_linked(session, row)
    # 1. Before: the faces, read after a take-down, so that the documents built
    # below see the published version gone.
    if batch:
        await _scan_before(session, items, told)
    else:
        known = await faces(session, [i.save.entry.id for i in items if i.save.entry])
        for item in items:
            if item.save.entry is not None:
                item.face = known.get(item.save.entry.id)
    # 3. Rename.
    for item in items:
        row = item.save.entry
        if row is not None and row.slug != item.save.inp.slug:
            await uow.write()
            old_slug, row.slug = row.slug, item.save.inp.slug
            session.add(row)
            await session.flush()
            await record_rename(session, row, old_slug)
    # 4. Entry rows.
    problems: list[Problem] = []
    for item in items:
        try:
            await _write_row(uow, ctx, item)
        except InvalidEntry as exc:
            if not batch:
                raise
            problems += [Problem(item.index, e.field, e.message) for e in exc.errors]
            continue
        if progress is not None:
            progress(1)
    written = [i for i in items if i.entry is not None and i.changed]
    # 5. Relations.
    also: set[str] = set()
    for item in written:
        if not item.save.relations:
            continue
        assert item.entry is not None
        try:
            also |= await save_relations(session, ctx.types, item.entry, item.save.inp)
        except InvalidEntry as exc:
            if not batch:
                raise
            problems += [Problem(item.index, e.field, e.message) for e in exc.errors]
    if problems:
        raise Refused(problems)
    result = Result(
        saved=[Saved(i.save, i.entry, i.changed, i.existed) for i in items if i.entry is not None]
    )
    if not written:
        await uow.purge()  # a take-down alone
        return result
    before = {_id(i): i.face for i in written}
    try:
        # 6. Documents.
        result.rebuilt = len(await finish_writes(session, ctx.types, before, uow.outbox, also=also))
        # 7. Checks, before anything goes live.
        if checks is Checks.EACH:
            await _check_going_live(session, ctx, written)
        # 8. Published copies, and 9. their dependents.
        if await _published_copies(uow, ctx, written):
            result.rebuilt += len(await refresh_dependents(session, ctx.types, before, uow.outbox))
    except PluginError as exc:
        if not batch:
            raise
        # A content type's JSON-LD mapping failed on one of the batch's entries.
        raise Refused([Problem(None, "", str(exc))]) from exc
    # 10. Checks of the batch, on the state after it.
    if batch:
        result.broken_links = await _check_batch(session, ctx, written, before)
    # 11. Change records.
    await uow.record()
    # 12. Plugin hooks.
    await entries_saved(
        ctx.plugins,
        session,
        [SavedEntry.of(_entry(i), i.previous, was_live=i.was_live) for i in written],
    )
    # 13. Cache purges: what the unit and the hooks changed for anonymous readers.
    await uow.purge()
    return result


def _entry(item: _Item) -> Entry:
    assert item.entry is not None, "a written item has its row"
    return item.entry


def _id(item: _Item) -> str:
    return _entry(item).id


async def _scan_before(session: AsyncSession, items: list[_Item], told: Told) -> None:
    """Faces and statuses of a batch's entries, by type and slug: one read of every entry."""
    rows = await session.exec(
        select_columns(Entry.type, Entry.slug, Entry.status, Entry.published_version,
                       Entry.id, *face_columns(Entry))
    )  # fmt: skip
    found = {(r[0], r[1]): (r[2], r[3] is not None, Face(*r[4:])) for r in rows.all()}
    for item in items:
        hit = found.get((item.save.inp.ctype.name, item.save.inp.slug))
        if hit is None:
            _before_told(item, told, None, None)
        else:
            _before_told(item, told, hit[0], hit[1])
            item.face = hit[2]


async def _write_row(uow: UnitOfWork, ctx: WriteContext, item: _Item) -> None:
    """Save ``item``'s row and indexes (step 4), and what a mirror's origin says beside
    its content."""
    spec = item.save
    entry, changed = await save_entry(
        uow.session,
        ctx.renderer,
        spec.inp,
        uow.outbox,
        actor=ctx.actor,
        now=spec.now or ctx.now,
        action=spec.action,
        force=spec.new_version,
    )
    if changed:
        await uow.write()
        # A row saved for the first time is at version 1: it has no index rows to replace.
        await index_own_content(uow.session, spec.inp.ctype, entry, new=entry.version == 1)
    if spec.mirror is not None and _mirror(entry, spec.mirror):
        changed = True
        await uow.write()
    item.entry, item.changed = entry, changed


def _mirror(entry: Entry, mirror: Mirror) -> bool:
    """Give a mirror what its origin says beside the content; whether that changed it."""
    wanted = (
        mirror.source,
        mirror.canonical_url,
        mirror.links,
        mirror.created_at or entry.created_at,
        mirror.updated_at or entry.updated_at,
    )
    here = (
        entry.mirror_source,
        entry.canonical_url,
        entry.mirror_links,
        entry.created_at,
        entry.updated_at,
    )
    if here == wanted:
        return False
    (
        entry.mirror_source,
        entry.canonical_url,
        entry.mirror_links,
        entry.created_at,
        entry.updated_at,
    ) = wanted
    return True


async def _check_going_live(session: AsyncSession, ctx: WriteContext, items: list[_Item]) -> None:
    """Refuse an entry going live (now or at a set time) that plugins or its links refuse."""
    for item in items:
        if needs_publish_check(item.save.inp):
            await check_publish(ctx.plugins, session, item.save.inp)
            if not ctx.force:
                await _check_links_live(session, _entry(item))


async def _published_copies(uow: UnitOfWork, ctx: WriteContext, items: list[_Item]) -> bool:
    """Write or remove the published versions the saves ask for; whether any did."""
    copying = [i for i in items if i.save.published in (Published.PUBLISH, Published.FOLLOW)]
    if not copying:
        return False
    ids = [_id(i) for i in items]
    # The documents were built with the faces published before: where one of
    # the batch shows another whose published face now moves (an author's
    # new URL), they are built again below.
    built = await faces(uow.session, ids) if len(ids) > 1 else None
    for item in copying:
        ctype, entry = item.save.inp.ctype, _entry(item)
        if item.save.published is Published.PUBLISH:
            await write_published(uow.session, ctype, entry, uow.outbox, action=item.save.action)
        else:
            await follow_status(uow.session, ctype, entry, uow.outbox)
    if built is not None and built != await faces(uow.session, ids):
        await rebuild_documents(uow.session, ctx.types, ids, uow.outbox)
    return True


async def _check_links_live(session: AsyncSession, entry: Entry) -> None:
    """Refuse (422) an entry going live whose body links to missing or unpublished entries.

    Checked before the published version is written: ``entry``'s links
    against the published versions of the others.
    """
    broken, _ = await broken_links(session, source_ids=[entry.id], include_unpublished=True)
    if broken:
        raise BrokenLinks(broken)


async def _check_not_linked(session: AsyncSession, entry: Entry) -> None:
    """Refuse (409) taking ``entry`` down while published entries link to it.

    Checked on the state after the published version is removed.
    """
    blocking = [
        d
        for d in await dependents_blocking(session, [(entry.type, entry.slug)])
        if d.source.id != entry.id
    ]
    if blocking:
        raise LinkedFromPublished(f"{entry.type}/{entry.slug}", blocking)


async def _check_batch(
    session: AsyncSession, ctx: WriteContext, items: list[_Item], before: Mapping[str, Face | None]
) -> list[BrokenLink]:
    """A batch's publish and link checks, on the state after it (step 10).

    Returns:
        The links it leaves broken, when ``ctx.force`` accepts them.

    Raises:
        Refused: every reason the plugins give not to publish the batch's
            entries; else every link it breaks (unless forced).
    """
    problems: list[Problem] = []
    for item in items:
        if needs_publish_check(item.save.inp):
            refused = await publish_problems(ctx.plugins, session, item.save.inp)
            problems += [
                Problem(item.index, e.field, f"publishing refused: {e.message}") for e in refused
            ]
    if problems:
        raise Refused(problems)
    index = {_id(i): i.index for i in items}
    broken, _ = await broken_links(session, source_ids=list(before))
    problems = [
        Problem(
            index[b.source.id],
            "body",
            f"links to {b.target}, which "
            + ("does not exist" if b.reason == "missing" else "is not published"),
        )
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
            Problem(
                None,
                "",
                f"{dep.target}: would no longer be published, but published "
                f"{dep.source.type}/{dep.source.slug} links to it",
            )
        )
        if (dep.source.id, dep.target) not in seen:
            broken.append(BrokenLink(source=dep.source, target=dep.target, reason="not_published"))
    if problems and not ctx.force:
        raise Refused(problems, broken_links=True)
    return broken


async def delete(session: AsyncSession, ctx: WriteContext, entry: Entry) -> None:
    """Delete ``entry`` with its history and published version, as one unit of work.

    The documents that linked to it are built again without the link (the
    caller has refused the delete while any entry refers to it through a
    relation). No hook is called.

    Raises:
        LinkedFromPublished: published entries link to it (unless ``ctx.force``).
    """
    uow = UnitOfWork(session)
    face = (await faces(session, [entry.id])).get(entry.id)
    clinics = (await changes.entry_clinics(session, [entry], published=False))[entry.id]
    await uow.write()
    await drop_published(session, entry, uow.outbox, action="delete")
    if not ctx.force:
        await _check_not_linked(session, entry)
    affected = await dependents(session, ctx.types, [entry.id], [face] if face else [])
    affected.discard(entry.id)
    await session.exec(delete_rows(Entry).where(col(Entry.id) == entry.id))
    session.expunge(entry)
    await uow.outbox.add(
        changes.ChangeSpec.of(
            entry,
            kind=changes.DELETE,
            action="delete",
            state=changes.WORKING,
            before=clinics,
            had_before=True,
        )
    )
    await rebuild_documents(session, ctx.types, affected, uow.outbox)
    await uow.record()
    await uow.purge()


async def rebuild(session: AsyncSession, types: TypeRegistry, renderer: Renderer) -> int:
    """Derive everything again for every entry of an enabled type, as one unit of work.

    No entry gets a new version; published versions that show something new
    are recorded as refreshed, and cached responses are stale.

    Returns:
        The number of entries rebuilt.
    """
    uow = UnitOfWork(session)
    await uow.write()
    count = await rebuild_all(session, types, renderer, uow.outbox)
    await uow.record()
    # Everything was derived again, perhaps by other code: no cached answer holds.
    await uow.purge(everything=True)
    return count
