"""Strong ETags, conditional GETs and cache headers for JSON bodies."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from litestar import Request, Response

from cms.settings import Settings

JSON = "application/json"


def public_cache_control(settings: Settings) -> str:
    """``Cache-Control`` of public reads: shared caches may keep them, and serve them stale."""
    return (
        f"public, max-age={settings.public_max_age}, "
        f"stale-while-revalidate={settings.stale_while_revalidate}"
    )


def etag_for(body: bytes) -> str:
    """A strong ETag: a digest of the exact bytes sent."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (RFC 9110 §13.1.2).

    The comparison is weak, as the RFC asks for If-None-Match, so ``W/"x"``
    matches ``"x"``; ``*`` matches any current representation.
    """
    if not header:
        return False
    if header.strip() == "*":
        return True
    candidates = (tag.strip().removeprefix("W/") for tag in header.split(","))
    return etag in candidates


def json_response(
    request: Request[Any, Any, Any],
    body: bytes,
    *,
    cache_control: str,
    surrogate_keys: Iterable[str] = (),
) -> Response[bytes]:
    """Answer ``body`` with its ETag, or 304 when the client already has it."""
    etag = etag_for(body)
    headers = {"ETag": etag, "Cache-Control": cache_control}
    keys = " ".join(surrogate_keys)
    if keys:
        headers["Surrogate-Key"] = keys
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(content=b"", status_code=304, headers=headers)
    return Response(content=body, media_type=JSON, headers=headers)
