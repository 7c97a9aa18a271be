"""Failed authentications per client, in a Litestar store (memory, or Redis when shared).

A fixed window per client: the first failure opens it; once ``limit``
failures fall in it, every further failing attempt from that client is refused
(429 rather than 401) until it closes. A valid token is never refused: the
caller checks it first (see :func:`cms.http.auth.provide_caller`).
"""

from __future__ import annotations

import math

import msgspec
from litestar.stores.base import Store

from cms.storage.tables import Clock, utcnow


class FailureLimiter:
    """Counts failed authentications per client.

    Args:
        store: where counts live; a shared store (Redis) limits a client across
            workers. A count is read then written, so failures that race may
            be undercounted by a few: the limit is a brake, not an exact quota.
        limit: failures allowed per window.
        window: seconds a window lasts from its first failure.
        clock: what tells the time (the app's; tests move theirs on).
    """

    def __init__(self, store: Store, *, limit: int, window: int, clock: Clock = utcnow) -> None:
        self.store = store
        self.limit = limit
        self.window = window
        self.clock = clock

    @staticmethod
    def _key(client: str) -> str:
        return f"auth-failures:{client}"

    async def _read(self, client: str) -> tuple[int, float] | None:
        raw = await self.store.get(self._key(client))
        if raw is None:
            return None
        try:
            count, closes = msgspec.json.decode(raw, type=tuple[int, float])
        except msgspec.DecodeError:
            return None
        return count, closes

    async def retry_after(self, client: str) -> int | None:
        """Seconds until a failing attempt of ``client`` is a 401 again, or None when it is now."""
        state = await self._read(client)
        if state is None:
            return None
        count, closes = state
        remaining = closes - self.clock().timestamp()
        if count < self.limit or remaining <= 0:
            return None
        return max(1, math.ceil(remaining))

    async def record_failure(self, client: str) -> None:
        """Count one failed authentication of ``client``."""
        now = self.clock().timestamp()
        state = await self._read(client)
        if state is None or state[1] <= now:
            count, closes = 1, now + self.window
        else:
            count, closes = state[0] + 1, state[1]
        await self.store.set(
            self._key(client),
            msgspec.json.encode((count, closes)),
            expires_in=max(1, math.ceil(closes - now)),
        )
