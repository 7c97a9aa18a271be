"""Webhooks: subscriptions, and delivering the change feed to them (Standard Webhooks).

Delivery runs from the outbox (:mod:`cms.syndication.changes`) in two steps, each
safe to run in several processes at once (the server and ``cms worker``):

1. :func:`dispatch` turns the changes after ``webhook_state.seq`` into
   ``webhook_deliveries``: one per enabled endpoint and event type it wants, in
   one transaction that locks ``webhook_state`` first and advances it last.
   A second dispatcher waits for the lock, then finds nothing left to do; the
   unique ``(endpoint_id, seq, event)`` would turn a repeat into no rows anyway.
2. :func:`send_due` claims due deliveries with a conditional UPDATE (still
   pending, due, not held by another sender, ``attempts`` as read) whose row
   count says whether this sender won, commits the claim, sends, and records
   the attempt. A claim holds the delivery for the request timeout plus a margin; a
   sender that dies mid-attempt leaves it to be tried again when the hold ends.

A crash between a change and its delivery loses nothing: the change is in
the outbox, and the delivery in its table, until it is sent.

Each endpoint has a ``whsec_`` secret (base64 of 32 random bytes). It signs
every attempt, so it is stored as it is (a digest could not sign): database
access must be guarded like the secret itself.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
import math
import random
import secrets
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import msgspec
from sqlalchemy import and_, case, delete, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from standardwebhooks import Webhook

import cms
from cms.access.tokens import known_clinics
from cms.contenttypes import TypeRegistry
from cms.errors import Conflict, FieldError, InvalidInput
from cms.reading.cursors import pack, unpack
from cms.schemas import Base, web_url_problem
from cms.storage.tables import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookState,
    utcnow,
)
from cms.syndication import cache_keys
from cms.syndication.changes import (
    DELETE,
    PUBLISHED,
    WORKING,
    ChangeEvent,
    last_seq,
    read_changes,
)
from cms.urls import API

logger = logging.getLogger("cms.webhooks")

SECRET_PREFIX = "whsec_"  # noqa: S105  (the Standard Webhooks prefix, not a secret)
SECRET_BYTES = 32
MAX_DESCRIPTION_LENGTH = 500
HOLD_MARGIN = 30.0
"""Seconds a claim outlasts the request timeout."""
JITTER = 0.2
"""Each retry waits its scheduled delay ±20 %."""
DISPATCH_BATCH = 500
SEND_BATCH = 20
MAX_ERROR_LENGTH = 500

# Where a delivery stands.
PENDING = "pending"
"""Waiting for its next attempt (``next_attempt_at``)."""
DELIVERED = "delivered"
"""A 2xx answered."""
FAILED = "failed"
"""Every attempt of the schedule failed; only a manual redelivery sends it again."""
CANCELLED = "cancelled"
"""Its endpoint was disabled (a 410) before it was delivered."""

AUTO = "auto"
MANUAL = "manual"

EVENT_TYPES: dict[str, str] = {
    "entry.published": "A published version was written (`action` `publish`) or refreshed "
    "because something it shows changed (`refresh`).",
    "entry.unpublished": "A published version was removed (`unpublish`, `archive`, `delete`); "
    "for a subscriber of some clinics, also an entry that left all of them.",
    "entry.created": "An editor created an entry (its first working copy).",
    "entry.updated": "An editor saved a working copy (`update`, `submit`, `schedule`, `restore`, "
    "...).",
    "entry.deleted": "An editor deleted an entry.",
    "cache.purge": "After every published change: the `Surrogate-Key`s a CDN should purge.",
}
"""Every event type, and what it means."""


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_id(prefix: str) -> str:
    """An id that sorts by creation time: ``prefix``, milliseconds, randomness."""
    return f"{prefix}{int(time.time() * 1000):012x}{secrets.token_hex(8)}"


# --- Subscriptions ---------------------------------------------------------------


async def create_endpoint(
    session: AsyncSession,
    *,
    url: str,
    events: Sequence[str] = (),
    clinics: Sequence[str] = (),
    description: str = "",
    created_by: str | None = None,
    now: dt.datetime | None = None,
) -> WebhookEndpoint:
    """Subscribe ``url`` in the caller's transaction; it is sent the changes made after this.

    Raises:
        InvalidInput: naming each bad field (a URL that is not http(s), an
            unknown event type or clinic, a description too long).
    """
    errors: list[FieldError] = []
    problem = url_problem(url)
    if problem:
        errors.append(FieldError("url", problem))
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        errors.append(
            FieldError(
                "events", f"{unknown[0]!r} is not an event type (of: {', '.join(EVENT_TYPES)})"
            )
        )
    wanted, unknown_clinic = await known_clinics(session, clinics)
    if unknown_clinic:
        errors.append(unknown_clinic)
    if len(description) > MAX_DESCRIPTION_LENGTH:
        errors.append(FieldError("description", f"at most {MAX_DESCRIPTION_LENGTH} characters"))
    if errors:
        raise InvalidInput(errors)
    endpoint = WebhookEndpoint(
        id=new_id("ep_"),
        url=url,
        description=description,
        secret=new_secret(),
        events=list(dict.fromkeys(events)),
        clinics=wanted,
        created_at=now or utcnow(),
        created_by=created_by,
        # Every change up to this one has committed; it gets those after it.
        start_seq=await _locked_last_seq(session),
    )
    session.add(endpoint)
    await session.flush()
    return endpoint


async def _locked_last_seq(session: AsyncSession) -> int:
    """The newest change, read while holding the dispatcher's lock until the caller commits.

    A dispatcher that could otherwise pass a later change before the
    endpoint's row commits (and so never send it there) waits instead.
    """
    await session.exec(
        update(WebhookState).where(col(WebhookState.id) == 1).values(seq=col(WebhookState.seq))
    )
    return await last_seq(session)


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot receive webhooks, or None when it can.

    The rule of every URL field (:func:`cms.schemas.web_url_problem`), and no
    fragment: a fragment is never sent, so it could only mislead.
    """
    problem = web_url_problem(url)
    if problem:
        return problem
    try:
        urlsplit(url).port  # noqa: B018  (raises on a port out of range)
    except ValueError:
        return "has a port out of range"
    if "#" in url:
        return "may not have a fragment"
    return None


