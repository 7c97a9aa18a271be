"""Cache purges: which public answers a write altered, numbered for every process's cache.

A unit of work that writes ends with :func:`record`: what it purges becomes
one numbered row of ``cache_purges``, and ``site_state.purge_seq`` moves to
its number, in the write's transaction. A response cache in any process
follows that number through a :class:`PurgeReader` (one primary-key read
per request) and, when it moves, reads the rows after the one it last saw
and drops the answers they name (:mod:`cms.http.response_cache`).

The number is taken under the writers' turn (:func:`cms.syndication.generation.bump`
holds the ``site_state`` row until the commit), so purges commit in the order
of their numbers and a reader that has seen ``n`` has seen every purge before it.

A write that changes what anonymous readers see purges every cached answer
(:data:`EVERYTHING`): answers do not yet name
everything they depend on (a list filtered by another entry names neither
that entry nor its relations; a relation target that becomes published is
not named by the answers it will appear in), so a purge by key alone left
those stale. A write that changes only working copies (an editor's draft)
purges the answers that name no key (:data:`KEYLESS`): every core answer
stays cached.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Collection
from typing import Protocol

from sqlalchemy import delete, insert, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.storage.db import SQLITE_BUSY_TIMEOUT_MS, is_sqlite
from cms.storage.tables import CachePurge, SiteState

EVERYTHING = "*"
"""The key that purges every cached answer (any published change, ``cms content rebuild``)."""
KEYLESS = "~"
"""The key that purges only the answers that name no key (a working copy changed)."""
KEPT = 1024
"""Purges kept: each write deletes those older than the newest ``KEPT``. A cache that
finds purges missing from the range it asks for empties itself instead."""

_NEWEST = "SELECT purge_seq FROM site_state WHERE id = 1"
_SINCE = "SELECT seq, keys FROM cache_purges WHERE seq > {0} AND seq <= {1} ORDER BY seq LIMIT {2}"
Purge = tuple[int, list[str]]
"""A purge's number and the keys it names."""


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
    await session.exec(delete(CachePurge).where(col(CachePurge.seq) <= int(seq) - KEPT))
    return int(seq)


# --- Reading purges, for the response caches -----------------------------------------


class PurgeReader(Protocol):
    """Reads the number of the newest cache purge, and the purges."""

    async def current(self) -> int:
        """The number of the newest purge, now."""
        ...

    async def purges_since(self, after: int, upto: int, limit: int) -> list[Purge]:
        """The purges numbered after ``after`` up to ``upto``, in order, at most ``limit``."""
        ...

    def close(self) -> None:
        """Release what the reader holds."""
        ...


class EnginePurgeReader:
    """Reads through the app's async engine (PostgreSQL), one read at a time per process.

    Requests that ask while a read is under way share the next one: a read
    that began after a request arrived sees every write acknowledged before
    it did, so its answer is as good as the request's own. Under load a
    worker then sends one query per round trip, whatever the number of
    requests waiting, instead of queueing each for a pooled connection.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._arrivals = 0
        self._flight: tuple[int, asyncio.Future[int]] | None = None
        """The read under way: how many requests had arrived when it began, and its result."""

    async def current(self) -> int:
        ticket = self._arrivals
        self._arrivals += 1
        while True:
            flight = self._flight
            if flight is None:
                return await self._read()
            began_after, done = flight
            await asyncio.wait([done])
            if ticket < began_after and not done.cancelled():
                error = done.exception()
                if error is not None:
                    raise error
                return done.result()
            # It began before this request arrived, or its caller went away: read anew.

    async def _read(self) -> int:
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._flight = (self._arrivals, done)
        try:
            async with self.engine.connect() as connection:
                result = await connection.exec_driver_sql(_NEWEST)
                value = int(result.scalar_one())
        except Exception as exc:
            done.set_exception(exc)
            done.exception()  # retrieved: the waiters, if any, raise it themselves
            raise
        except BaseException:
            done.cancel()
            raise
        finally:
            if self._flight is not None and self._flight[1] is done:
                self._flight = None
        done.set_result(value)
        return value

    async def purges_since(self, after: int, upto: int, limit: int) -> list[Purge]:
        async with self.engine.connect() as connection:
            result = await connection.execute(
                text(_SINCE.format(":after", ":upto", ":limit")),
                {"after": after, "upto": upto, "limit": limit},
            )
            return [(int(r[0]), _keys(r[1])) for r in result]

    def close(self) -> None:
        """Nothing to release: the engine is the app's."""


class SqlitePurgeReader:
    """Reads through one plain ``sqlite3`` connection, on the event loop.

    A primary-key read in WAL mode takes a few microseconds, while a trip
    through aiosqlite's worker thread costs hundreds: measured here, 4 µs
    against 560 µs. Blocking the loop for 4 µs is the cheaper way.
    """

    def __init__(self, url: str) -> None:
        self.path = make_url(url).database or ""
        self.connection: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self.connection is None:
            # Opened on first use, so that the app starts (and /ready can say
            # why not) while the database is missing.
            self.connection = sqlite3.connect(
                f"file:{self.path}?mode=ro",
                uri=True,
                check_same_thread=False,  # made in one request, used on the loop's thread
                timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
            )
        return self.connection

    async def current(self) -> int:
        row = self._connection().execute(_NEWEST).fetchone()
        return int(row[0])

    async def purges_since(self, after: int, upto: int, limit: int) -> list[Purge]:
        # Once per purge and process, a range of the primary key.
        query = _SINCE.format("?", "?", "?")
        rows = self._connection().execute(query, (after, upto, limit)).fetchall()
        return [(int(r[0]), _keys(r[1])) for r in rows]

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


def _keys(value: object) -> list[str]:
    """A purge's keys as the driver returns the JSON column (text on SQLite)."""
    if isinstance(value, str | bytes):
        value = json.loads(value)
    assert isinstance(value, list), value
    return [str(k) for k in value]


def purge_reader(url: str, engine: AsyncEngine) -> PurgeReader:
    """The fastest reader for the database at ``url``."""
    database = make_url(url).database
    if is_sqlite(url) and database not in (None, "", ":memory:"):
        return SqlitePurgeReader(url)
    return EnginePurgeReader(engine)
