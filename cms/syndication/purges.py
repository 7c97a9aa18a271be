"""Cache purges: which public answers a write altered, numbered for every process's cache.

A unit of work that changes what anonymous readers see ends with
:func:`record`: the surrogate keys (:mod:`cms.syndication.cache_keys`) of
every answer it can alter become one numbered row of ``cache_purges``, and
``site_state.purge_seq`` moves to its number, in the write's transaction. A
response cache in any process follows that number (one primary-key read per
request) and, when it moves, reads the rows after the one it last saw and
drops the answers that carry one of their keys (:mod:`cms.http.response_cache`).

The number is taken under the writers' turn (:func:`cms.syndication.generation.bump`
holds the ``site_state`` row until the commit), so purges commit in the order
of their numbers and a reader that has seen ``n`` has seen every purge before it.

A write that changes what anonymous readers see purges every cached answer
for now (:data:`EVERYTHING`, its own keys beside): answers do not yet name
everything they depend on (a list filtered by another entry names neither
that entry nor its relations; a relation target that becomes published is
not named by the answers it will appear in), so a purge by key alone left
those stale. A write that changes only working copies (an editor's draft)
purges the answers that name no key (:data:`KEYLESS`): every core answer
stays cached.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import insert, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.storage.tables import CachePurge, SiteState

EVERYTHING = "*"
"""The key that purges every cached answer (any published change, ``cms content rebuild``)."""
KEYLESS = "~"
"""The key that purges only the answers that name no key (a working copy changed)."""


async def record(session: AsyncSession, keys: Collection[str]) -> int | None:
    """Number and write one purge of ``keys`` in the caller's transaction.

    Returns:
        Its number; None when ``keys`` is empty (nothing is written).
    """
    if not keys:
        return None
    seq = (
        await session.exec(
            update(SiteState)
            .where(col(SiteState.id) == 1)
            .values(purge_seq=col(SiteState.purge_seq) + 1)
            .returning(col(SiteState.purge_seq))
        )
    ).scalar_one()
    await session.exec(insert(CachePurge).values(seq=int(seq), keys=sorted(keys)))
    return int(seq)