async def get_endpoint(session: AsyncSession, endpoint_id: str) -> WebhookEndpoint | None:
    """The endpoint ``endpoint_id``, or None."""
    return await session.get(WebhookEndpoint, endpoint_id)


async def list_endpoints(session: AsyncSession) -> list[WebhookEndpoint]:
    """Every endpoint, oldest first."""
    result = await session.exec(
        select(WebhookEndpoint).order_by(col(WebhookEndpoint.created_at), WebhookEndpoint.id)
    )
    return list(result.all())


async def delete_endpoint(session: AsyncSession, endpoint_id: str) -> bool:
    """Unsubscribe (its deliveries and their log go too); False when there is no such endpoint."""
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        return False
    # Deleted explicitly rather than through ON DELETE CASCADE, which SQLite
    # applies only with foreign keys on.
    ids = select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint_id)
    await session.exec(delete(WebhookAttempt).where(col(WebhookAttempt.delivery_id).in_(ids)))
    await session.exec(
        delete(WebhookDelivery).where(col(WebhookDelivery.endpoint_id) == endpoint_id)
    )
    await session.delete(endpoint)
    await session.flush()
    return True


async def enable_endpoint(session: AsyncSession, endpoint_id: str) -> WebhookEndpoint | None:
    """Enable an endpoint disabled by a 410: it is sent the changes from now on.

    Deliveries cancelled when it was disabled stay cancelled; redeliver them
    one by one. None when there is no such endpoint.
    """
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        return None
    if endpoint.disabled_at is not None:
        endpoint.disabled_at = None
        endpoint.disabled_reason = None
        # Changes made while it was disabled were never meant for it.
        endpoint.start_seq = max(endpoint.start_seq, await _locked_last_seq(session))
        session.add(endpoint)
        await session.flush()
    return endpoint


@dataclass
class LogPage:
    """One page of an endpoint's delivery log, newest first."""

    deliveries: list[WebhookDelivery]
    attempts: dict[str, list[WebhookAttempt]]
    next_cursor: str | None


