"""CORS: which pages may call the API from a browser, and what they may do.

Allowed origins are the origin of each published clinic's ``site_url`` and
those of ``CMS_CORS_ORIGINS``. They may use the whole API: every method a
path takes, with ``Authorization``, ``Content-Type``, ``If-Match`` and
``If-None-Match``. ``*`` in ``CMS_CORS_ORIGINS`` lets any other origin make
public reads only: GET and HEAD without a token, answered
``Access-Control-Allow-Origin: *``. Other origins get no CORS header at all.

The API sets no cookie and reads none, so it never sends
``Access-Control-Allow-Credentials``: a token travels in ``Authorization``,
which the preflight allows by name.

:func:`cors` is an ASGI layer outside the router, and so outside the
response cache and the conditional GETs: cached bytes never hold one
origin's headers for another. Every response says ``Vary: Origin``, since
what it carries depends on the origin (none without one).

The clinics' origins are kept in memory with the cache purge number they
were read at (:mod:`cms.syndication.purges`), and read again (one query)
when it has moved: a clinic published, unpublished or given a new
``site_url`` is allowed or refused on the next request, in every process,
without a restart. Learning the number is
the read the response cache makes anyway (:meth:`ResponseCache.purge_number`),
shared by the two.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from litestar.enums import HttpMethod, ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.access.sites import published_site_urls

log = logging.getLogger(__name__)

ALLOW_HEADERS = "Authorization, Content-Type, If-Match, If-None-Match"
"""The request headers the API reads that a browser does not send by itself."""
READ_HEADERS = "If-None-Match"
"""What a public read (``*``) may send: a revalidation, never a token."""
READ_METHODS = frozenset({HttpMethod.GET, HttpMethod.HEAD})
EXPOSE_HEADERS = "Allow, ETag, Link, Location, Retry-After, WWW-Authenticate, X-Request-ID"
"""Response headers a page may read beside the safelisted ones (Content-Type, Cache-Control...)."""
MAX_AGE = 600
"""Seconds a browser may reuse a preflight's answer."""
_DEFAULT_PORTS = {"http": 80, "https": 443}


class Grant(enum.Enum):
    """What an origin may do."""

    NONE = "none"
    READS = "reads"
    """Public reads only: ``*`` in ``CMS_CORS_ORIGINS``."""
    ALL = "all"


def origin_of(url: str) -> str | None:
    """The origin of ``url`` as a browser sends it (``https://host[:port]``); None if it has none.

    The scheme and host are lowercased (an international host in its ASCII
    form) and a scheme's default port is left out.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        return None
    if not parts.scheme or not host:
        return None
    scheme = parts.scheme.lower()
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    if port is None or _DEFAULT_PORTS.get(scheme) == port:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


class AllowedOrigins:
    """The configured origins, and the published clinics' sites as of the latest purge."""

    def __init__(
        self,
        configured: Iterable[str],
        sessions: async_sessionmaker[AsyncSession],
        purge_number: Callable[[Scope], Awaitable[int]],
    ) -> None:
        """
        Args:
            configured: ``CMS_CORS_ORIGINS``: origins, and ``*`` for public reads.
            sessions: where the clinics are read from.
            purge_number: the cache purge number a request reads at.
        """
        configured = list(configured)
        self.any_origin_reads = "*" in configured
        self.configured = frozenset(
            origin for value in configured if value != "*" and (origin := origin_of(value))
        )
        self.sessions = sessions
        self.purge_number = purge_number
        self._sites: frozenset[str] = frozenset()
        self._sites_purge: int | None = None
        self._lock = asyncio.Lock()

    async def grant(self, origin: str, scope: Scope) -> Grant:
        """What a page from ``origin`` may do, for the request of ``scope``."""
        if origin in self.configured or origin in await self.sites(scope):
            return Grant.ALL
        return Grant.READS if self.any_origin_reads else Grant.NONE

    async def sites(self, scope: Scope) -> frozenset[str]:
        """The origins of the published clinics' sites, read again if the content changed.

        When the database cannot be reached, the last set read stands (the
        response, /health's say, is sent all the same).
        """
        try:
            now = await self.purge_number(scope)
            if now != self._sites_purge:
                async with self._lock:
                    if now != self._sites_purge:  # not read by another request meanwhile
                        async with self.sessions() as session:
                            urls = await published_site_urls(session)
                        self._sites = frozenset(o for url in urls if (o := origin_of(url)))
                        self._sites_purge = now
        except (SQLAlchemyError, OSError, sqlite3.Error) as exc:
            log.warning("clinic sites for CORS not read: %s", exc)
        return self._sites


def cors(app: ASGIApp, origins: AllowedOrigins) -> ASGIApp:
    """ASGI layer: the CORS headers of the answer to a browser's request, after everything else.

    A preflight (OPTIONS with ``Origin`` and ``Access-Control-Request-Method``)
    is answered by the path's OPTIONS route (204 and ``Allow``); this layer
    adds what the origin may do with it.
    """

    async def layer(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        request_headers = dict(scope["headers"])
        raw_origin = request_headers.get(b"origin")
        method = scope["method"]
        preflight = (
            method == HttpMethod.OPTIONS
            and raw_origin is not None
            and b"access-control-request-method" in request_headers
        )
        with_token = b"authorization" in request_headers

        async def respond(message: Message) -> None:
            if message["type"] != "http.response.start":
                await send(message)
                return
            headers = _vary_on_origin(list(message.get("headers", [])))
            if raw_origin is not None:
                origin = raw_origin.decode("latin-1")
                grant = await origins.grant(origin, scope)
                if preflight:
                    headers += _preflight_headers(grant, origin, headers)
                else:
                    headers += _response_headers(grant, origin, method, with_token)
            await send({**message, "headers": headers})

        await app(scope, receive, respond)

    return layer


def _vary_on_origin(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` with Origin added to its ``Vary`` (one header, as the app writes it)."""
    for i, (name, value) in enumerate(headers):
        if name.lower() == b"vary":
            varies = [v.strip() for v in value.split(b",") if v.strip()]
            if b"*" not in varies and b"origin" not in (v.lower() for v in varies):
                headers[i] = (name, b", ".join([*varies, b"Origin"]))
            return headers
    return [*headers, (b"vary", b"Origin")]


def _preflight_headers(
    grant: Grant, origin: str, headers: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    allow = next((v for k, v in headers if k.lower() == b"allow"), None)
    if grant is Grant.NONE or allow is None:  # an unknown path has no Allow: no preflight
        return []
    methods = [m.strip() for m in allow.decode("latin-1").split(",")]
    if grant is Grant.READS:
        methods = [m for m in methods if m in READ_METHODS]
        if not methods:
            return []
    return [
        (
            b"access-control-allow-origin",
            b"*" if grant is Grant.READS else origin.encode("latin-1"),
        ),
        (b"access-control-allow-methods", ", ".join(methods).encode()),
        (
            b"access-control-allow-headers",
            (READ_HEADERS if grant is Grant.READS else ALLOW_HEADERS).encode(),
        ),
        (b"access-control-max-age", str(MAX_AGE).encode()),
    ]


def _response_headers(
    grant: Grant, origin: str, method: str, with_token: bool
) -> list[tuple[bytes, bytes]]:
    if grant is Grant.ALL:
        allow_origin = origin.encode("latin-1")
    elif grant is Grant.READS and method in READ_METHODS and not with_token:
        allow_origin = b"*"
    else:
        return []
    return [
        (b"access-control-allow-origin", allow_origin),
        (b"access-control-expose-headers", EXPOSE_HEADERS.encode()),
    ]
