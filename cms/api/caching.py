"""HTTP caching: strong ETags, conditional GETs, compression, Cache-Control, Vary, Surrogate-Key.

- Every GET answers with a strong ETag and honours ``If-None-Match`` with a
  304. The content routes compute it in :func:`json_response`; the
  :func:`conditional_get` middleware gives one to every other GET (health,
  the OpenAPI document, plugin routes).
- Bodies of 1 KiB or more are gzip-compressed when the client accepts it.
  A strong ETag names one representation, so the compressed one has its own
  (``"<digest>-gzip"``), and every response says ``Vary: Accept-Encoding``.
- Public reads say ``Cache-Control: public, max-age=..., stale-while-revalidate=...``
  and carry a ``Surrogate-Key`` header naming every entry in the body and the
  list it came from, so a CDN can purge exactly the pages that show an entry.
- Reads with a token (the editors' API) do not exist yet. When they do, they
  answer with :data:`PRIVATE_NO_STORE` and :data:`TOKEN_VARY` (their answer
  depends on the ``Authorization`` header) and no ``Surrogate-Key``; public
  routes that also serve token reads add ``Authorization`` to their ``Vary``
  from then on. This module is the one place to change.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from litestar import Request, Response
from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
)

from cms.settings import Settings

JSON = "application/json"
GZIP_MIN_BYTES = 1024
GZIP_LEVEL = 6
PUBLIC_VARY: tuple[str, ...] = ("Accept-Encoding",)
PRIVATE_NO_STORE = "private, no-store"
TOKEN_VARY: tuple[str, ...] = ("Accept-Encoding", "Authorization")
# Headers about a body, which a 304 has none of.
_BODY_HEADERS = frozenset({b"content-length", b"content-type", b"content-encoding"})


def public_cache_control(settings: Settings) -> str:
    """``Cache-Control`` of public reads: shared caches may keep them, and serve them stale."""
    return (
        f"public, max-age={settings.public_max_age}, "
        f"stale-while-revalidate={settings.stale_while_revalidate}"
    )


def etag_for(body: bytes) -> str:
    """A strong ETag: a digest of the exact bytes of the body."""
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


def accepts_gzip(header: str | None) -> bool:
    """Whether an ``Accept-Encoding`` header accepts gzip (``q=0`` refuses it)."""
    if not header:
        return False
    for part in header.split(","):
        coding, *params = (p.strip() for p in part.split(";"))
        if coding.lower() not in {"gzip", "*"}:
            continue
        quality = next((p[2:] for p in params if p.lower().startswith("q=")), "1")
        try:
            return float(quality) > 0
        except ValueError:
            return False
    return False


def json_response(
    request: Request[Any, Any, Any],
    body: bytes,
    *,
    cache_control: str,
    surrogate_keys: Iterable[str] = (),
    vary: Sequence[str] = PUBLIC_VARY,
) -> Response[bytes]:
    """Answer ``body`` with its ETag and cache headers, or 304 when the client has it.

    Args:
        cache_control: :func:`public_cache_control`, or :data:`PRIVATE_NO_STORE`
            for a token read (which then gets no ``Surrogate-Key``).
        surrogate_keys: what a CDN may purge this response by.
        vary: the request headers the answer depends on.
    """
    compress = len(body) >= GZIP_MIN_BYTES and accepts_gzip(request.headers.get("accept-encoding"))
    identity = etag_for(body)
    etag = identity[:-1] + '-gzip"' if compress else identity
    headers = {"ETag": etag, "Cache-Control": cache_control, "Vary": ", ".join(vary)}
    keys = " ".join(surrogate_keys)
    if keys and not cache_control.startswith("private"):
        headers["Surrogate-Key"] = keys
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(content=b"", status_code=304, headers=headers)
    if compress:
        # mtime=0: the same body always compresses to the same bytes.
        body = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return Response(content=body, media_type=JSON, headers=headers)


def conditional_get(app: ASGIApp) -> ASGIApp:
    """Middleware: strong ETags and 304s for the GET responses the content routes do not make.

    A 200 without an ETag is buffered and given one (a digest of its body); a
    200 whose ETag (its own, or a static file's) matches ``If-None-Match``
    becomes a 304 and its body is dropped.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope.get("method") != "GET":
            await app(scope, receive, send)
            return
        if_none_match = dict(scope["headers"]).get(b"if-none-match", b"").decode("latin-1")
        state: dict[str, Any] = {"mode": "pass", "headers": [], "chunks": []}

        async def not_modified(headers: list[tuple[bytes, bytes]]) -> None:
            kept = [(k, v) for k, v in headers if k.lower() not in _BODY_HEADERS]
            await send(HTTPResponseStartEvent(type="http.response.start", status=304,
                                              headers=kept))  # fmt: skip
            await send(HTTPResponseBodyEvent(type="http.response.body", body=b"",
                                             more_body=False))  # fmt: skip

        async def intercept(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                etag = next((v for k, v in headers if k.lower() == b"etag"), None)
                if message["status"] != 200:
                    await send(message)
                elif etag is None:
                    state.update(mode="buffer", headers=headers)
                elif etag_matches(if_none_match, etag.decode("latin-1")):
                    state["mode"] = "drop"
                    await not_modified(headers)
                else:
                    await send(message)
                return
            if message["type"] != "http.response.body" or state["mode"] == "pass":
                await send(message)
                return
            if state["mode"] == "drop":  # the client has it: the body goes nowhere
                return
            state["chunks"].append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(state["chunks"])
            digest = etag_for(body)
            headers = [*state["headers"], (b"etag", digest.encode())]
            if etag_matches(if_none_match, digest):
                await not_modified(headers)
                return
            await send(HTTPResponseStartEvent(type="http.response.start", status=200,
                                              headers=headers))  # fmt: skip
            await send(HTTPResponseBodyEvent(type="http.response.body", body=body,
                                             more_body=False))  # fmt: skip

        await app(scope, receive, intercept)

    return middleware