async def delivery_log(
    session: AsyncSession, endpoint_id: str, *, limit: int, cursor: str | None = None
) -> LogPage:
    """An endpoint's deliveries, newest change first, each with its attempts, oldest first.

    Raises:
        InvalidParameter: the cursor is not one of this log's.
    """
    tag = f"deliveries:{endpoint_id}"
    after = unpack("cursor", cursor, tag, (int, str))
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if after is not None:
        seq, event = after
        query = query.where(
            or_(
                col(WebhookDelivery.seq) < seq,
                and_(col(WebhookDelivery.seq) == seq, col(WebhookDelivery.event) < event),
            )
        )
    # The unique (endpoint_id, seq, event) index serves this order.
    query = query.order_by(col(WebhookDelivery.seq).desc(), col(WebhookDelivery.event).desc())
    rows = list((await session.exec(query.limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    attempts: dict[str, list[WebhookAttempt]] = {r.id: [] for r in rows}
    if rows:
        found = await session.exec(
            select(WebhookAttempt)
            .where(col(WebhookAttempt.delivery_id).in_(list(attempts)))
            .order_by(col(WebhookAttempt.delivery_id), col(WebhookAttempt.number))
        )
        for attempt in found.all():
            attempts[attempt.delivery_id].append(attempt)
    last = rows[-1] if rows else None
    next_cursor = pack(tag, last.seq, last.event) if more and last is not None else None
    return LogPage(deliveries=rows, attempts=attempts, next_cursor=next_cursor)


async def delivery_attempts(session: AsyncSession, delivery_id: str) -> list[WebhookAttempt]:
    """The attempts at one delivery, oldest first."""
    found = await session.exec(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(col(WebhookAttempt.number))
    )
    return list(found.all())


async def redeliver(
    session: AsyncSession, endpoint_id: str, msg_id: str, *, now: dt.datetime | None = None
) -> WebhookDelivery | None:
    """Make a delivery due now, whatever its status; its next attempt is logged ``manual``.

    Returns:
        The delivery, or None when the endpoint has no delivery ``msg_id``.

    Raises:
        Conflict: the endpoint is disabled, or the delivery is being sent right now.
    """
    now = now or utcnow()
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    delivery = await session.get(WebhookDelivery, msg_id)
    if endpoint is None or delivery is None or delivery.endpoint_id != endpoint_id:
        return None
    if endpoint.disabled_at is not None:
        raise Conflict("The endpoint is disabled; enable it before redelivering.")
    claimed = await session.exec(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.id) == msg_id,
            or_(
                col(WebhookDelivery.locked_until).is_(None),
                col(WebhookDelivery.locked_until) < now,
            ),
        )
        .values(status=PENDING, next_attempt_at=now, next_trigger=MANUAL)
    )
    if claimed.rowcount != 1:
        raise Conflict("The delivery is being sent right now; try again when it is done.")
    await session.flush()
    await session.refresh(delivery)
    return delivery


# --- What the admin API shows of an endpoint and its log --------------------------------


class WebhookInfo(Base):
    """An endpoint, without its secret."""

    id: str
    url: str
    description: str
    events: list[str]
    """Event types it is sent; empty for all."""
    clinics: list[str]
    """Clinics it follows; empty for every clinic."""
    status: Literal["enabled", "disabled"]
    disabled_at: dt.datetime | None
    disabled_reason: str | None
    """Why it was disabled: it answered `410 Gone`."""
    created_at: dt.datetime
    created_by: str | None
    """The id of the admin token that made it."""


class AttemptInfo(Base):
    """One attempt at sending a message."""

    number: int
    at: dt.datetime
    status_code: int | None
    """The receiver's answer; null when there was none (see `error`)."""
    error: str | None
    """Why no answer came: connection refused, timeout..."""
    duration_ms: int
    trigger: Literal["auto", "manual"]
    """`auto`: the schedule; `manual`: a redelivery asked for it."""


class DeliveryInfo(Base):
    """One message to one endpoint, and how sending it went."""

    id: str
    """The message id, sent as `webhook-id` on every attempt."""
    event: str
    seq: int | None
    """The change it comes from (`GET /api/v1/changes`)."""
    status: Literal["pending", "delivered", "failed", "cancelled"]
    """`pending`: an attempt is due at `next_attempt_at`; `delivered`: a 2xx answered;
    `failed`: every retry failed; `cancelled`: the endpoint was disabled first."""
    attempts: int
    next_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    payload: dict[str, Any]
    """The body sent: `{"type", "timestamp", "data"}`."""
    attempt_log: list[AttemptInfo]
    """Every attempt, oldest first."""


def webhook_info(endpoint: WebhookEndpoint) -> WebhookInfo:
    """The public description of a stored endpoint."""
    return WebhookInfo(
        id=endpoint.id,
        url=endpoint.url,
        description=endpoint.description,
        events=list(endpoint.events),
        clinics=list(endpoint.clinics),
        status="disabled" if endpoint.disabled_at else "enabled",
        disabled_at=endpoint.disabled_at,
        disabled_reason=endpoint.disabled_reason,
        created_at=endpoint.created_at,
        created_by=endpoint.created_by,
    )


def delivery_info(delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> DeliveryInfo:
    """A delivery as the log shows it."""
    return msgspec.convert(
        {
            "id": delivery.id,
            "event": delivery.event,
            "seq": delivery.seq,
            "status": delivery.status,
            "attempts": delivery.attempts,
            "next_attempt_at": delivery.next_attempt_at,
            "last_status_code": delivery.last_status_code,
            "last_error": delivery.last_error,
            "created_at": delivery.created_at,
            "delivered_at": delivery.delivered_at,
            "payload": msgspec.json.decode(delivery.payload),
            "attempt_log": [
                {
                    "number": a.number,
                    "at": a.at,
                    "status_code": a.status_code,
                    "error": a.error,
                    "duration_ms": a.duration_ms,
                    "trigger": a.trigger,
                }
                for a in attempts
            ],
        },
        DeliveryInfo,
    )


# --- Which events an endpoint gets, and what they say ---------------------------------


def event_types(change: ChangeEvent, clinics: Collection[str]) -> list[str]:
    """The event types ``change`` is for a subscriber of ``clinics`` (empty: every clinic).

    A subscriber of some clinics gets a change to an entry on one of them, or
    on none (it is every clinic's); an entry that left all of them is an
    ``entry.unpublished`` for it, whatever it still is elsewhere.
    """
    left = False
    if clinics:
        wanted = set(clinics)
        if not change.clinics and not change.left_clinics:
            pass  # an entry that names no clinic is every clinic's
        elif not wanted.isdisjoint(change.clinics):
            pass
        elif not wanted.isdisjoint(change.left_clinics):
            left = True
        else:
            return []
    if change.state == PUBLISHED:
        gone = change.event == DELETE or left
        return ["entry.unpublished" if gone else "entry.published", "cache.purge"]
    if change.state != WORKING:
        return []
    if change.event == DELETE:
        return ["entry.deleted"]
    return ["entry.created" if change.action == "create" else "entry.updated"]


def payload(event_type: str, change: ChangeEvent, types: TypeRegistry) -> bytes:
    """The body of a message: ``{"type", "timestamp", "data"}``, minified JSON."""
    ctype = types.get(change.type)
    data: dict[str, Any] = {
        "seq": change.seq,
        "action": change.action,
        "state": change.state,
        "entry": {
            "type": change.type,
            "id": change.id,
            "slug": change.slug,
            "version": change.version,
            "path": f"{API}/{ctype.plural}/{change.slug}" if ctype is not None else None,
        },
        "clinics": change.clinics,
        "left_clinics": change.left_clinics,
    }
    if event_type == "cache.purge":
        data["surrogate_keys"] = cache_keys.published_change_keys(change.id, change.type)
    return msgspec.json.encode({"type": event_type, "timestamp": change.at, "data": data})


# --- Dispatching: changes -> deliveries -------------------------------------------------


def _insert_ignoring_duplicates(dialect: str) -> Any:
    table = WebhookDelivery.__table__  # type: ignore[attr-defined]
    statement = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    return statement.on_conflict_do_nothing(index_elements=["endpoint_id", "seq", "event"])


async def dispatch(
    sessions: async_sessionmaker[AsyncSession],
    types: TypeRegistry,
    *,
    now: dt.datetime | None = None,
    batch: int = DISPATCH_BATCH,
) -> int:
    """Turn the changes not dispatched yet into deliveries; how many were made."""
    made = 0
    while True:
        async with sessions() as session:
            # A look without a lock: nothing new is the common case.
            done = (await session.exec(select(WebhookState.seq).where(WebhookState.id == 1))).one()
            if done >= await last_seq(session):
                return made
        async with sessions() as session:
            # The lock first (a row lock on PostgreSQL, the write lock on SQLite):
            # a second dispatcher waits here, then starts where this one ends.
            done = (
                await session.exec(
                    update(WebhookState)
                    .where(col(WebhookState.id) == 1)
                    .values(seq=col(WebhookState.seq))
                    .returning(col(WebhookState.seq))
                )
            ).scalar_one()
            changes = await read_changes(
                session, since=int(done), limit=batch, states=(PUBLISHED, WORKING)
            )
            if not changes:
                return made
            endpoints = (
                await session.exec(
                    select(WebhookEndpoint).where(col(WebhookEndpoint.disabled_at).is_(None))
                )
            ).all()
            at = now or utcnow()
            rows: list[dict[str, Any]] = []
            bodies: dict[tuple[int, str], bytes] = {}
            for change in changes:
                for endpoint in endpoints:
                    if change.seq <= endpoint.start_seq:
                        continue
                    for event in event_types(change, endpoint.clinics):
                        if endpoint.events and event not in endpoint.events:
                            continue
                        body = bodies.get((change.seq, event))
                        if body is None:
                            body = bodies[change.seq, event] = payload(event, change, types)
                        rows.append(
                            {
                                "id": new_id("msg_"),
                                "endpoint_id": endpoint.id,
                                "seq": change.seq,
                                "event": event,
                                "payload": body,
                                "created_at": at,
                                "status": PENDING,
                                "attempts": 0,
                                "next_attempt_at": at,
                                "next_trigger": AUTO,
                            }
                        )
            if rows:
                dialect = session.get_bind().dialect.name
                await session.exec(_insert_ignoring_duplicates(dialect), params=rows)
            await session.exec(
                update(WebhookState).where(col(WebhookState.id) == 1).values(seq=changes[-1].seq)
            )
            await session.commit()
        made += len(rows)
        if len(changes) < batch:
            return made


# --- Sending ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to."""

    at: dt.datetime
    status_code: int | None
    error: str | None
    duration_ms: int


def retry_delay(attempts: int, schedule: Sequence[float]) -> float | None:
    """Seconds before the next try after ``attempts`` failed ones (jittered), or None to give up."""
    if attempts > len(schedule):
        return None
    base = schedule[attempts - 1]
    return base * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311  (jitter, not crypto)


async def attempt(
    client: httpx.AsyncClient,
    delivery: WebhookDelivery,
    url: str,
    secret: str,
    request_timeout: float,
) -> Outcome:
    """Send one signed attempt of ``delivery`` to ``url``.

    Never raises for the receiver's faults: no answer is an :class:`Outcome` with an error.
    """
    at = utcnow()
    # Signed anew for each attempt: the timestamp is the attempt's, the id the message's.
    signature = Webhook(secret).sign(delivery.id, at, delivery.payload.decode())
    headers = {
        "content-type": "application/json",
        "user-agent": f"clinic-cms/{cms.__version__} (webhooks)",
        "webhook-id": delivery.id,
        "webhook-timestamp": str(math.floor(at.timestamp())),
        "webhook-signature": signature,
    }
    started = time.monotonic()
    status_code: int | None = None
    error: str | None = None
    try:
        # Streamed and never read: the answer's status is all that counts.
        # httpx's timeout is per phase (connect, each read); the attempt as a
        # whole must end within it too, so that it ends before its claim does.
        async with (
            asyncio.timeout(request_timeout),
            client.stream(
                "POST", url, content=delivery.payload, headers=headers, timeout=request_timeout
            ) as response,
        ):
            status_code = response.status_code
    except (httpx.TimeoutException, TimeoutError) as exc:
        error = f"timed out after {request_timeout:g} s ({type(exc).__name__})"
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}".rstrip(": ")
    duration_ms = round((time.monotonic() - started) * 1000)
    return Outcome(
        at=at, status_code=status_code, error=error and error[:MAX_ERROR_LENGTH],
        duration_ms=duration_ms,
    )  # fmt: skip


async def _claim(
    sessions: async_sessionmaker[AsyncSession], *, now: dt.datetime, hold: float, batch: int
) -> list[tuple[WebhookDelivery, WebhookEndpoint]]:
    """Claim up to ``batch`` due deliveries of enabled endpoints for this sender."""
    free = or_(col(WebhookDelivery.locked_until).is_(None), col(WebhookDelivery.locked_until) < now)
    async with sessions() as session:
        due = (
            await session.exec(
                select(WebhookDelivery.id, WebhookDelivery.attempts)
                .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
                .where(
                    col(WebhookDelivery.status) == PENDING,
                    col(WebhookDelivery.next_attempt_at) <= now,
                    free,
                    col(WebhookEndpoint.disabled_at).is_(None),
                )
                .order_by(col(WebhookDelivery.next_attempt_at))
                .limit(batch)
            )
        ).all()
    if not due:
        return []
    won: list[str] = []
    async with sessions() as session:
        until = now + dt.timedelta(seconds=hold)
        # In id order, so that two senders lock rows in the same order (no deadlock).
        for delivery_id, attempts in sorted(due):
            # Another sender that read the same row either claimed it first
            # (attempts moved on, locked_until is in the future) or waits for
            # this transaction and then finds it so: one winner per attempt.
            result = await session.exec(
                update(WebhookDelivery)
                .where(
                    col(WebhookDelivery.id) == delivery_id,
                    col(WebhookDelivery.status) == PENDING,
                    col(WebhookDelivery.attempts) == attempts,
                    col(WebhookDelivery.next_attempt_at) <= now,
                    free,
                )
                .values(locked_until=until, attempts=attempts + 1)
            )
            if result.rowcount == 1:
                won.append(delivery_id)
        await session.commit()
        if not won:
            return []
        rows = await session.exec(
            select(WebhookDelivery, WebhookEndpoint)
            .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
            .where(col(WebhookDelivery.id).in_(won))
        )
        return [(d, e) for d, e in rows.all()]


async def _record(
    sessions: async_sessionmaker[AsyncSession],
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    outcome: Outcome,
    schedule: Sequence[float],
) -> None:
    """Log the attempt and move the delivery on: delivered, due again, failed or cancelled."""
    number = delivery.attempts
    code = outcome.status_code
    now = utcnow()
    values: dict[str, Any] = {
        "locked_until": None,
        "last_status_code": code,
        "last_error": outcome.error,
        "next_trigger": AUTO,
    }
    gone = code == 410
    if code is not None and 200 <= code < 300:
        values |= {"status": DELIVERED, "delivered_at": now, "next_attempt_at": None}
    elif gone:
        values |= {"status": CANCELLED, "next_attempt_at": None}
    else:
        delay = retry_delay(number, schedule)
        if delay is None:
            values |= {"status": FAILED, "next_attempt_at": None}
        else:
            values |= {"next_attempt_at": now + dt.timedelta(seconds=delay)}
    async with sessions() as session:
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                number=number,
                at=outcome.at,
                status_code=code,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
                trigger=delivery.next_trigger,
            )
        )
        await session.flush()
        # Only while this sender's claim stands (nobody claimed it again since)
        # and nothing ended it meanwhile (a 410 cancelled the endpoint's deliveries).
        await session.exec(
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.id) == delivery.id,
                col(WebhookDelivery.attempts) == number,
                col(WebhookDelivery.status) == PENDING,
            )
            .values(**values)
        )
        if gone:
            await session.exec(
                update(WebhookEndpoint)
                .where(
                    col(WebhookEndpoint.id) == endpoint.id,
                    col(WebhookEndpoint.disabled_at).is_(None),
                )
                .values(
                    disabled_at=now,
                    disabled_reason=f"410 Gone from {endpoint.url} for {delivery.id} at "
                    f"{now.isoformat(timespec='seconds')}",
                )
            )
            await session.exec(
                update(WebhookDelivery)
                .where(
                    col(WebhookDelivery.endpoint_id) == endpoint.id,
                    col(WebhookDelivery.status) == PENDING,
                )
                .values(status=CANCELLED, next_attempt_at=None, next_trigger=AUTO)
            )
            logger.warning("webhook endpoint %s answered 410 Gone: disabled", endpoint.id)
        await session.commit()


