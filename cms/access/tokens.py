"""Bearer tokens, roles and clinic scopes: who may do what to which entries.

A token is ``cms_<id>_<secret>``. The id is public (it names the token in
lists and revisions); the secret is 32 random bytes, shown once and stored only
as its SHA-256 digest. Secrets this random need no slow hash: nobody can guess
one, so a fast digest of it is as good as the secret is strong.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import secrets
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.errors import FieldError, InvalidInput
from cms.schemas import SLUG_RE, Base
from cms.storage.tables import ApiToken, Entry, utcnow

TOKEN_PREFIX = "cms_"  # noqa: S105  (a public prefix that marks our tokens, not a secret)
ID_BYTES = 8  # 16 hex characters: public, only needs to be unique
SECRET_BYTES = 32

Role = Literal["admin", "editor", "author", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "editor", "author", "viewer")


class Permission(enum.Enum):
    """Something a role may do."""

    READ_DRAFTS = "read working copies and drafts"
    WRITE = "create and change entries"
    SUBMIT = "submit entries for review"
    PUBLISH = "publish, schedule, unpublish and archive entries"
    DELETE = "delete entries"
    MANAGE_TOKENS = "manage tokens"
    MANAGE_WEBHOOKS = "manage webhooks"


ROLE_PERMISSIONS: Mapping[str, frozenset[Permission]] = {
    "viewer": frozenset({Permission.READ_DRAFTS}),
    "author": frozenset({Permission.READ_DRAFTS, Permission.WRITE, Permission.SUBMIT}),
    "editor": frozenset(
        {
            Permission.READ_DRAFTS,
            Permission.WRITE,
            Permission.SUBMIT,
            Permission.PUBLISH,
            Permission.DELETE,
        }
    ),
    "admin": frozenset(Permission),
}


@dataclass(frozen=True)
class Caller:
    """The token a request authenticated with.

    Attributes:
        token_id: the token's public id; revisions name it.
        name: the name it was given.
        role: one of :data:`ROLES`.
        clinics: the clinic slugs it is limited to; empty means every clinic.
    """

    token_id: str
    name: str
    role: str
    clinics: frozenset[str]

    def can(self, permission: Permission) -> bool:
        """Whether the token's role grants ``permission``."""
        return permission in ROLE_PERMISSIONS.get(self.role, frozenset())

    @property
    def limited(self) -> bool:
        """Whether the token is limited to some clinics."""
        return bool(self.clinics)

    def may_read(self, entry_clinics: Iterable[str]) -> bool:
        """An entry is readable when it appears on at least one of the token's clinics."""
        return not self.limited or not self.clinics.isdisjoint(entry_clinics)

    def may_change(self, entry_clinics: Collection[str]) -> bool:
        """An entry is changeable when every clinic it appears on is one of the token's.

        Changing an entry changes every site that shows it, so a token limited
        to Calgary may not change an entry Edmonton shows too; nor one that
        appears on no clinic at all (it belongs to the whole group).
        """
        return not self.limited or (bool(entry_clinics) and self.clinics.issuperset(entry_clinics))


def hash_secret(secret: str) -> str:
    """The digest stored for a token's secret part."""
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_token(presented: str) -> tuple[str, str] | None:
    """Split ``cms_<id>_<secret>`` into id and secret, or None when it is not one."""
    if not presented.startswith(TOKEN_PREFIX):
        return None
    token_id, sep, secret = presented[len(TOKEN_PREFIX) :].partition("_")
    if not sep or len(token_id) != 2 * ID_BYTES or not secret:
        return None
    if any(c not in "0123456789abcdef" for c in token_id):
        return None
    return token_id, secret


async def authenticate(
    session: AsyncSession, presented: str, *, now: dt.datetime | None = None
) -> Caller | None:
    """The caller ``presented`` identifies, or None for an unknown, revoked or expired token.

    The token is looked up by its public id, then the digests are compared in
    constant time, so response timing tells nothing about the secret.
    """
    parts = parse_token(presented)
    if parts is None:
        return None
    token_id, secret = parts
    token = await session.get(ApiToken, token_id)
    if token is None or not hmac.compare_digest(token.secret_hash, hash_secret(secret)):
        return None
    return _active(token, now)


