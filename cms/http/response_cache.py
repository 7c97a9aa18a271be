"""A per-process cache of public responses, validated by the content generation.

A public GET is a pure function of its URL and of the stored content. The
cache keeps the encoded body and its ETag per URL, and its gzip-compressed
body with that one's ETag (compressed once, when built), together with the
generation it was built at; a request reads the generation (one primary-key
read, before anything else, so the content it may then read is never older)
and serves the cached bytes when nothing has been written since, from
this process or any other, in the coding the client accepts. A revalidation
with a matching ``If-None-Match`` then costs no encoding, compression or
hashing at all.

Only anonymous reads are cached. The size is bounded (least recently used
entries go first).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response
from litestar.types import Scope

from cms.http.cache_headers import ENTRY_VARY, JSON, Representations, representations, respond
from cms.syndication.generation import GenerationReader

DEFAULT_SIZE = 4096
GENERATION_STATE = "cms.generation"
"""Where a request keeps the generation it read (in its ASGI scope's state)."""


@dataclass(frozen=True)
class Cached:
    """One response as sent: its representations and surrogate keys."""

    generation: int
    reps: Representations
    surrogate_keys: str


class ResponseCache:
    """URL → response, valid while the content generation has not moved."""

    def __init__(
        self,
        generations: GenerationReader,
        size: int = DEFAULT_SIZE,
        *,
        counted: Callable[[bool], None] | None = None,
    ) -> None:
        """
        Args:
            counted: told of every look-up, whether it was a hit (the metrics).
        """
        self.generations = generations
        self.size = size
        self.counted = counted
        self._items: OrderedDict[str, Cached] = OrderedDict()

    async def generation(self, scope: Scope) -> int:
        """The generation one request reads at: read once, by whoever asks first.

        The CORS layer asks too (the published clinics' sites follow it), so
        a browser's request costs the same one read as any other. An earlier
        read is as safe as the cache's own: it still comes before the content.
        """
        state = scope.setdefault("state", {})
        now = state.get(GENERATION_STATE)
        if now is None:
            now = state[GENERATION_STATE] = await self.generations.current()
        return int(now)

    def get(self, key: str, current: int) -> Cached | None:
        """The response for ``key`` if it was built at generation ``current``."""
        item = self._items.get(key)
        if item is not None and item.generation != current:
            item = None
        if self.counted is not None:
            self.counted(item is not None)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item

    def put(self, key: str, item: Cached) -> None:
        """Keep ``item``, dropping the least recently used beyond the size."""
        self._items[key] = item
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


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
    now = await cache.generation(request.scope)
    key = cache_key(request)
    item = cache.get(key, now)
    if item is None:
        body, keys = await build()
        item = Cached(generation=now, reps=representations(body), surrogate_keys=" ".join(keys))
        cache.put(key, item)
    return respond(
        request,
        item.reps,
        cache_control=cache_control,
        surrogate_keys=item.surrogate_keys,
        vary=vary,
        media_type=media_type,
    )
