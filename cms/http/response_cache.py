"""A per-process cache of public responses, purged by surrogate key.

A public GET is a pure function of its URL and of the published content.
The cache keeps the encoded body and its ETag per URL, and its gzip-compressed
body with that one's ETag (compressed once, when built), with the
``Surrogate-Key``s the body carries (what it shows). Each request reads the
purge number (:mod:`cms.syndication.purges`; one primary-key read, before
anything else, so the content it may then read is never older). When the
number has moved since the cache last looked, the cache reads the purges
after it, written by this process or any other, and drops the answers that
carry one of their keys (an answer that names no key goes at every purge;
``*`` drops everything); the rest are served as they are. So an editor's
draft saves drop no answer of the core's; a publish drops everything for now
(:mod:`cms.syndication.purges` says why). A revalidation with a matching
``If-None-Match`` costs no encoding, compression or hashing at all.

Concurrent misses of one URL build it once: the others wait for that
build when it reads content at least as new as they must see.

Only anonymous reads are cached. The size is bounded (least recently used
entries go first).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response
from litestar.types import Scope

from cms.http.cache_headers import ENTRY_VARY, JSON, Representations, representations, respond
from cms.syndication.purges import EVERYTHING, PurgeReader

DEFAULT_SIZE = 4096
PURGE_NUMBER_STATE = "cms.purge_number"
"""Where a request keeps the purge number it read (in its ASGI scope's state)."""
CATCH_UP_LIMIT = 256
"""More purges than this since the cache last looked: it empties instead of reading them."""
HISTORY = 64
"""How many recent purges the cache remembers, for the builds that began before them."""


@dataclass(frozen=True)
class Cached:
    """One response as sent: its representations and surrogate keys."""

    purge_number: int
    """The purge number read before its content was."""
    reps: Representations
    surrogate_keys: str


@dataclass
class _Flight:
    """A build under way, for the requests that miss the same URL meanwhile."""

    purge_number: int
    done: asyncio.Future[Cached | None]


class ResponseCache:
    """URL → response, valid until a purge names one of its keys."""

    def __init__(
        self,
        reader: PurgeReader,
        size: int = DEFAULT_SIZE,
        *,
        counted: Callable[[bool], None] | None = None,
    ) -> None:
        """
        Args:
            counted: told of every look-up, whether it was a hit (the metrics).
        """
        self.reader = reader
        self.size = size
        self.counted = counted
        self._items: OrderedDict[str, Cached] = OrderedDict()
        self._seen: int | None = None
        """The purge number the items are valid at (None: not read yet)."""
        self._history: deque[tuple[int, frozenset[str]]] = deque(maxlen=HISTORY)
        """The keys of the latest purges, by number."""
        self._catching_up = asyncio.Lock()
        self._flights: dict[str, _Flight] = {}

    async def purge_number(self, scope: Scope) -> int:
        """The purge number one request reads at: read once, by whoever asks first.

        The CORS layer asks too (the published clinics' sites follow it), so
        a browser's request costs the same one read as any other. An earlier
        read is as safe as the cache's own: it still comes before the content.
        """
        state = scope.setdefault("state", {})
        now = state.get(PURGE_NUMBER_STATE)
        if now is None:
            now = state[PURGE_NUMBER_STATE] = await self.reader.current()
        return int(now)

    async def catch_up(self, now: int) -> None:
        """Drop the answers the purges up to number ``now`` name, once per purge."""
        if self._seen is None:
            self._seen = now  # nothing is held yet
            return
        if now <= self._seen:
            return
        async with self._catching_up:
            seen = self._seen
            if now <= seen:
                return  # another request caught up meanwhile
            purged = await self.reader.purges_since(seen, now, CATCH_UP_LIMIT + 1)
            # Numbers have no gaps: fewer rows than numbers means more than it reads at
            # once, or some deleted as old before it looked.
            if len(purged) != now - seen:
                self._items.clear()
                self._history.clear()
            else:
                for seq, keys in purged:
                    self._history.append((seq, frozenset(keys)))
                gone = frozenset().union(*(keys for _, keys in purged))
                if EVERYTHING in gone:
                    self._items.clear()
                else:
                    stale = [k for k, item in self._items.items() if _purged(item, gone)]
                    for key in stale:
                        del self._items[key]
            self._seen = now

    def get(self, key: str) -> Cached | None:
        """The response for ``key``, if held (call :meth:`catch_up` first)."""
        item = self._items.get(key)
        if self.counted is not None:
            self.counted(item is not None)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item

    def put(self, key: str, item: Cached) -> None:
        """Keep ``item`` unless a purge since its content was read names it, dropping
        the least recently used beyond the size."""
        if self._seen is None or item.purge_number > self._seen:
            return  # built past what the cache has caught up to: the next request will
        if item.purge_number < self._seen:
            later = [keys for seq, keys in self._history if seq > item.purge_number]
            if len(later) < self._seen - item.purge_number or _purged(
                item, frozenset().union(*later)
            ):
                return  # a purge it may predate names it, or the history is too short to tell
        self._items[key] = item
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    async def build_once(
        self, key: str, now: int, build: Callable[[], Awaitable[tuple[bytes, Sequence[str]]]]
    ) -> Cached:
        """Build the answer for ``key`` at purge number ``now``, or wait for a build under
        way that read content at least as new; keep it."""
        flight = self._flights.get(key)
        if flight is not None and flight.purge_number >= now:
            shared = await asyncio.shield(flight.done)
            if shared is not None:
                return shared
            # That build failed: this request builds for itself (and gets its own error).
        done: asyncio.Future[Cached | None] = asyncio.get_running_loop().create_future()
        mine = self._flights[key] = _Flight(now, done)
        try:
            body, keys = await build()
            item = Cached(
                purge_number=now,
                reps=representations(body),
                surrogate_keys=" ".join(keys),
            )
        except BaseException:
            done.set_result(None)
            raise
        finally:
            if self._flights.get(key) is mine:
                del self._flights[key]
        done.set_result(item)
        self.put(key, item)
        return item


def _purged(item: Cached, gone: frozenset[str]) -> bool:
    """Whether purges of the keys ``gone`` drop ``item`` (one that names no key: any purge)."""
    if not gone:
        return False
    if EVERYTHING in gone or not item.surrogate_keys:
        return True
    return not gone.isdisjoint(item.surrogate_keys.split())


def cache_key(request: Request[Any, Any, Any]) -> str:
    """The path and the query parameters in a canonical order."""
    query = sorted(request.query_params.multi_items())
    return request.url.path + "?" + "&".join(f"{k}={v}" for k, v in query)


async def cached_json(
    request: Request[Any, Any, Any],
    cache: ResponseCache,
    build: Callable[[], Awaitable[tuple[bytes, Sequence[str]]]],
    *,
    cache_control: str,
    vary: str | Sequence[str] = ENTRY_VARY,
    media_type: str = JSON,
) -> Response[bytes]:
    """Answer from the cache, or ``build()`` the body and its surrogate keys and keep it.

    Args:
        media_type: the body's ``Content-Type`` (feeds are XML or JSON Feed).

    A body depends on the path and the query alone (:func:`cache_key`): one
    with absolute URLs builds them from the configured base, never the
    request's ``Host``, so a forged ``Host`` can never be cached for others.
    """
    now = await cache.purge_number(request.scope)
    await cache.catch_up(now)
    key = cache_key(request)
    item = cache.get(key)
    if item is None:
        item = await cache.build_once(key, now, build)
    return respond(
        request,
        item.reps,
        cache_control=cache_control,
        surrogate_keys=item.surrogate_keys,
        vary=vary,
        media_type=media_type,
    )
