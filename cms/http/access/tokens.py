"""Token administration: ``POST/GET /api/v1/tokens``, ``DELETE /api/v1/tokens/{id}`` (admins)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.access.tokens import (
    Caller,
    Permission,
    Role,
    TokenInfo,
    create_token,
    list_tokens,
    revoke_token,
    token_info,
)
from cms.http.auth import SECURITY, require
from cms.http.bodies import BAD_BODY, convert_body, json_body
from cms.http.cache_headers import NO_STORE_HEADERS
from cms.http.operations import documented
from cms.http.problems import error_responses, not_found
from cms.schemas import Base, Moment, Slug
from cms.urls import API

NO_STORE = {"Cache-Control": "no-store"}
TAG = "Tokens"
AUTH_ERRORS = {
    "http_401": "No token, or an unknown, revoked or expired one.",
    "http_403": "The token is not an admin's.",
    "http_429": "Too many failed authentications from this client; see `Retry-After`.",
}


class TokenCreate(Base):
    """A token to create."""

    name: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=120,
            description="Who or what uses it, e.g. `Calgary front desk laptop`.",
        ),
    ]
    role: Annotated[
        Role,
        msgspec.Meta(
            description="`admin`, `editor` (write and publish), `author` (write drafts, "
            "submit for review) or `viewer` (read drafts)."
        ),
    ]
    clinics: Annotated[
        list[Slug],
        msgspec.Meta(
            description="Clinic slugs it is limited to; empty for every clinic "
            "(admin tokens are never limited)."
        ),
    ] = msgspec.field(default_factory=list)
    expires_at: Annotated[
        Moment | None,
        msgspec.Meta(description="When it stops working (ISO 8601 with a zone); never if null."),
    ] = None


class TokenCreated(TokenInfo):
    """A new token and its secret: the only time the secret is shown."""

    secret: str
    """Send it as `Authorization: Bearer <secret>`."""


class TokenList(Base):
    """Every token, revoked ones included."""

    data: list[TokenInfo]


@post(
    f"{API}/tokens",
    operation_id="createToken",
    summary="Create a token (admins)",
    description="The answer holds the secret; it is stored only as a hash and never shown again.",
    tags=[TAG],
    security=SECURITY,
    operation_class=documented(TokenCreate),
    status_code=201,
    responses={
        201: ResponseSpec(
            TokenCreated, description="The token and its secret.", generate_examples=False
        ),
        **error_responses(
            http_400=BAD_BODY,
            http_415="The body is not `application/json`.",
            http_422="A field is invalid; `errors` names each.",
            **AUTH_ERRORS,
        ),
    },
)
async def create_token_handler(
    request: Request[Any, Any, Any],
    session: NamedDependency[AsyncSession],
    caller: NamedDependency[Caller | None],
) -> Response[TokenCreated]:
    """Create a token."""
    admin = require(caller, Permission.MANAGE_TOKENS)
    wanted = convert_body(await json_body(request, required=True), TokenCreate)
    token, secret = await create_token(
        session,
        name=wanted.name,
        role=wanted.role,
        clinics=wanted.clinics,
        expires_at=wanted.expires_at,
        created_by=admin.token_id,
        now=request.app.state.services.clock(),
    )
    await session.commit()
    info = token_info(token)
    created = TokenCreated(**msgspec.structs.asdict(info), secret=secret)
    return Response(created, status_code=201, headers=NO_STORE)


@get(
    f"{API}/tokens",
    operation_id="listTokens",
    summary="List tokens (admins)",
    tags=[TAG],
    security=SECURITY,
    responses={
        200: ResponseSpec(
            TokenList, description="Every token, without secrets.", generate_examples=False
        ),
        **error_responses(**AUTH_ERRORS),
    },
)
async def list_tokens_handler(
    session: NamedDependency[AsyncSession], caller: NamedDependency[Caller | None]
) -> Response[TokenList]:
    """List every token."""
    require(caller, Permission.MANAGE_TOKENS)
    tokens = [token_info(t) for t in await list_tokens(session)]
    return Response(TokenList(data=tokens), headers=NO_STORE)


@delete(
    f"{API}/tokens/{{token_id:str}}",
    operation_id="revokeToken",
    summary="Revoke a token (admins)",
    description="Takes effect on the token's next request. The token stays listed, revoked, "
    "so that the revisions it made still name it.",
    tags=[TAG],
    security=SECURITY,
    status_code=204,
    response_headers=NO_STORE_HEADERS,
    responses=error_responses(
        http_400="The request is malformed.", http_404="No token has this id.", **AUTH_ERRORS
    ),
)
async def revoke_token_handler(
    session: NamedDependency[AsyncSession],
    caller: NamedDependency[Caller | None],
    token_id: FromPath[str],
) -> None:
    """Revoke a token."""
    require(caller, Permission.MANAGE_TOKENS)
    if not await revoke_token(session, token_id):
        raise not_found(f"token with id {token_id!r}")
    await session.commit()


TOKEN_ROUTES = [create_token_handler, list_tokens_handler, revoke_token_handler]