def _active(token: ApiToken, now: dt.datetime | None) -> Caller | None:
    now = now or utcnow()
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
        return None
    return Caller(
        token_id=token.id, name=token.name, role=token.role, clinics=frozenset(token.clinics)
    )


async def active_token(
    session: AsyncSession, token_id: str, *, now: dt.datetime | None = None
) -> Caller | None:
    """The caller of the token ``token_id`` while it is usable, else None (unknown,
    revoked or expired). For what a token made and vouches for since: preview links."""
    token = await session.get(ApiToken, token_id)
    return None if token is None else _active(token, now)


async def known_clinics(
    session: AsyncSession, clinics: Iterable[str]
) -> tuple[list[str], FieldError | None]:
    """``clinics`` without repeats, and an error on ``clinics`` naming the first that is
    not a slug or not a clinic here (None when all are)."""
    wanted = list(dict.fromkeys(clinics))
    bad = [c for c in wanted if not SLUG_RE.match(c)]
    if bad:
        return wanted, FieldError("clinics", f"{bad[0]!r} is not a slug")
    if wanted:
        query = select(Entry.slug).where(Entry.type == "clinic", col(Entry.slug).in_(wanted))
        found = set((await session.exec(query)).all())
        missing = [c for c in wanted if c not in found]
        if missing:
            return wanted, FieldError("clinics", f"no clinic with slug {missing[0]!r}")
    return wanted, None


async def create_token(
    session: AsyncSession,
    *,
    name: str,
    role: str,
    clinics: Collection[str] = (),
    expires_at: dt.datetime | None = None,
    created_by: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token in the caller's transaction.

    Returns:
        The stored token and its full secret, which is not kept anywhere.

    Raises:
        InvalidInput: naming each bad field (unknown role or clinic, an admin
            limited to clinics, an expiry in the past).
    """
    now = now or utcnow()
    errors: list[FieldError] = []
    if not name.strip() or len(name) > 120:
        errors.append(FieldError("name", "needs 1 to 120 characters"))
    if role not in ROLES:
        errors.append(FieldError("role", f"must be one of {', '.join(ROLES)}"))
    wanted, problem = await known_clinics(session, clinics)
    if problem:
        errors.append(problem)
    if role == "admin" and wanted:
        # An admin mints tokens; limiting one to a clinic would not limit what
        # the tokens it mints can do.
        errors.append(FieldError("clinics", "admin tokens cannot be limited to clinics"))
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= now):
        errors.append(FieldError("expires_at", "must be a time in the future, with a time zone"))
    if errors:
        raise InvalidInput(errors)
    token_id = secrets.token_hex(ID_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    token = ApiToken(
        id=token_id,
        name=name.strip(),
        role=role,
        clinics=wanted,
        secret_hash=hash_secret(secret),
        created_at=now,
        created_by=created_by,
        expires_at=expires_at,
    )
    session.add(token)
    await session.flush()
    return token, f"{TOKEN_PREFIX}{token_id}_{secret}"


class TokenInfo(Base):
    """A token, without its secret."""

    id: str
    name: str
    role: str
    clinics: list[str]
    created_at: dt.datetime
    created_by: str | None
    """The id of the admin token that made it, or `cli`."""
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


def token_info(token: ApiToken) -> TokenInfo:
    """The public description of a stored token."""
    return TokenInfo(
        id=token.id,
        name=token.name,
        role=token.role,
        clinics=list(token.clinics),
        created_at=token.created_at,
        created_by=token.created_by,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
    )


async def list_tokens(session: AsyncSession) -> list[ApiToken]:
    """Every token, revoked ones included, oldest first."""
    result = await session.exec(select(ApiToken).order_by(col(ApiToken.created_at), ApiToken.id))
    return list(result.all())


async def revoke_token(
    session: AsyncSession, token_id: str, *, now: dt.datetime | None = None
) -> bool:
    """Revoke a token (it is kept, so that revisions can still name it).

    Returns:
        False when there is no such token.
    """
    token = await session.get(ApiToken, token_id)
    if token is None:
        return False
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
        session.add(token)
        await session.flush()
    return True
