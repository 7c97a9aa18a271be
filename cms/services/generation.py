"""The content generation: a counter that moves on every write.

Every transaction that changes what readers can see calls :func:`bump` once;
the response cache (:mod:`cms.api.cache`) reads :func:`current` to know
whether what it holds is still true. Both are one primary-key statement.
"""

from __future__ import annotations

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.storage.tables import SiteState


async def bump(session: AsyncSession) -> None:
    """Move the generation on, inside the caller's transaction."""
    await session.exec(
        update(SiteState)
        .where(col(SiteState.id) == 1)
        .values(generation=col(SiteState.generation) + 1)
    )


async def current(session: AsyncSession) -> int:
    """The generation now."""
    result = await session.exec(select(SiteState.generation).where(SiteState.id == 1))
    return result.one()
