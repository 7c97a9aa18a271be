"""The headers every answer carries, whatever route, error or middleware made it.

- ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer`` on
  every answer.
- ``Content-Security-Policy``: on HTML (the docs page, and its 404s)
  :data:`DOCS_POLICY`, which lets a page load scripts, styles and images from
  its own origin and call the API there, and nothing else; on every other
  answer :data:`API_POLICY`, which lets it load nothing. Neither may be
  framed (``frame-ancestors 'none'``). An answer that sets its own policy (a
  plugin's route) keeps it.
- ``Cache-Control: no-store`` on every answer to a request that carries a
  token (``Authorization``) or writes (POST, PUT, PATCH, DELETE), errors
  included: what answers a token, or a write, is never kept by a browser or a
  shared cache. An answer that already says ``no-store`` (token reads'
  ``private, no-store``) keeps its own.

One ASGI wrapper around the whole app (see :func:`cms.app.create_app`): it
sees every answer as sent, 304s, HEADs, CORS preflights, routing's 404s and
405s and the 500 of an unexpected error included.
"""

from __future__ import annotations

from collections.abc import Iterable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

DOCS_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The Content-Security-Policy of HTML answers: the docs page's Swagger UI loads its
files from this origin and calls the API there; inline code is refused. Its images
include ``data:`` URLs (Swagger UI's icons)."""
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
"""The Content-Security-Policy of every other answer: JSON, feeds and files load nothing."""
REFERRER_POLICY = "no-referrer"
NO_STORE = "no-store"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", REFERRER_POLICY.encode()),
)


def is_private(method: str, headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether a request's answer must not be stored: it carries a token, or it writes."""
    return method in WRITE_METHODS or any(name == b"authorization" for name, _ in headers)


def security_headers(app: ASGIApp) -> ASGIApp:
    """Wrap ``app`` so that every answer carries the headers of this module's policy."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        private = is_private(scope["method"], scope["headers"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _with_policy(list(message.get("headers", [])), private)
            await send(message)

        await app(scope, receive, send_with_headers)

    return wrapped


def _with_policy(headers: list[tuple[bytes, bytes]], private: bool) -> list[tuple[bytes, bytes]]:
    present = {name.lower(): value for name, value in headers}
    added = [(name, value) for name, value in _ALWAYS if name not in present]
    if b"content-security-policy" not in present:
        html = present.get(b"content-type", b"").lower().startswith(b"text/html")
        added.append((b"content-security-policy", (DOCS_POLICY if html else API_POLICY).encode()))
    if private and b"no-store" not in present.get(b"cache-control", b"").lower():
        headers = [(name, value) for name, value in headers if name.lower() != b"cache-control"]
        added.append((b"cache-control", NO_STORE.encode()))
    return [*headers, *added]
