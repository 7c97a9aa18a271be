"""Strong ETags, conditional GETs and cache headers for JSON bodies."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from litestar import Request, Response

JSON = "application/json"
# Answers to a token: never stored by a shared cache, nor kept by the browser.
PRIVATE = "private, no-store"


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


def respond(
    request: Request[Any, Any, Any],
    body: bytes,
    etag: str,
    *,
    cache_control: str,
    surrogate_keys: str = "",
    vary: str | None = None,
    status_code: int = 200,
) -> Response[bytes]:
    """Answer ``body`` (whose ETag is ``etag``), or 304 when the client already has it."""
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if vary:
        headers["Vary"] = vary
    if surrogate_keys:
        headers["Surrogate-Key"] = surrogate_keys
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(content=b"", status_code=304, headers=headers)
    return Response(content=body, media_type=JSON, headers=headers, status_code=status_code)


def json_response(
    request: Request[Any, Any, Any],
    body: bytes,
    *,
    cache_control: str,
    surrogate_keys: Iterable[str] = (),
    vary: str | None = None,
    status_code: int = 200,
) -> Response[bytes]:
    """Answer ``body`` with its ETag, or 304 when the client already has it.

    Args:
        vary: request headers the answer depends on (``Authorization`` where a
            token changes what is seen), so that caches keep the answers apart.
    """
    return respond(
        request,
        body,
        etag_for(body),
        cache_control=cache_control,
        surrogate_keys=" ".join(surrogate_keys),
        vary=vary,
        status_code=status_code,
    )
