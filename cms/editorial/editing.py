"""Creating and changing entries through the API: drafts, merge patches, locks.

Every function here runs in the caller's transaction and leaves committing to
it, so that an entry, its relations, its rendered fields and its revision are
written together or not at all: they check what the editor asks for, then
hand the write to the save pipeline (:mod:`cms.editorial.pipeline`).

Concurrency: a change first locks the entry's row (``SELECT … FOR UPDATE`` on
PostgreSQL; on SQLite a write to the row, which takes the database's write
lock before anything is read), then reads it. Two changes made from the same
version therefore run one after the other, and the second sees the first's
version and fails its precondition instead of overwriting it.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from typing import Any

import msgspec
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.access.tokens import Caller
from cms.contenttypes import ContentType
from cms.editorial import pipeline
from cms.editorial.pipeline import WriteContext
from cms.editorial.slugs import available_slug, release_slug, slug_is_free, slugify
from cms.editorial.validation import EntryInput, parse_entry
from cms.errors import FieldError, Forbidden, InvalidEntry
from cms.storage.tables import Entry as Entry  # the handle a write's handler holds
from cms.storage.tables import EntryRelation, Revision

MAX_CREATE_ATTEMPTS = 100
"""How many slugs a create without one tries: each that fails was taken by a create
committed meanwhile, so this bounds the creates of one title racing each other."""

# Keys of the write-side document the API never takes from a client.
IMMUTABLE = ("id",)
WORKFLOW_OWNED = ("status",)


async def lock_entry(
    session: AsyncSession, type_name: str, *, slug: str | None = None, entry_id: str | None = None
) -> Entry | None:
    """Lock an entry's row for this transaction and read it fresh, or None when absent.

    Must come before any other write of the transaction: on SQLite the lock
    is the database's write lock, and it is only safe to take it before the
    transaction has read anything.
    """
    where = [col(Entry.type) == type_name]
    where.append(col(Entry.slug) == slug if entry_id is None else col(Entry.id) == entry_id)
    bind = session.get_bind()
    query = select(Entry).where(*where).execution_options(populate_existing=True)
    if bind.dialect.name == "sqlite":
        # SQLite has no row locks; a no-op write takes the database's write
        # lock (waiting for another writer to commit) before our first read.
        await session.exec(update(Entry).where(*where).values(version=Entry.version))
    else:
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def current_document(
    session: AsyncSession, ctype: ContentType, entry: Entry
) -> dict[str, Any]:
    """The write-side document of ``entry`` now: its latest revision's snapshot, with
    relation fields naming their targets' current slugs (a target may have been
    renamed since). A field that may name several types names each target as
    ``type/slug``, as content files do; the others name bare slugs."""
    snapshot = (
        await session.exec(
            select(Revision.snapshot).where(
                Revision.entry_id == entry.id, Revision.version == entry.version
            )
        )
    ).first()
    document: dict[str, Any] = dict(snapshot or {})
    target = aliased(Entry, name="target")
    rows = await session.exec(
        select(EntryRelation.field, target.type, target.slug)
        .join(target, col(target.id) == col(EntryRelation.target_id))
        .where(col(EntryRelation.source_id) == entry.id)
        .order_by(col(EntryRelation.field), col(EntryRelation.position))
    )
    relations = ctype.all_relations()
    current: dict[str, list[str]] = defaultdict(list)
    for field, type_name, slug in rows.all():
        rel = relations.get(field)
        if rel is not None:  # rows of a field the type no longer declares are dropped
            current[field].append(rel.join(type_name, slug))
    for name, rel in relations.items():
        slugs = current.get(name, [])
        document[name] = slugs if rel.many else (slugs[0] if slugs else None)
    document["id"], document["slug"] = entry.id, entry.slug
    return document


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply a JSON Merge Patch (RFC 7396): objects merge, ``null`` removes, the rest replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _check_scope(caller: Caller | None, inp: EntryInput) -> None:
    if caller is not None and not caller.may_change(inp.common.clinics):
        raise Forbidden(
            "clinics",
            f"this token may only write entries shown on {', '.join(sorted(caller.clinics))} alone",
        )


def _as_draft(inp: EntryInput) -> EntryInput:
    return dataclasses.replace(inp, common=msgspec.structs.replace(inp.common, status="draft"))


async def create_entry(
    session: AsyncSession,
    ctx: WriteContext,
    ctype: ContentType,
    raw: Any,
    *,
    caller: Caller | None = None,
) -> Entry:
    """Create a draft from ``raw``: common and own fields, ``slug`` optional.

    Without a slug, one is made from the title, unique within the type
    (``title``, ``title-2``, …). Concurrent creates may pick the same one:
    on PostgreSQL they see one another only once committed, so the loser's
    insert fails on the unique index (or finds the winner's row). The loser
    then takes the next free slug and tries again, in the same transaction.

    Raises:
        InvalidEntry: naming each bad field (a slug given and taken included,
            whenever it was taken).
        Forbidden: the entry would appear on a clinic outside ``caller``'s.
    """
    if not isinstance(raw, dict):
        raise InvalidEntry([FieldError("(body)", "must be a JSON object of the entry's fields")])
    fields = dict(raw)
    errors: list[FieldError] = []
    status = fields.pop("status", "draft")
    if status != "draft":
        errors.append(
            FieldError("status", "new entries are drafts; submit or publish them afterwards")
        )
    slug = fields.pop("slug", None)
    if slug is not None and not isinstance(slug, str):
        errors.append(FieldError("slug", "must be a string"))
        slug = None
    title = fields.get("title")
    base = slug or slugify(title if isinstance(title, str) else "")
    try:
        inp = parse_entry(ctype, base, fields, entry_id=str(uuid.uuid4()))
    except InvalidEntry as exc:
        raise InvalidEntry(errors + exc.errors) from exc
    if errors:
        raise InvalidEntry(errors)
    _check_scope(caller, inp)
    attempts = 0
    while True:
        attempts += 1
        if slug is None:
            inp = dataclasses.replace(inp, slug=await available_slug(session, ctype.name, base))
        elif not await slug_is_free(session, ctype.name, slug):
            raise InvalidEntry([FieldError("slug", f"another {ctype.name} already uses {slug!r}")])
        try:
            # A savepoint: a create that loses its slug to another one made at
            # the same moment undoes its own writes and tries again.
            async with session.begin_nested():
                await release_slug(session, ctype.name, inp.slug)
                result = await pipeline.save(session, ctx, [pipeline.Save(inp, action="create")])
        except (IntegrityError, InvalidEntry):
            if attempts == MAX_CREATE_ATTEMPTS or await slug_is_free(session, ctype.name, inp.slug):
                raise
            continue
        return result.saved[0].entry


async def update_entry(
    session: AsyncSession,
    ctx: WriteContext,
    ctype: ContentType,
    entry: Entry,
    patch: Any,
    *,
    caller: Caller | None = None,
) -> tuple[Entry, bool]:
    """Apply a JSON Merge Patch to the (locked) ``entry``.

    Returns:
        The entry and whether anything changed.

    Raises:
        InvalidEntry: naming each bad field.
        Forbidden: the result would appear on a clinic outside ``caller``'s.
    """
    if not isinstance(patch, dict):
        raise InvalidEntry([FieldError("(body)", "a merge patch here is a JSON object")])
    errors = [
        FieldError(key, "cannot be changed")
        for key in IMMUTABLE
        if key in patch and patch[key] != entry.id
    ]
    errors += [
        FieldError(key, "changes through the workflow routes (submit, publish, unpublish, …)")
        for key in WORKFLOW_OWNED
        if key in patch
    ]
    if "slug" in patch and not isinstance(patch["slug"], str):
        errors.append(FieldError("slug", "must be a string (it cannot be removed)"))
    if errors:
        raise InvalidEntry(errors)
    current = await current_document(session, ctype, entry)
    return await replace_content(
        session, ctx, ctype, entry, merge_patch(current, patch), current=current, caller=caller
    )


async def replace_content(
    session: AsyncSession,
    ctx: WriteContext,
    ctype: ContentType,
    entry: Entry,
    document: dict[str, Any],
    *,
    current: dict[str, Any],
    caller: Caller | None = None,
    action: str = "update",
) -> tuple[Entry, bool]:
    """Make ``document`` (a whole write-side document) the (locked) ``entry``'s content.

    A change that alters anything makes the entry a draft again: what was
    reviewed, scheduled or published is not what it now says. Its published
    version, if any, stays live until it is published again.

    Args:
        current: :func:`current_document` of ``entry``, to tell a change from none.

    Raises:
        InvalidEntry: naming each bad field.
        Forbidden: the result would appear on a clinic outside ``caller``'s.
    """
    fields = dict(document)
    new_slug = fields.pop("slug", entry.slug)
    fields.pop("id", None)
    fields["status"] = entry.status
    inp = parse_entry(ctype, new_slug, fields, entry_id=entry.id)
    _check_scope(caller, inp)
    if inp.payload() == current:
        return entry, False
    if new_slug != entry.slug and not await slug_is_free(
        session, ctype.name, new_slug, except_id=entry.id
    ):
        raise InvalidEntry([FieldError("slug", f"another {ctype.name} already uses it")])
    entry.scheduled_at = None
    entry.scheduled_by = None
    # Its published version, if any, stays live (Published.KEEP): an edit is
    # neither a publication nor an unpublication.
    result = await pipeline.save(
        session,
        ctx,
        [
            pipeline.Save(
                _as_draft(inp),
                entry=entry,
                action=action,
                new_version=True,  # compared with the current document above; this is a change
            )
        ],
    )
    saved = result.saved[0]
    return saved.entry, saved.changed
