"""Who is calling: the bearer token of a request, as a dependency, and the refusals.

``caller`` is None for anonymous requests (no ``Authorization`` header), a
:class:`Caller` for a valid token; a header with a bad token is a 401, never
silently anonymous, on every route: :func:`check_credentials` guards the
routes that read no token too (a feed, the health check), so a revoked or
expired token is refused wherever it is presented. Failed attempts are
counted per client address; too many and every further *failing* attempt
from it is a 429 until the window closes.
A valid token is always checked and served: a 32-byte random secret needs no
lockout to be safe from guessing, and one misconfigured script behind an
address a clinic shares must not lock its editors out.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.handlers import BaseRouteHandler
from litestar.openapi.spec import SecurityScheme

from cms.access.throttle import FailureLimiter
from cms.access.tokens import Caller, Permission, authenticate
from cms.http.problems import PROBLEM_BASE, ProblemError, ProblemException
from cms.logs import current_request

logger = logging.getLogger("cms.auth")

SECURITY_SCHEME_NAME = "bearerAuth"
SECURITY_SCHEME = SecurityScheme(
    type="http",
    scheme="bearer",
    description="A token from `cms tokens create` or `POST /api/v1/tokens`: `cms_<id>_<secret>`.",
)
SECURITY: list[dict[str, list[str]]] = [{SECURITY_SCHEME_NAME: []}]
REALM = 'Bearer realm="cms"'
# The refusals any route that reads a token may answer, for error_responses().
TOKEN_ERRORS = {
    "http_401": "The bearer token is missing (where one is needed), unknown, revoked or expired.",
    "http_429": "The bearer token failed, and this client failed too often; see "
    "`Retry-After`. A valid token is still served.",
}


def unauthorized(detail: str, *, invalid: bool = False) -> ProblemException:
    """A 401 asking for a bearer token."""
    challenge = f'{REALM}, error="invalid_token"' if invalid else REALM
    return ProblemException(
        401,
        "Unauthorized",
        detail=detail,
        type_=PROBLEM_BASE + "unauthorized",
        errors=[ProblemError(name="Authorization", reason=detail, location="header")],
        headers={"WWW-Authenticate": challenge, "Cache-Control": "no-store"},
    )


def forbidden(detail: str, *, field: str | None = None) -> ProblemException:
    """A 403: the token is valid but may not do this (role or clinic scope)."""
    errors = [ProblemError(name=field, reason=detail, location="body")] if field else []
    return ProblemException(
        403,
        "Forbidden",
        detail=detail,
        type_=PROBLEM_BASE + "forbidden",
        errors=errors,
        headers={"Cache-Control": "no-store"},
    )


def require(caller: Caller | None, permission: Permission) -> Caller:
    """The caller, when its role grants ``permission``; a 401 or 403 otherwise."""
    if caller is None:
        raise unauthorized(f"A bearer token is needed to {permission.value}.")
    if not caller.can(permission):
        raise forbidden(f"Role {caller.role!r} may not {permission.value}.")
    return caller


def client_address(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The address failures are counted against (the proxy's view when behind one)."""
    return request.client.host if request.client else "unknown"


_CALLER_KEY = "cms.caller"
"""Where a request's valid caller is kept in its scope state, once authenticated."""


async def caller_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Caller | None:
    """The caller of this request: None when anonymous, else a valid token's.

    The token is authenticated once per request, by :func:`check_credentials`
    before any of the handler's dependencies (so a 401 never leaves the
    request's session, and on SQLite its turn to write, held), and kept in
    the request's scope state. It is looked up in a session of its own.

    The token is checked first, whatever the client's count: a valid one is
    served. Only a failing one meets the limit.

    Raises:
        ProblemException: 401 for a bad token; 429 for a bad token from a
            client that failed too often.
    """
    header = connection.headers.get("authorization")
    if header is None:
        return None
    scope_state: dict[str, Any] = connection.scope.setdefault("state", {})
    known: Caller | None = scope_state.get(_CALLER_KEY)
    if known is not None:
        return known
    services = connection.app.state.services
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        async with services.sessions() as session:
            caller = await authenticate(session, credentials.strip(), now=services.clock())
        if caller is not None:
            scope_state[_CALLER_KEY] = caller
            context = current_request()
            if context is not None:  # the access log names the token by its public id
                context.token_id = caller.token_id
            return caller
    raise await failed_authentication(
        connection, services.limiter, "The bearer token is unknown, revoked or expired."
    )


async def failed_authentication(
    connection: ASGIConnection[Any, Any, Any, Any], limiter: FailureLimiter, detail: str
) -> ProblemException:
    """Count a failed authentication of the request's client; the refusal to raise.

    Returns:
        A 429 with ``Retry-After`` when the client failed too often already
        (not counted again); else a 401 (``invalid_token``) saying ``detail``.
    """
    client = client_address(connection)
    retry = await limiter.retry_after(client)
    if retry is not None:
        return ProblemException(
            429,
            "Too many failed authentications",
            detail=f"Too many failed authentications from this client; retry in {retry} s.",
            type_=PROBLEM_BASE + "rate-limited",
            headers={"Retry-After": str(retry), "Cache-Control": "no-store"},
        )
    await limiter.record_failure(client)
    logger.info("failed authentication from %s", client)
    return unauthorized(detail, invalid=True)


OWN_CREDENTIALS = "own_credentials"
"""A route's ``opt`` key: the route checks the bearer value it is sent itself (``/metrics``)."""


async def check_credentials(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Guard of every route: a request that presents a token has it checked.

    Public routes that read no token (search, feeds, backlinks, the health
    check, the API documents) would otherwise answer a revoked or expired
    token as if it were absent, while the lists beside them refuse it: a
    client would learn that its token no longer works only on some routes.
    An invalid credential is never taken for anonymous, wherever it is sent.
    A route marked :data:`OWN_CREDENTIALS` checks its own.
    """
    if handler.opt.get(OWN_CREDENTIALS):
        return
    await caller_of(connection)


async def provide_caller(request: Request[Any, Any, Any]) -> Caller | None:
    """The ``caller`` dependency: what :func:`caller_of` found for the request."""
    return await caller_of(request)


CALLER_DEPENDENCY = Provide(provide_caller)
