"""HTTP caching: strong ETags, conditional GETs, compression, Cache-Control, Vary, Surrogate-Key.

- Every GET answers with a strong ETag and honours ``If-None-Match`` with a
  304. The content routes compute it here (:func:`json_response`, or the
  per-process response cache in :mod:`cms.http.response_cache`); the
  :func:`conditional_get` middleware gives one to every other GET (health,
  the OpenAPI document, plugin routes) and leaves responses that have one alone.
- Public bodies of 1 KiB or more are gzip-compressed when the client accepts
  it. A strong ETag names one representation, so the compressed one has its
  own (``"<digest>-gzip"``), and those responses say ``Vary: Accept-Encoding``.
  Both representations are made once (:func:`representations`), and the
  response cache keeps both.
- Public reads say ``Cache-Control: public, max-age=..., stale-while-revalidate=...``
  and carry a ``Surrogate-Key`` header naming every entry in the body and the
  list it came from, so a CDN can purge exactly the pages that show an entry.
  The entry routes also serve token reads, so theirs add ``Authorization``
  to ``Vary``.
- Reads with a token (the editors' API) answer with :data:`PRIVATE`
  (``private, no-store``), ``Vary: Authorization``, no ``Surrogate-Key``, and
  uncompressed: only a response that varies on ``Accept-Encoding`` is compressed.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response
from litestar.datastructures import ResponseHeader
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
# Answers to a token: never stored by a shared cache, nor kept by the browser.
PRIVATE = "private, no-store"
PRIVATE_NO_STORE = PRIVATE
NO_STORE_HEADERS = [
    ResponseHeader(
        name="Cache-Control", value="no-store", description="`no-store`: never kept by a cache."
    )
]
"""``response_headers`` of a route whose answers no cache may keep (a 204 of a write)."""
PUBLIC_VARY: tuple[str, ...] = ("Accept-Encoding",)
# Public reads of routes that also answer tokens (the entry routes).
ENTRY_VARY: tuple[str, ...] = ("Accept-Encoding", "Authorization")
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


@dataclass(frozen=True)
class Representations:
    """A body as sent: identity bytes and ETag, and the gzip ones when worth it."""

    body: bytes
    etag: str
    gzip_body: bytes | None = None
    gzip_etag: str | None = None


def representations(body: bytes, *, compress: bool = True) -> Representations:
    """Make the representations of ``body``: compressed once, if 1 KiB or more."""
    identity = etag_for(body)
    if not compress or len(body) < GZIP_MIN_BYTES:
        return Representations(body, identity)
    # mtime=0: the same body always compresses to the same bytes.
    packed = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
    return Representations(body, identity, packed, identity[:-1] + '-gzip"')


def _vary(vary: str | Sequence[str] | None) -> tuple[str, ...]:
    if vary is None:
        return ()
    if isinstance(vary, str):
        return tuple(v.strip() for v in vary.split(",") if v.strip())
    return tuple(vary)


def respond(
    request: Request[Any, Any, Any],
    reps: Representations,
    *,
    cache_control: str,
    surrogate_keys: str = "",
    vary: str | Sequence[str] | None = PUBLIC_VARY,
    status_code: int = 200,
    media_type: str = JSON,
) -> Response[bytes]:
    """Answer the representation the client accepts, or 304 when it already has it."""
    varies = _vary(vary)
    packed = (
        reps.gzip_body is not None
        and "Accept-Encoding" in varies
        and accepts_gzip(request.headers.get("accept-encoding"))
    )
    etag = reps.gzip_etag if packed and reps.gzip_etag else reps.etag
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if varies:
        headers["Vary"] = ", ".join(varies)
    if surrogate_keys and not cache_control.startswith("private"):
        headers["Surrogate-Key"] = surrogate_keys
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(content=b"", status_code=304, headers=headers)
    body = reps.body
    if packed and reps.gzip_body is not None:
        body = reps.gzip_body
        headers["Content-Encoding"] = "gzip"
    return Response(content=body, media_type=media_type, headers=headers, status_code=status_code)


def json_response(
    request: Request[Any, Any, Any],
    body: bytes,
    *,
    cache_control: str,
    surrogate_keys: Iterable[str] = (),
    vary: str | Sequence[str] | None = PUBLIC_VARY,
    status_code: int = 200,
) -> Response[bytes]:
    """Answer ``body`` with its ETag and cache headers, or 304 when the client has it.

    Args:
        cache_control: :func:`public_cache_control`, or :data:`PRIVATE` for a
            token read (which then gets no ``Surrogate-Key``).
        surrogate_keys: what a CDN may purge this response by.
        vary: the request headers the answer depends on; a body is compressed
            only when it varies on ``Accept-Encoding``.
    """
    compress = "Accept-Encoding" in _vary(vary) and accepts_gzip(
        request.headers.get("accept-encoding")
    )
    return respond(
        request,
        representations(body, compress=compress),
        cache_control=cache_control,
        surrogate_keys=" ".join(surrogate_keys),
        vary=vary,
        status_code=status_code,
    )


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
