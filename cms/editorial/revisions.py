"""An entry's history: every version, who made it, and restoring one as a new version."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.access.tokens import Caller
from cms.contenttypes import ContentType
from cms.editorial.editing import current_document, replace_content
from cms.editorial.pipeline import WriteContext
from cms.storage.tables import ApiToken, Entry, Revision

# What a restore leaves as it is now: the entry's identity, its URL (restoring
# an old slug would break links made since) and its workflow state.
KEPT_ON_RESTORE = ("id", "slug", "status")


@dataclass(frozen=True)
class RevisionInfo:
    """One version of an entry, without its content."""

    version: int
    created_at: dt.datetime
    action: str | None
    actor: str | None
    actor_name: str | None
    changed_fields: list[str]
    status: str | None


def _columns() -> tuple[Any, ...]:
    return (
        Revision.version,
        Revision.created_at,
        Revision.action,
        Revision.actor,
        ApiToken.name,
        Revision.changed_fields,
        Revision.snapshot,
    )


def _info(row: Any) -> RevisionInfo:
    version, created_at, action, actor, name, changed, snapshot = row
    return RevisionInfo(
        version=version,
        created_at=created_at,
        action=action,
        actor=actor,
        actor_name=name,
        changed_fields=list(changed),
        status=snapshot.get("status"),
    )


async def list_revisions(
    session: AsyncSession, entry_id: str, *, limit: int = 20, before: int | None = None
) -> tuple[list[RevisionInfo], int | None]:
    """Versions of an entry, newest first, and the version to continue before (or None)."""
    query = (
        select(*_columns())
        .outerjoin(ApiToken, col(ApiToken.id) == col(Revision.actor))
        .where(Revision.entry_id == entry_id)
        .order_by(col(Revision.version).desc())
        .limit(limit + 1)
    )
    if before is not None:
        query = query.where(col(Revision.version) < before)
    rows = list((await session.exec(query)).all())
    page = [_info(r) for r in rows[:limit]]
    return page, (page[-1].version if len(rows) > limit else None)


async def get_revision(
    session: AsyncSession, entry_id: str, version: int
) -> tuple[RevisionInfo, dict[str, Any]] | None:
    """One version and the whole write-side document it saved, or None."""
    row = (
        await session.exec(
            select(*_columns())
            .outerjoin(ApiToken, col(ApiToken.id) == col(Revision.actor))
            .where(Revision.entry_id == entry_id, Revision.version == version)
        )
    ).first()
    if row is None:
        return None
    return _info(row), dict(row[-1])


async def restore_revision(
    session: AsyncSession,
    ctx: WriteContext,
    ctype: ContentType,
    entry: Entry,
    snapshot: dict[str, Any],
    *,
    caller: Caller | None = None,
) -> tuple[Entry, bool]:
    """Make an old version's content the (locked) entry's content, as a new version.

    History is never rewritten: the restore is one more revision, and the entry
    becomes a draft to publish like any change. Its slug and status stay.

    Raises:
        InvalidEntry: the old content no longer validates (a related entry was
            deleted since, say), naming each field.
        Forbidden: it would appear on a clinic outside ``caller``'s.
    """
    current = await current_document(session, ctype, entry)
    document = {k: v for k, v in snapshot.items() if k not in KEPT_ON_RESTORE}
    return await replace_content(
        session, ctx, ctype, entry, document, current=current, caller=caller, action="restore"
    )
