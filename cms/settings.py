"""Settings, read from ``CMS_*`` environment variables."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated, Literal

import msgspec

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/cms.db"
WEBHOOK_RETRY_SCHEDULE: tuple[float, ...] = (
    5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600,
)  # fmt: skip
"""The Standard Webhooks reference schedule: retries over three days after the first try."""
LIST_SETTINGS = ("plugins", "webhook_retry_schedule", "cors_origins")
"""Settings given as comma-separated values."""
CORS_ORIGIN_PATTERN = r"^(\*|[A-Za-z][A-Za-z0-9+.-]*://[^/?#\s]+/?)$"
"""``*``, or an origin: ``scheme://host[:port]`` (a trailing slash is tolerated)."""
_AT_FIELD = re.compile(r"`\$\.(\w+)((?:\[\d+\])?)`")


class SettingsError(Exception):
    """A ``CMS_*`` variable has a value that cannot be used."""


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything an app or command can be configured with.

    Each field ``name`` is read from ``CMS_<NAME>``; see the README's table.
    """

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8000
    plugins: tuple[str, ...] | None = None
    """Names of the entry-point plugins to enable; None enables all installed."""
    redis_url: str | None = None
    redis_namespace: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]+$")] = "cms"
    """Prefix of this deployment's Redis keys, so deployments can share one Redis."""
    public_max_age: Annotated[int, msgspec.Meta(ge=0)] = 60
    stale_while_revalidate: Annotated[int, msgspec.Meta(ge=0)] = 300
    log_level: str = "info"
    secret_key: str | None = None
    """Signs preview links; when unset, a random key is made once and kept in the database."""
    scheduler_interval: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    """Seconds between two looks for scheduled entries that are due; 0 turns it off."""
    auth_failure_limit: Annotated[int, msgspec.Meta(ge=1)] = 10
    """Failed authentications one client may make per window before answers are 429."""
    auth_failure_window: Annotated[int, msgspec.Meta(ge=1)] = 300
    """Seconds of the failed-authentication window."""
    webhook_delivery: Literal["server", "worker"] = "server"
    """Who sends webhooks: the server (``server``), or only ``cms worker`` (``worker``)."""
    webhook_poll_interval: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    """Seconds between two looks for new changes and due deliveries."""
    webhook_retry_schedule: Annotated[
        tuple[Annotated[float, msgspec.Meta(gt=0)], ...], msgspec.Meta(min_length=1)
    ] = WEBHOOK_RETRY_SCHEDULE
    """Seconds to wait before each retry of a failed delivery (±20 % jitter); then it fails."""
    webhook_timeout: Annotated[float, msgspec.Meta(gt=0)] = 15.0
    """Seconds a receiver has to answer one attempt."""
    cors_origins: tuple[Annotated[str, msgspec.Meta(pattern=CORS_ORIGIN_PATTERN)], ...] = ()
    """Browser origins allowed to call the API besides the published clinics' sites;
    ``*`` lets any origin make public reads (GET and HEAD without a token)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``CMS_*`` variables; an unusable value raises SettingsError."""
        env = os.environ if environ is None else environ
        raw: dict[str, object] = {}
        for name in cls.__struct_fields__:
            value = env.get(f"CMS_{name.upper()}")
            if value is None or value == "":
                continue
            if name in LIST_SETTINGS:
                raw[name] = tuple(p.strip() for p in value.split(",") if p.strip())
            else:
                raw[name] = value
        try:
            return msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as exc:
            # "Expected `int`, got `str` - at `$.port`" -> name the variable, and
            # for a list the position in it ("- at CMS_WEBHOOK_RETRY_SCHEDULE item 2").
            def variable(found: re.Match[str]) -> str:
                name, index = found.group(1), found.group(2)
                item = f" item {int(index[1:-1]) + 1}" if index else ""
                return f"CMS_{name.upper()}{item}"

            message = _AT_FIELD.sub(variable, str(exc))
            if "CMS_CORS_ORIGINS" in message:
                message += " (comma-separated origins such as https://clinic.example:8443, or *)"
            if "CMS_WEBHOOK_RETRY_SCHEDULE" in message:
                message += " (comma-separated seconds greater than 0, e.g. 5,300,1800)"
            raise SettingsError(message) from exc
