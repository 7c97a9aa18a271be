"""Webhook subscriptions and their delivery log (admins): ``/api/v1/webhooks``.

Messages follow Standard Webhooks: signed ``webhook-id``, ``webhook-timestamp``
and ``webhook-signature`` headers, a ``{"type", "timestamp", "data"}`` body.
Delivery itself is :mod:`cms.syndication.webhooks`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.access.tokens import Caller, Permission
from cms.http import params
from cms.http.auth import SECURITY, require
from cms.http.bodies import BAD_BODY, convert_body, json_body
from cms.http.cache_headers import NO_STORE_HEADERS
from cms.http.operations import documented
from cms.http.problems import error_responses, not_found
from cms.schemas import Base, Slug, WebUrl
from cms.syndication import webhooks
from cms.syndication.webhooks import DeliveryInfo, WebhookInfo, delivery_info, webhook_info
from cms.urls import API

NO_STORE = {"Cache-Control": "no-store"}
TAG = "Syndication"
BASE = f"{API}/webhooks"
AUTH_ERRORS = {
    "http_401": "No token, or an unknown, revoked or expired one.",
    "http_403": "The token is not an admin's.",
    "http_429": "Too many failed authentications from this client; see `Retry-After`.",
}
NO_ENDPOINT = "No webhook endpoint has this id."
MALFORMED = "The request is malformed."
EVENTS_HELP = "; ".join(f"`{name}`: {text}" for name, text in webhooks.EVENT_TYPES.items())

EventType = Literal[
    "entry.published",
    "entry.unpublished",
    "entry.created",
    "entry.updated",
    "entry.deleted",
    "cache.purge",
]
assert set(EventType.__args__) == set(webhooks.EVENT_TYPES)  # type: ignore[attr-defined]


class WebhookCreate(Base):
    """An endpoint to subscribe."""

    url: Annotated[
        WebUrl,
        msgspec.Meta(
            description="Where to POST the messages: an absolute `http` or `https` URL with "
            "a host, without a fragment.",
        ),
    ]
    events: Annotated[
        list[EventType],
        msgspec.Meta(description=f"Event types to send; empty for all. {EVENTS_HELP}"),
    ] = msgspec.field(default_factory=list)
    clinics: Annotated[
        list[Slug],
        msgspec.Meta(
            description="Clinic slugs: only changes to entries on one of them, on no clinic "
            "(every clinic's), or that left one of them. Empty for every clinic."
        ),
    ] = msgspec.field(default_factory=list)
    description: Annotated[
        str,
        msgspec.Meta(
            max_length=webhooks.MAX_DESCRIPTION_LENGTH,
            description="What it is, e.g. `Calgary site: rebuild and purge the CDN`.",
        ),
    ] = ""


class WebhookCreated(WebhookInfo):
    """A new endpoint and its signing secret: the only time the secret is shown."""

    secret: str
    """`whsec_` and the base64 of 32 random bytes: verify each message with it
    (`standardwebhooks.Webhook(secret).verify(body, headers)`)."""


class WebhookList(Base):
    """Every endpoint, oldest first."""

    data: list[WebhookInfo]


class DeliveryPage(Base):
    """A page of the delivery log, newest change first."""

    data: list[DeliveryInfo]
    next_cursor: str | None


async def _endpoint(session: AsyncSession, endpoint_id: str) -> WebhookInfo:
    """The endpoint ``endpoint_id``, as the API shows it.

    Raises:
        ProblemException: 404, there is no such endpoint.
    """
    endpoint = await webhooks.get_endpoint(session, endpoint_id)
    if endpoint is None:
        raise not_found(f"webhook endpoint with id {endpoint_id!r}")
    return webhook_info(endpoint)


@post(
    BASE,
    operation_id="createWebhook",
    summary="Subscribe a webhook endpoint (admins)",
    description="The endpoint is sent the changes made from now on, signed per Standard "
    "Webhooks with the `secret` in the answer; the secret is shown only now.",
    tags=[TAG],
    security=SECURITY,
    operation_class=documented(WebhookCreate),
    status_code=201,
    responses={
        201: ResponseSpec(
            WebhookCreated, description="The endpoint and its secret.", generate_examples=False
        ),
        **error_responses(
            http_400=BAD_BODY,
            http_415="The body is not `application/json`.",
            http_422="A field is invalid (a URL that is not http(s), an unknown event type "
            "or clinic); `errors` names each.",
            **AUTH_ERRORS,
        ),
    },
)
async def create_webhook_handler(
    request: Request[Any, Any, Any],
    session: NamedDependency[AsyncSession],
    caller: NamedDependency[Caller | None],
) -> Response[WebhookCreated]:
    """Subscribe an endpoint."""
    admin = require(caller, Permission.MANAGE_WEBHOOKS)
    wanted = convert_body(await json_body(request, required=True), WebhookCreate)
    endpoint = await webhooks.create_endpoint(
        session,
        url=wanted.url,
        events=wanted.events,
        clinics=wanted.clinics,
        description=wanted.description,
        created_by=admin.token_id,
    )
    await session.commit()
    info = webhook_info(endpoint)
    created = WebhookCreated(**msgspec.structs.asdict(info), secret=endpoint.secret)
    return Response(created, status_code=201, headers=NO_STORE)


@get(
    BASE,
    operation_id="listWebhooks",
    summary="List webhook endpoints (admins)",
    tags=[TAG],
    security=SECURITY,
    responses={
        200: ResponseSpec(
            WebhookList, description="Every endpoint, without secrets.", generate_examples=False
        ),
        **error_responses(**AUTH_ERRORS),
    },
)
async def list_webhooks_handler(
    session: NamedDependency[AsyncSession], caller: NamedDependency[Caller | None]
) -> Response[WebhookList]:
    """List every endpoint."""
    require(caller, Permission.MANAGE_WEBHOOKS)
    found = [webhook_info(e) for e in await webhooks.list_endpoints(session)]
    return Response(WebhookList(data=found), headers=NO_STORE)


@get(
    BASE + "/{endpoint_id:str}",
    operation_id="getWebhook",
    summary="Read a webhook endpoint (admins)",
    tags=[TAG],
    security=SECURITY,
    responses={
        200: ResponseSpec(
            WebhookInfo, description="The endpoint, without its secret.", generate_examples=False
        ),
        **error_responses(http_400=MALFORMED, http_404=NO_ENDPOINT, **AUTH_ERRORS),
    },
)
async def get_webhook_handler(
    session: NamedDependency[AsyncSession],
    caller: NamedDependency[Caller | None],
    endpoint_id: FromPath[str],
) -> Response[WebhookInfo]:
    """Read one endpoint."""
    require(caller, Permission.MANAGE_WEBHOOKS)
    return Response(await _endpoint(session, endpoint_id), headers=NO_STORE)


@delete(
    BASE + "/{endpoint_id:str}",
    operation_id="deleteWebhook",
    summary="Unsubscribe a webhook endpoint (admins)",
    description="Its pending deliveries are dropped with its delivery log.",
    tags=[TAG],
    security=SECURITY,
    status_code=204,
    response_headers=NO_STORE_HEADERS,
    responses=error_responses(http_400=MALFORMED, http_404=NO_ENDPOINT, **AUTH_ERRORS),
)
async def delete_webhook_handler(
    session: NamedDependency[AsyncSession],
    caller: NamedDependency[Caller | None],
    endpoint_id: FromPath[str],
) -> None:
    """Unsubscribe an endpoint."""
    require(caller, Permission.MANAGE_WEBHOOKS)
    if not await webhooks.delete_endpoint(session, endpoint_id):
        raise not_found(f"webhook endpoint with id {endpoint_id!r}")
    await session.commit()


@post(
    BASE + "/{endpoint_id:str}/enable",
    operation_id="enableWebhook",
    summary="Enable a webhook endpoint again (admins)",
    description="For an endpoint disabled because it answered `410 Gone`: it is sent the "
    "changes made from now on. Deliveries cancelled when it was disabled stay cancelled; "
    "redeliver the ones it needs. Enabling an enabled endpoint changes nothing.",
    tags=[TAG],
    security=SECURITY,
    status_code=200,
    responses={
        200: ResponseSpec(WebhookInfo, description="The endpoint.", generate_examples=False),
        **error_responses(http_400=MALFORMED, http_404=NO_ENDPOINT, **AUTH_ERRORS),
    },
)
async def enable_webhook_handler(
    session: NamedDependency[AsyncSession],
    caller: NamedDependency[Caller | None],
    endpoint_id: FromPath[str],
) -> Response[WebhookInfo]:
    """Enable an endpoint."""
    require(caller, Permission.MANAGE_WEBHOOKS)
    endpoint = await webhooks.enable_endpoint(session, endpoint_id)
    if endpoint is None:
        raise not_found(f"webhook endpoint with id {endpoint_id!r}")
    await session.commit()
    return Response(webhook_info(endpoint), headers=NO_STORE)


@get(
    BASE + "/{endpoint_id:str}/deliveries",
    operation_id="listWebhookDeliveries",
    summary="Read an endpoint's delivery log (admins)",
    description="Every message to the endpoint, newest change first, with where it stands "
    "and every attempt (time, status code or error, duration, trigger). Follow "
    "`next_cursor` for older ones.",
    tags=[TAG],
    security=SECURITY,
    responses={
        200: ResponseSpec(DeliveryPage, description="One page.", generate_examples=False),
        **error_responses(
            http_400="A query parameter is invalid; `errors` names it.",
            http_404=NO_ENDPOINT,
            **AUTH_ERRORS,
        ),
    },
)
async def list_deliveries_handler(
    request: Request[Any, Any, Any],
    session: NamedDependency[AsyncSession],
    caller: NamedDependency[Caller | None],
    endpoint_id: FromPath[str],
    limit: Annotated[int, params.limit("Deliveries per page, 1 to 100.")] = params.DEFAULT_LIMIT,
    cursor: params.Cursor = None,
) -> Response[DeliveryPage]:
    """Read the delivery log."""
    require(caller, Permission.MANAGE_WEBHOOKS)
    params.reject_unknown(list(request.query_params), params.PAGING)
    await _endpoint(session, endpoint_id)
    page = await webhooks.delivery_log(session, endpoint_id, limit=limit, cursor=cursor)
    data = [delivery_info(d, page.attempts[d.id]) for d in page.deliveries]
    return Response(DeliveryPage(data=data, next_cursor=page.next_cursor), headers=NO_STORE)


@post(
    BASE + "/{endpoint_id:str}/deliveries/{msg_id:str}/redeliver",
    operation_id="redeliverWebhook",
    summary="Send a message again (admins)",
    description="Makes the delivery due now, whatever its status (pending, delivered, failed "
    "or cancelled); the attempt is logged with trigger `manual` and has the same "
    "`webhook-id`. If it fails, the retry schedule goes on from where the delivery was.",
    tags=[TAG],
    security=SECURITY,
    status_code=202,
    responses={
        202: ResponseSpec(
            DeliveryInfo, description="The delivery, due now.", generate_examples=False
        ),
        **error_responses(
            http_400=MALFORMED,
            http_404="No webhook endpoint has this id, or it has no such delivery.",
            http_409="The endpoint is disabled (enable it first), or the message is being "
            "sent right now.",
            **AUTH_ERRORS,
        ),
    },
)
async def redeliver_handler(
    session: NamedDependency[AsyncSession],
    caller: NamedDependency[Caller | None],
    endpoint_id: FromPath[str],
    msg_id: FromPath[str],
) -> Response[DeliveryInfo]:
    """Redeliver a message."""
    require(caller, Permission.MANAGE_WEBHOOKS)
    await _endpoint(session, endpoint_id)
    delivery = await webhooks.redeliver(session, endpoint_id, msg_id)
    if delivery is None:
        raise not_found(f"delivery {msg_id!r} to webhook endpoint {endpoint_id!r}")
    await session.commit()
    page = await webhooks.delivery_attempts(session, delivery.id)
    return Response(delivery_info(delivery, page), status_code=202, headers=NO_STORE)


WEBHOOK_ROUTES = [
    create_webhook_handler,
    list_webhooks_handler,
    get_webhook_handler,
    delete_webhook_handler,
    enable_webhook_handler,
    list_deliveries_handler,
    redeliver_handler,
]
