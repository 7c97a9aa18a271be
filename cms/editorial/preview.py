"""Preview links: signed, expiring references to an entry's working copy.

A link is ``<payload>.<signature>``: the payload names the type, the entry id,
the expiry (Unix seconds) and the API token that asked for it; the signature
is HMAC-SHA256 over the payload with a server key. It names the entry by id,
so a rename does not break it, and shows the working copy as it is when
opened. The link works only while its token does: revoking the token (or its
expiry, or losing the right to read the entry) revokes its links too, which
the route opening them checks.

The key is ``CMS_SECRET_KEY`` when set; otherwise one is made on first use and
kept in the database, so that every worker, and the next start, shares it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import math
import secrets

import msgspec
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.storage.db import writing
from cms.storage.tables import SigningKey, utcnow

KEY_NAME = "preview"


class PreviewInvalid(Exception):
    """The link was not made by this server, or was altered."""


class PreviewExpired(Exception):
    """The link was genuine but its time is up, or it predates revocable links."""


async def preview_key(sessions: async_sessionmaker[AsyncSession], secret_key: str | None) -> bytes:
    """The key preview links are signed with."""
    if secret_key:
        # Derived, so that CMS_SECRET_KEY is never used as is for two purposes.
        return hmac.new(secret_key.encode(), KEY_NAME.encode(), hashlib.sha256).digest()
    async with sessions() as session:
        row = await session.get(SigningKey, KEY_NAME)
    if row is None:
        # A writing session, so that the insert waits for the write lock
        # instead of failing when another writer committed since a read.
        async with writing(sessions) as session:
            session.add(
                SigningKey(name=KEY_NAME, secret=secrets.token_hex(32), created_at=utcnow())
            )
            try:
                await session.commit()
            except IntegrityError:
                # Another worker made it first: use theirs.
                await session.rollback()
        async with sessions() as session:
            row = await session.get(SigningKey, KEY_NAME)
    assert row is not None
    return bytes.fromhex(row.secret)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_preview(
    key: bytes,
    type_name: str,
    entry_id: str,
    token_id: str,
    expires_in: int,
    *,
    now: dt.datetime | None = None,
) -> tuple[str, int]:
    """A preview token for an entry, asked for by API token ``token_id``, and the
    Unix time it expires."""
    expires = math.ceil((now or utcnow()).timestamp()) + expires_in
    payload = _b64(msgspec.json.encode([type_name, entry_id, expires, token_id]))
    signature = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}", expires


def verify_preview(
    key: bytes, token: str, *, now: dt.datetime | None = None
) -> tuple[str, str, str]:
    """The type, the entry id and the API token id a token names.

    Raises:
        PreviewInvalid: it is not a token this server signed.
        PreviewExpired: it was, but it has expired, or it was made before
            links named their API token (so it could not be revoked).
    """
    payload, _, signature = token.partition(".")
    expected = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    # Bytes, not str: compare_digest refuses non-ASCII text with a TypeError,
    # and a link is whatever a client sends.
    if not signature or not hmac.compare_digest(signature.encode(), expected.encode()):
        raise PreviewInvalid
    try:
        raw = _unb64(payload)
        try:
            type_name, entry_id, expires, token_id = msgspec.json.decode(
                raw, type=tuple[str, str, int, str]
            )
        except msgspec.ValidationError:
            # Signed before links named their token, so it cannot be revoked.
            msgspec.json.decode(raw, type=tuple[str, str, int])
            raise PreviewExpired from None
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise PreviewInvalid from exc
    if (now or utcnow()).timestamp() >= expires:
        raise PreviewExpired
    return type_name, entry_id, token_id
