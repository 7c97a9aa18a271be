"""Request ids, the access log and the request metrics: the outermost layer of the app.

Every request gets an id: the client's ``X-Request-ID`` when it is a sane
value (1 to 128 letters, digits and ``-_.:+/=@``), else a new one (a UUID4
in hex). The id is echoed in the response's ``X-Request-ID``, on every
answer (errors, 304s, HEAD, preflights, the router's 404 and 405), and is
written in every log line of the request (:data:`cms.logs.REQUEST`).

When the answer is sent, one access-log line (logger ``cms.access``) says
what it was: method, route template, path (never the query string, which
may carry search terms or credentials), status, duration, client address,
and the public id of the token that authenticated (never its secret, nor
any header), and the request is counted in the metrics
(:mod:`cms.http.metrics`).

The layer wraps everything else (CORS, HEAD), so it sees every answer as it
is sent and times all of it. The route template is known only once the
router has matched: :func:`record_route`, a middleware of the matched
route, notes it in the request's context.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy.pool import Pool

from cms.http.metrics import Metrics
from cms.logs import ACCESS_LOGGER, REQUEST, RequestContext, current_request, fields

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=@-]{1,128}")
_HEADER = REQUEST_ID_HEADER.lower().encode()
CLIENT_CLOSED = 499
"""The status logged and counted when the client left before an answer was sent (as nginx)."""

access_log = logging.getLogger(ACCESS_LOGGER)


def request_id(given: bytes | None) -> str:
    """The client's id when it is a sane one, else a new one."""
    if given is not None:
        text = given.decode("latin-1").strip()
        if _REQUEST_ID.fullmatch(text):
            return text
    return uuid.uuid4().hex


def record_route(app: ASGIApp) -> ASGIApp:
    """Middleware: note the matched route's template in the request's context."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        context = current_request()
        if context is not None:
            context.route = scope.get("path_template") or None
        await app(scope, receive, send)

    return middleware


def observe(app: ASGIApp, metrics: Metrics, pool: Pool) -> ASGIApp:
    """ASGI layer: the request id, the access log and the request metrics of every request.

    Args:
        metrics: where requests are counted.
        pool: the database pool, sampled after each request.
    """

    async def layer(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        # Read now: the router rewrites the scope's path as it matches.
        method, path = scope["method"], scope["path"]
        rid = request_id(next((v for k, v in scope["headers"] if k == _HEADER), None))
        context = RequestContext(request_id=rid)
        reset = REQUEST.set(context)
        started = time.perf_counter()
        status: int | None = None

        async def respond(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != _HEADER]
                headers.append((_HEADER, rid.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await app(scope, receive, respond)
        except asyncio.CancelledError:
            status = status or CLIENT_CLOSED
            raise
        except Exception:
            status = status or 500
            raise
        finally:
            seconds = time.perf_counter() - started
            answered = status or CLIENT_CLOSED
            metrics.count_request(method, context.route, answered, seconds)
            metrics.sample_pool(pool)
            client = scope.get("client")
            access_log.info(
                "%s %s %s",
                method,
                path,
                answered,
                extra=fields(
                    method=method,
                    route=context.route,
                    path=path,
                    status=answered,
                    duration_ms=round(seconds * 1000, 3),
                    client=client[0] if client else None,
                    token_id=context.token_id,
                ),
            )
            REQUEST.reset(reset)

    return layer
