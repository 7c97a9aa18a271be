"""Strong ETags, conditional GETs and cache headers for JSON bodies."""

from __future__ import annotations

import hashlib

JSON = "application/json"


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
