"""Settings, read from ``CMS_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated

import msgspec

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/cms.db"


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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``CMS_*`` variables; an unusable value raises SettingsError."""
        env = os.environ if environ is None else environ
        raw: dict[str, object] = {}
        for name in cls.__struct_fields__:
            value = env.get(f"CMS_{name.upper()}")
            if value is None or value == "":
                continue
            if name == "plugins":
                raw[name] = tuple(p.strip() for p in value.split(",") if p.strip())
            else:
                raw[name] = value
        try:
            return msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as exc:
            # "Expected `int`, got `str` - at `$.port`" -> name the variable.
            message = str(exc)
            for name in cls.__struct_fields__:
                message = message.replace(f"`$.{name}`", f"CMS_{name.upper()}")
            raise SettingsError(message) from exc