async def send_due(
    sessions: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    *,
    schedule: Sequence[float],
    request_timeout: float,
    batch: int = SEND_BATCH,
) -> int:
    """Claim the deliveries that are due and send them, at once; how many were claimed."""
    claimed = await _claim(sessions, now=utcnow(), hold=request_timeout + HOLD_MARGIN, batch=batch)

    async def one(delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> None:
        outcome = await attempt(client, delivery, endpoint.url, endpoint.secret, request_timeout)
        await _record(sessions, delivery, endpoint, outcome, schedule)

    results = await asyncio.gather(*(one(d, e) for d, e in claimed), return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            logger.warning("recording a webhook attempt failed", exc_info=result)
    return len(claimed)


@dataclass(frozen=True)
class Backlog:
    """What webhook delivery has yet to do, and what it gave up on."""

    undispatched: int
    """Changes not yet turned into deliveries."""
    pending: int
    """Deliveries waiting to be sent (due now or later)."""
    retrying: int
    """Pending deliveries whose last attempt failed: waiting to be sent again."""
    failed: int
    """Deliveries given up after the whole retry schedule."""
    disabled_endpoints: int
    oldest_due: dt.datetime | None
    """When the longest-waiting due delivery was due; None when none is."""

    def lag(self, now: dt.datetime) -> float:
        """Seconds the longest-waiting due delivery has waited (0 when none waits)."""
        return max(0.0, (now - self.oldest_due).total_seconds()) if self.oldest_due else 0.0


async def backlog(session: AsyncSession, *, now: dt.datetime) -> Backlog:
    """Where delivery stands at ``now``, from the database: whichever process sends.

    Delivered and cancelled deliveries are not counted (they only grow), so
    every query reads the pending and failed rows alone, by their index.
    """
    by_status: dict[str, tuple[int, int, dt.datetime | None]] = {}
    # Its last attempt failed (an attempt under way has no answer yet: not counted).
    code = col(WebhookDelivery.last_status_code)
    failed_before = or_(
        col(WebhookDelivery.last_error).is_not(None),
        and_(code.is_not(None), or_(code < 200, code >= 300)),
    )
    rows = await session.exec(
        select(
            WebhookDelivery.status,
            func.count(),
            func.sum(case((failed_before, 1), else_=0)),
            func.min(
                case(
                    (col(WebhookDelivery.next_attempt_at) <= now, WebhookDelivery.next_attempt_at),
                    else_=None,
                )
            ),
        )
        .where(col(WebhookDelivery.status).in_((PENDING, FAILED)))
        .group_by(WebhookDelivery.status)
    )
    for status, count, tried, due in rows.all():
        by_status[status] = (int(count), int(tried or 0), due)
    dispatched = (await session.exec(select(WebhookState.seq).where(WebhookState.id == 1))).first()
    disabled = (
        await session.exec(
            select(func.count()).where(col(WebhookEndpoint.disabled_at).is_not(None))
        )
    ).one()
    pending, retrying, oldest_due = by_status.get(PENDING, (0, 0, None))
    return Backlog(
        undispatched=max(0, await last_seq(session) - int(dispatched or 0)),
        pending=pending,
        retrying=retrying,
        failed=by_status.get(FAILED, (0, 0, None))[0],
        disabled_endpoints=int(disabled),
        oldest_due=oldest_due,
    )


async def run_webhooks(
    sessions: async_sessionmaker[AsyncSession],
    types: TypeRegistry,
    *,
    poll_interval: float,
    schedule: Sequence[float],
    request_timeout: float,
) -> None:
    """Dispatch new changes and send due deliveries every ``poll_interval`` seconds, until
    cancelled. Deliveries live in the database, so those due while nothing ran go out on
    the first look after a start."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=request_timeout) as client:
        while True:
            try:
                await dispatch(sessions, types)
                while (
                    await send_due(
                        sessions, client, schedule=schedule, request_timeout=request_timeout
                    )
                    > 0
                ):
                    pass  # more may be due (a backlog, or retries a moment away)
            except Exception:
                logger.warning("webhook delivery failed; trying again", exc_info=True)
            await asyncio.sleep(poll_interval)
