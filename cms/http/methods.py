"""HEAD and OPTIONS on every path, and an ``Allow`` header naming every method a path takes.

- **HEAD** is the GET without its body, for every GET route (the content
  routes, feeds, health, the OpenAPI document, plugin routes): the same
  status and headers (``ETag``, ``Content-Type``, ``Content-Length``,
  ``Cache-Control``; a 304 on a matching ``If-None-Match``), because it *is*
  the GET, run by :func:`head_as_get` with the body dropped. So it goes
  through the response cache and the conditional GETs like any GET, and no
  route can forget it.
- **OPTIONS** answers 204 with ``Allow``. Litestar 2 gives a path a default
  OPTIONS handler when the path's first handler is registered, and keeps
  that one when more handlers of the path are registered later, so its
  ``Allow`` names the first handler's methods only: ``GET, OPTIONS`` on
  ``/api/v1/articles/{slug}``, whose PATCH and DELETE come from other
  handlers (litestar-org/litestar#4169, fixed in Litestar 3). The spelling
  of the paths is not the cause: both are ``{slug:str}``.
  :func:`options_routes` gives each path one OPTIONS handler that knows
  every handler of it.
- Every ``Allow`` (OPTIONS, and the 405 problems of the router) names HEAD
  where it names GET: :func:`head_as_get` adds it.

Neither HEAD nor OPTIONS appears in the OpenAPI document: each is the same
on every path, and the document's description says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import cast

from litestar import Response, route
from litestar.enums import HttpMethod, ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.types import ASGIApp, Message, Receive, Scope, Send

_PARAM = re.compile(r"\{[^}]*\}")


def options_routes(handlers: Iterable[object]) -> list[HTTPRouteHandler]:
    """One OPTIONS handler for each path of ``handlers`` that has none of its own.

    Args:
        handlers: every route handler of the app; controllers and routers
            (which a plugin may register) are left to Litestar.
    """
    methods: dict[str, set[str]] = {}
    spelling: dict[str, str] = {}
    for handler in handlers:
        if not isinstance(handler, HTTPRouteHandler):
            continue
        for path in handler.paths:
            # `/a/{slug:str}` and `/a/{name:str}` are one path to the router.
            key = _PARAM.sub("{}", path)
            spelling.setdefault(key, path)
            methods.setdefault(key, set()).update(handler.http_methods)
    return [
        _options_route(spelling[key], allowed)
        for key, allowed in methods.items()
        if HttpMethod.OPTIONS not in allowed
    ]


def _options_route(path: str, methods: set[str]) -> HTTPRouteHandler:
    allow = ", ".join(sorted({*methods, HttpMethod.OPTIONS}))

    @route(path, http_method=[HttpMethod.OPTIONS], include_in_schema=False, sync_to_thread=False)
    def options() -> Response[None]:
        return Response(None, status_code=204, headers={"Allow": allow})

    return options


def with_head(allow: str) -> str:
    """An ``Allow`` value with HEAD added where it names GET, sorted."""
    methods = {m.strip().upper() for m in allow.split(",") if m.strip()}
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def head_as_get(app: ASGIApp) -> ASGIApp:
    """ASGI layer: HEAD runs as GET with the body dropped; ``Allow`` names HEAD beside GET.

    It wraps the router (a Litestar middleware runs only once a route has
    matched, and no route takes HEAD). The server keeps the request's own
    scope, which still says HEAD (uvicorn then sends no body either); the
    app gets a copy that says GET.
    """

    async def layer(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        head = scope["method"] == HttpMethod.HEAD
        inner = cast("Scope", {**scope, "method": HttpMethod.GET}) if head else scope

        async def respond(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, with_head(value.decode("latin-1")).encode("latin-1"))
                    if name.lower() == b"allow"
                    else (name, value)
                    for name, value in message.get("headers", [])
                ]
                message = {**message, "headers": headers}
            elif head and message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # the body of a HEAD goes nowhere; its end is sent
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await app(inner, receive, respond)

    return layer
