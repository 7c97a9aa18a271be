"""Slugs: made from titles, unique per type, and kept as redirects when renamed."""

from __future__ import annotations

import re
import unicodedata

from sqlmodel import col, delete, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.storage.tables import Entry, PublishedEntry, SlugRedirect, utcnow
from cms.storage.views import PUBLISHED, WORKING

MAX_SLUG = 120
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def slugify(title: str) -> str:
    """``Sciatica: what helps?`` -> ``sciatica-what-helps``; ``entry`` when nothing is left."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = _NOT_ALNUM.sub("-", ascii_title.lower()).strip("-")
    # Room for a "-NNN" suffix, cut at a hyphen so no word is split.
    if len(slug) > MAX_SLUG - 4:
        slug = slug[: MAX_SLUG - 4].rsplit("-", 1)[0] or slug[: MAX_SLUG - 4]
    return slug.strip("-") or "entry"


async def taken_slugs(
    session: AsyncSession, type_name: str, base: str, *, except_id: str | None = None
) -> set[str]:
    """Slugs of ``type_name`` equal to ``base`` or ``base-…``, working or published.

    A published version keeps its slug until the entry is published again, so
    a slug is free only when no other entry holds it in either view.
    """
    taken: set[str] = set()
    for table in (Entry, PublishedEntry):
        query = select(table.slug).where(
            table.type == type_name,
            or_(col(table.slug) == base, col(table.slug).startswith(f"{base}-")),
        )
        if except_id is not None:
            query = query.where(col(table.id) != except_id)
        taken.update((await session.exec(query)).all())
    return taken


async def available_slug(session: AsyncSession, type_name: str, base: str) -> str:
    """``base``, or the first of ``base-2``, ``base-3``, … no entry of the type holds."""
    taken = await taken_slugs(session, type_name, base)
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


async def slug_is_free(
    session: AsyncSession, type_name: str, slug: str, *, except_id: str | None = None
) -> bool:
    """Whether no entry of the type but ``except_id`` holds ``slug``, working or published."""
    return slug not in await taken_slugs(session, type_name, slug, except_id=except_id)


async def redirect_target(
    session: AsyncSession, type_name: str, slug: str, *, published_only: bool
) -> str | None:
    """The slug an old ``slug`` now leads to, in the public or the working view."""
    table = (PUBLISHED if published_only else WORKING).entry
    result = await session.exec(
        select(table.slug)
        .join(SlugRedirect, col(SlugRedirect.entry_id) == col(table.id))
        .where(SlugRedirect.type == type_name, SlugRedirect.slug == slug)
    )
    return result.first()


async def record_rename(session: AsyncSession, entry: Entry, old_slug: str) -> None:
    """Keep ``old_slug`` leading to ``entry`` (already renamed), in the caller's transaction."""
    await release_slug(session, entry.type, entry.slug)
    existing = await session.get(SlugRedirect, (entry.type, old_slug))
    if existing is None:
        existing = SlugRedirect(
            type=entry.type, slug=old_slug, entry_id=entry.id, created_at=utcnow()
        )
    existing.entry_id = entry.id
    session.add(existing)
    await session.flush()


async def release_slug(session: AsyncSession, type_name: str, slug: str) -> None:
    """Drop any redirect from ``slug``: an entry holds it now, and a live slug wins."""
    await session.exec(
        delete(SlugRedirect).where(
            col(SlugRedirect.type) == type_name, col(SlugRedirect.slug) == slug
        )
    )
