"""Settings, read from ``CMS_*`` environment variables."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Literal, TypeVar

import msgspec

from cms.schemas import web_url_problem

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/cms.db"
WEBHOOK_RETRY_SCHEDULE: tuple[float, ...] = (
    5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600,
)  # fmt: skip
"""The Standard Webhooks reference schedule: retries over three days after the first try."""
MAX_BODY_CHARS = 200_000
"""The default longest Markdown body, in characters: some 30,000 words, a small
book; the demo's longest body has 2,600."""
MAX_RENDER_SECONDS = 2.0
"""The default CPU time one body may take to render: a body of the longest
length in ordinary Markdown takes about a tenth of a second."""
LIST_SETTINGS = ("plugins", "webhook_retry_schedule", "cors_origins", "trusted_proxies")
"""Settings given as comma-separated values."""
CORS_ORIGIN_PATTERN = r"^(\*|[A-Za-z][A-Za-z0-9+.-]*://[^/?#\s]+/?)$"
"""``*``, or an origin: ``scheme://host[:port]`` (a trailing slash is tolerated)."""
_AT_FIELD = re.compile(r"`\$\.(\w+)((?:\[\d+\])?)`")
_MISSING_FIELD = re.compile(r"Object missing required field `(\w+)`")
_SEQUENCE_TYPES = (
    msgspec.inspect.ListType, msgspec.inspect.VarTupleType, msgspec.inspect.TupleType,
    msgspec.inspect.SetType, msgspec.inspect.FrozenSetType,
)  # fmt: skip


WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104  (names them, binds nothing)
"""Values of ``CMS_HOST`` that bind every address, and so name none to link to."""


class SettingsError(Exception):
    """A ``CMS_*`` variable has a value that cannot be used."""


def public_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be ``CMS_PUBLIC_URL``, or None when it can.

    The rule of every URL (:func:`cms.schemas.web_url_problem`), and no query
    or fragment: paths are appended to it.
    """
    problem = web_url_problem(url)
    if problem:
        return problem
    if "?" in url or "#" in url:
        return "may not have a query or a fragment (paths are appended to it)"
    return None


class PluginSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The base of a plugin's own settings (returned by its ``register_settings`` hook).

    Each field ``name`` is read from ``CMS_<PLUGIN>_<NAME>``, where ``<PLUGIN>``
    is the plugin's name in capitals (``case_stories``: ``CMS_CASE_STORIES_*``).
    Values are converted and checked like the core's: a field typed as a tuple
    or list takes comma-separated values, and a bad value fails start-up,
    naming its variable. A field without a default must be set.
    """


S = TypeVar("S", bound=msgspec.Struct)


def plugin_prefix(plugin: str) -> str:
    """The start of the names of a plugin's variables: ``case_stories`` -> ``CMS_CASE_STORIES_``."""
    return "CMS_" + re.sub(r"[^A-Za-z0-9]+", "_", plugin).strip("_").upper() + "_"


def variable_names(plugin: str, spec: type[msgspec.Struct]) -> dict[str, str]:
    """Each field of ``spec`` with the variable it is read from, for ``plugin``."""
    prefix = plugin_prefix(plugin)
    return {f.name: prefix + f.encode_name.upper() for f in msgspec.structs.fields(spec)}


def _is_sequence(kind: msgspec.inspect.Type) -> bool:
    if isinstance(kind, msgspec.inspect.UnionType):
        return any(_is_sequence(t) for t in kind.types)
    return isinstance(kind, _SEQUENCE_TYPES)


