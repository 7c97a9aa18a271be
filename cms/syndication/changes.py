"""The change feed: every change, numbered, in the transaction that made it (an outbox).

The steps of a write add each change to the unit's :class:`Outbox` as it
happens; the save pipeline (:mod:`cms.editorial.pipeline`) numbers and
writes them all with :func:`record`, at the end of the same transaction, so a
change and its event commit together or not at all; webhooks and mirrors
read them back in order (:func:`read_changes`).

Numbers come from ``site_state.change_seq``, incremented by the recording
transaction. That update locks the row until the transaction ends, so a
second writer waits for the first to commit before it takes the next
number: changes become visible in the order of their numbers, with no gaps,
and a reader resuming after ``n`` can never miss one that commits late.

Two kinds of change are recorded:

- ``published``: what anonymous readers see moved. A published version was
  written (``upsert``: published, or refreshed because something it shows
  changed) or removed (``delete``: unpublished, archived, deleted).
- ``working``: an editor's working copy was created, saved or deleted.

Per clinic (:class:`~cms.storage.tables.ChangeClinic`), an entry leaving a
clinic is a ``delete`` there while it stays an ``upsert`` elsewhere. An entry
that names no clinic (a condition) belongs to every clinic's site.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

import msgspec
from sqlalchemy import func, insert, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.dates import iso
from cms.editorial.validation import EntryInput
from cms.storage.tables import (
    Change,
    ChangeClinic,
    Entry,
    EntryRelation,
    PublishedEntry,
    PublishedRelation,
    SiteState,
    utcnow,
)

CLINIC_TYPE = "clinic"
EVERY_CLINIC = "*"
"""The clinic of a change to an entry that names none: it is every clinic's."""

PUBLISHED = "published"
WORKING = "working"
UPSERT = "upsert"
DELETE = "delete"

Clinics = list[str] | None
"""The clinics an entry is on; None when it names none (it is on every clinic)."""


@dataclass
class ChangeSpec:
    """A change to record."""

    kind: str
    action: str
    state: str
    entry_id: str
    type: str
    slug: str
    version: int | None
    after: Clinics = None
    """Clinics it is on after the change (ignored for a delete)."""
    before: Clinics = None
    """Clinics it was on before (for a published change, what the public saw)."""
    had_before: bool = False
    """Whether there was a before: a published version, or an entry being deleted."""
    at: dt.datetime = field(default_factory=utcnow)

    @classmethod
    def of(
        cls,
        entry: Entry | PublishedEntry,
        *,
        kind: str,
        action: str,
        state: str,
        after: Clinics = None,
        before: Clinics = None,
        had_before: bool = False,
        at: dt.datetime | None = None,
    ) -> ChangeSpec:
        """A change to ``entry`` (a working copy, or a published version), as it is now."""
        return cls(
            kind=kind, action=action, state=state,
            entry_id=entry.id, type=entry.type, slug=entry.slug, version=entry.version,
            after=after, before=before, had_before=had_before, at=at or utcnow(),
        )  # fmt: skip


