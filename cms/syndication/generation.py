"""The writers' turn: one row every write transaction locks before its first write.

Every transaction that writes entries calls :func:`bump` once, before its
first write: the update holds the ``site_state`` row until the commit, so
writers take turns, and the numbers they take on that row (changes,
:mod:`cms.syndication.changes`; cache purges, :mod:`cms.syndication.purges`)
commit in order.
"""

from __future__ import annotations

from sqlmodel import col, update
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.storage.tables import SiteState


async def bump(session: AsyncSession) -> None:
    """Take the writers' turn, inside the caller's transaction."""
    await session.exec(
        update(SiteState)
        .where(col(SiteState.id) == 1)
        .values(generation=col(SiteState.generation) + 1)
    )