def _convert(raw: dict[str, object], spec: type[S], variable: Callable[[str], str]) -> S:
    """``raw`` as ``spec``; an error names the variable a field comes from.

    "Expected `int`, got `str` - at `$.port`" becomes "... - at CMS_PORT", and
    for a list the position in it ("- at CMS_WEBHOOK_RETRY_SCHEDULE item 2").
    """
    try:
        return msgspec.convert(raw, spec, strict=False)
    except msgspec.ValidationError as exc:

        def at(found: re.Match[str]) -> str:
            name, index = found.group(1), found.group(2)
            item = f" item {int(index[1:-1]) + 1}" if index else ""
            return f"{variable(name)}{item}"

        message = _AT_FIELD.sub(at, str(exc))
        message = _MISSING_FIELD.sub(lambda m: f"{variable(m.group(1))} is required", message)
        raise SettingsError(message) from exc


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything an app or command can be configured with.

    Each field ``name`` is read from ``CMS_<NAME>``; see the README's table.
    """

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8000
    public_url: str | None = None
    """The address readers reach the API at (``https://cms.example.org``, no
    ``/api/v1``): the base of every absolute URL the API writes (preview links,
    feeds' links). Never the request's ``Host``; see :attr:`public_base`."""
    plugins: tuple[str, ...] | None = None
    """Names of the entry-point plugins to enable; None enables all installed."""
    redis_url: str | None = None
    redis_namespace: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]+$")] = "cms"
    """Prefix of this deployment's Redis keys, so deployments can share one Redis."""
    public_max_age: Annotated[int, msgspec.Meta(ge=0)] = 60
    stale_while_revalidate: Annotated[int, msgspec.Meta(ge=0)] = 300
    log_level: Annotated[
        str, msgspec.Meta(pattern=r"(?i)^(critical|error|warning|info|debug|trace)$")
    ] = "info"
    log_format: Literal["json", "text"] = "json"
    """How ``cms serve`` and ``cms worker`` write their logs: JSON lines, or text lines."""
    metrics_token: str | None = None
    """When set, ``GET /metrics`` answers only ``Authorization: Bearer <this>``; open otherwise."""
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
    max_body_chars: Annotated[int, msgspec.Meta(ge=1)] = MAX_BODY_CHARS
    """The longest Markdown body an entry may have, in characters; a longer one is
    refused (a 422 naming ``body``) before it is parsed."""
    max_render_seconds: Annotated[float, msgspec.Meta(gt=0)] = MAX_RENDER_SECONDS
    """CPU seconds one body may take to render; a body that takes longer is refused
    (a 422 naming ``body``)."""
    cors_origins: tuple[Annotated[str, msgspec.Meta(pattern=CORS_ORIGIN_PATTERN)], ...] = ()
    """Browser origins allowed to call the API besides the published clinics' sites;
    ``*`` lets any origin make public reads (GET and HEAD without a token)."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses (``10.0.0.5``) and networks (``10.0.0.0/8``) of the proxies in front of
    the server, whose ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed; from
    any other peer they are ignored. Empty, the default, believes no one. ``*`` believes
    every peer: only for a server that nothing but its proxy can reach."""
    plugin_variables: dict[str, str] = msgspec.field(default_factory=dict)
    """The ``CMS_*`` variables that name no setting above, by name: plugins'
    settings are read from here (:meth:`plugin_settings`), not from the
    environment, so the environment is read once, by :meth:`from_env`."""

    def __post_init__(self) -> None:
        for proxy in self.trusted_proxies:
            if proxy == "*":
                continue
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise SettingsError(
                    f"CMS_TRUSTED_PROXIES: {proxy!r} is not an IP address or network "
                    "(comma-separated addresses or CIDR networks, such as 10.0.0.5,10.1.0.0/16, "
                    "or *)"
                ) from None
        if self.public_url is not None:
            problem = public_url_problem(self.public_url)
            if problem:
                raise SettingsError(f"CMS_PUBLIC_URL {problem}")

    @property
    def public_base(self) -> str:
        """The base of absolute URLs, without a trailing slash.

        :attr:`public_url`, or else the address ``cms serve`` binds
        (``http://127.0.0.1:8000`` by default; ``127.0.0.1`` for a wildcard
        :attr:`host`, which no client can reach). Never the request's
        ``Host`` or ``X-Forwarded-Host``: anyone can send those.
        """
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in WILDCARD_HOSTS else self.host
        if ":" in host:
            host = f"[{host}]"  # an IPv6 address
        return f"http://{host}:{self.port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``CMS_*`` variables; an unusable value raises SettingsError."""
        env = os.environ if environ is None else environ
        core = {f"CMS_{name.upper()}": name for name in cls.__struct_fields__}
        del core["CMS_PLUGIN_VARIABLES"]
        raw: dict[str, object] = {
            "plugin_variables": {
                k: v for k, v in env.items() if k.startswith("CMS_") and k not in core
            }
        }
        for variable, name in core.items():
            value = env.get(variable)
            if value is None or value == "":
                continue
            if name in LIST_SETTINGS:
                raw[name] = tuple(p.strip() for p in value.split(",") if p.strip())
            else:
                raw[name] = value
        try:
            return _convert(raw, cls, lambda name: f"CMS_{name.upper()}")
        except SettingsError as exc:
            message = str(exc)
            if "CMS_CORS_ORIGINS" in message:
                message += " (comma-separated origins such as https://clinic.example:8443, or *)"
            if "CMS_WEBHOOK_RETRY_SCHEDULE" in message:
                message += " (comma-separated seconds greater than 0, e.g. 5,300,1800)"
            raise SettingsError(message) from exc.__cause__

    def plugin_settings(self, plugin: str, spec: type[S]) -> S:
        """The settings of ``plugin``, each field of ``spec`` from ``CMS_<PLUGIN>_<FIELD>``.

        Read from :attr:`plugin_variables`; a variable that is unset or empty
        leaves its field at its default.

        Raises:
            SettingsError: a value cannot be used, or a required one is unset,
                naming the variable.
        """
        variables = variable_names(plugin, spec)
        raw: dict[str, object] = {}
        for info in msgspec.structs.fields(spec):
            value = self.plugin_variables.get(variables[info.name], "")
            if value == "":
                continue
            kind = msgspec.inspect.type_info(info.type)
            if _is_sequence(kind):
                raw[info.encode_name] = [p.strip() for p in value.split(",") if p.strip()]
            else:
                raw[info.encode_name] = value
        by_key = {f.encode_name: variables[f.name] for f in msgspec.structs.fields(spec)}
        return _convert(raw, spec, lambda key: by_key.get(key, key))