class Outbox:
    """The changes of one write, kept in order until the write records them.

    Each change is complete when it is added: what it depends on beside the
    entry (the clinics there are) is read then, so recording it at the end
    of the write says what it said when it happened.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.specs: list[ChangeSpec] = []

    async def add(self, *specs: ChangeSpec) -> None:
        """Keep ``specs``, in order, for :func:`record`."""
        for spec in specs:
            if (
                spec.kind != DELETE
                and spec.after is not None
                and spec.had_before
                and (spec.before is None)
            ):
                # It was on every clinic (it named none) and now names some: it
                # left the others, those published now.
                spec = dataclasses.replace(spec, before=await all_clinic_slugs(self.session))
            self.specs.append(spec)


async def record(session: AsyncSession, specs: Sequence[ChangeSpec]) -> list[int]:
    """Number and write ``specs`` (an :class:`Outbox`'s) in the caller's transaction.

    The numbering's update holds the ``site_state`` row until the commit: the
    next writer takes its numbers after this one's are visible.

    Returns:
        Their sequence numbers, in order.
    """
    if not specs:
        return []
    last = (
        await session.exec(
            update(SiteState)
            .where(col(SiteState.id) == 1)
            .values(change_seq=col(SiteState.change_seq) + len(specs))
            .returning(col(SiteState.change_seq))
        )
    ).scalar_one()
    first = int(last) - len(specs) + 1
    change_rows: list[dict[str, object]] = []
    clinic_rows: list[dict[str, object]] = []
    for seq, spec in enumerate(specs, start=first):
        if spec.kind == DELETE:
            after: list[str] = []
            per_clinic = dict.fromkeys(spec.before or [EVERY_CLINIC], DELETE)
        elif spec.after is None:
            after = []
            per_clinic = {EVERY_CLINIC: UPSERT}
        else:
            after = list(spec.after)
            per_clinic = dict.fromkeys(after, UPSERT)
            gone: Iterable[str] = ()
            if spec.had_before and spec.before is not None:
                gone = [c for c in spec.before if c not in per_clinic]
            per_clinic.update(dict.fromkeys(gone, DELETE))
        left = sorted(c for c, kind in per_clinic.items() if kind == DELETE and c != EVERY_CLINIC)
        change_rows.append(
            {
                "seq": seq,
                "at": spec.at,
                "kind": spec.kind,
                "action": spec.action,
                "state": spec.state,
                "entry_id": spec.entry_id,
                "type": spec.type,
                "slug": spec.slug,
                "version": spec.version,
                "clinics": after,
                "left_clinics": left,
            }
        )
        clinic_rows += [{"clinic": c, "seq": seq, "kind": k} for c, k in per_clinic.items()]
    await session.exec(insert(Change), params=change_rows)
    await session.exec(insert(ChangeClinic), params=clinic_rows)
    return list(range(first, first + len(specs)))


async def all_clinic_slugs(session: AsyncSession) -> list[str]:
    """Every published clinic's slug (as published)."""
    query = select(PublishedEntry.slug).where(PublishedEntry.type == CLINIC_TYPE)
    return list((await session.exec(query)).all())


def input_clinics(inp: EntryInput) -> Clinics:
    """The clinics a write's ``clinics`` name (a clinic is its own), or None when it names none.

    Only ``clinics`` says where an entry is shown, as for lists, feeds and
    canonical URLs (a case story's ``clinic``, where the treatment took
    place, does not).
    """
    if inp.ctype.name == CLINIC_TYPE:
        return [inp.slug]
    return list(dict.fromkeys(inp.common.clinics)) or None


async def entry_clinics(
    session: AsyncSession, entries: Collection[Entry], *, published: bool
) -> dict[str, Clinics]:
    """The clinics each of ``entries`` is on: in its published version, or its working copy.

    Clinics go by their published slugs where they have one (a clinic's draft
    rename is not public yet), else by their working slugs (a batch load
    publishes the clinics and their entries in one transaction). A clinic is
    on itself. None: it names no clinic.
    """
    relation: type[PublishedRelation] | type[EntryRelation] = (
        PublishedRelation if published else EntryRelation
    )
    slug = func.coalesce(PublishedEntry.slug, Entry.slug) if published else Entry.slug
    out: dict[str, Clinics] = {}
    clinics = [e.id for e in entries if e.type == CLINIC_TYPE]
    if clinics:
        own = await session.exec(
            select(Entry.id, slug)
            .outerjoin(PublishedEntry, col(PublishedEntry.id) == col(Entry.id))
            .where(col(Entry.id).in_(clinics))
        )
        out.update({i: [s] for i, s in own.all()})
    ids = [e.id for e in entries if e.type != CLINIC_TYPE]
    if not ids:
        return out
    rows = await session.exec(
        select(relation.source_id, slug)
        .join(Entry, col(Entry.id) == col(relation.target_id))
        .outerjoin(PublishedEntry, col(PublishedEntry.id) == col(Entry.id))
        .where(col(relation.source_id).in_(ids), col(relation.field) == "clinics")
        .order_by(col(relation.source_id), col(relation.position))
    )
    found: dict[str, list[str]] = defaultdict(list)
    for source_id, name in rows.all():
        if name not in found[source_id]:
            found[source_id].append(name)
    out.update({i: found.get(i) or None for i in ids})
    return out


# --- Reading ------------------------------------------------------------------


class ChangeEvent(msgspec.Struct, kw_only=True):
    """One change as the feed shows it."""

    seq: int
    event: str
    """``upsert`` or ``delete``; for a clinic when the feed is read for one."""
    action: str
    """What happened: ``publish``, ``refresh``, ``unpublish``, ``archive``, ``delete``,
    and for working copies ``create``, ``update``, ``submit``, ``schedule``, ``restore``…"""
    state: str
    """``published`` (what anonymous readers see changed) or ``working`` (an editor's copy)."""
    type: str
    id: str
    slug: str
    version: int | None
    clinics: list[str]
    """Clinics the entry is on after the change; empty when it names none (it is on
    every clinic) or for a delete."""
    left_clinics: list[str]
    """Clinics it left with this change (a delete there)."""
    at: str


async def read_changes(
    session: AsyncSession,
    *,
    since: int = 0,
    limit: int = 100,
    clinic: str | None = None,
    types: Collection[str] = (),
    states: Collection[str] = (PUBLISHED,),
    shared_working: bool = True,
) -> list[ChangeEvent]:
    """Changes after ``since``, oldest first: one indexed range read.

    Args:
        clinic: only what concerns this clinic (entries on it, entries that
            name no clinic, entries that left it), with ``event`` as it is there.
        types: only changes to these type names (empty: all).
        states: ``published``, ``working`` or both.
        shared_working: with ``clinic``, include working-copy changes to
            entries that name no clinic (a token limited to some clinics may
            not read those working copies, so it gets none of their changes).
    """
    if clinic is not None:
        query = (
            select(Change, ChangeClinic.kind)
            .join(ChangeClinic, col(ChangeClinic.seq) == col(Change.seq))
            .where(
                or_(col(ChangeClinic.clinic) == clinic, col(ChangeClinic.clinic) == EVERY_CLINIC),
                col(ChangeClinic.seq) > since,
            )
            .order_by(col(ChangeClinic.seq))
        )
        if not shared_working:
            query = query.where(
                or_(col(ChangeClinic.clinic) != EVERY_CLINIC, col(Change.state) != WORKING)
            )
    else:
        query = select(Change, Change.kind).where(col(Change.seq) > since).order_by(col(Change.seq))
    if types:
        query = query.where(col(Change.type).in_(sorted(types)))
    if set(states) != {PUBLISHED, WORKING}:
        query = query.where(col(Change.state).in_(sorted(states)))
    rows = (await session.exec(query.limit(limit))).all()
    return [
        ChangeEvent(
            seq=change.seq,
            event=kind,
            action=change.action,
            state=change.state,
            type=change.type,
            id=change.entry_id,
            slug=change.slug,
            version=change.version,
            clinics=change.clinics,
            left_clinics=change.left_clinics,
            at=iso(change.at),
        )
        for change, kind in rows
    ]


async def last_seq(session: AsyncSession) -> int:
    """The number of the newest change (0 before the first)."""
    value = (await session.exec(select(SiteState.change_seq).where(SiteState.id == 1))).one()
    return int(value)
