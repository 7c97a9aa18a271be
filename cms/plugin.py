"""The plugin API: the one module of ``cms`` a plugin imports.

Everything a plugin needs is named here, and only here, so the modules behind
it may move while plugins keep working (pytest's plugins import ``pytest``,
never ``_pytest``). ``tests/test_plugin_api_boundary.py`` fails when a module
under ``plugins/`` or ``examples/`` imports any other module of ``cms``
(``cms.testing`` aside, in a plugin's tests). A name listed in ``__all__``
keeps its meaning; what is not listed is not part of the API.

What it offers, in the order of a plugin's life:

- **Hooks**: :data:`hookimpl` marks a hook implementation; the hooks and their
  arguments are those of :mod:`cms.hookspecs` (documented in ``docs/plugins.md``).
- **Content types**: :class:`ContentType` and what a declaration uses
  (:class:`Relation`, :class:`ListFilter`, :class:`ResponseField`, the
  schema base :class:`Base` and field types such as :data:`Slug` and
  :data:`WebUrl`, the one type of every URL field), and
  JSON-LD mappings (:class:`LdEntry` in, a list of :data:`Node` out).
- **Saving**: what the writing hooks receive (:class:`EntryInput`,
  :class:`SavedEntry`), how they refuse (:class:`FieldError`,
  :class:`SaveRefused`), and the stored response-field values they write
  (:func:`set_extra`, :func:`clear_extras`).
- **Reading**: stored entries and their relations, working copies and
  published versions, by ids or slugs, a thousand at a query
  (:func:`entries_by_id`, :func:`relations_from`, ...); the documents the
  API serves (:func:`read_entry`, :func:`list_entries`).
- **Routes**: :func:`public_get` serves a plugin's public read through the
  response cache with the core's caching headers and problem responses.
- **Markdown**: :class:`MarkdownExtension`, an extension with the tags,
  attributes and classes it emits, which the sanitiser then keeps.
- **Settings and commands**: a plugin's own settings (:class:`PluginSettings`,
  read from ``CMS_<PLUGIN>_*`` once and handed to its hooks), the app's
  :class:`Settings`, and :func:`open_services`, the app's services for a
  plugin's command.
- **Migrations** need no import: the ``register_migrations`` hook names a
  folder of Alembic versions, which ``cms db upgrade`` applies.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from sqlmodel.ext.asyncio.session import AsyncSession

from cms.contenttypes import (
    ContentType,
    ListFilter,
    RegistrationError,
    Relation,
    ResponseField,
    TypeRegistry,
)
from cms.dates import iso
from cms.editorial.entries import read_entry
from cms.editorial.extras import clear_extras, set_extra
from cms.editorial.lifecycle import PublishRefused, SavedEntry, SaveRefused
from cms.editorial.validation import EntryInput
from cms.errors import FieldError, InvalidEntry, InvalidParameter
from cms.hookspecs import hookimpl
from cms.jsonld import JsonLdMapping, LdEntry, LdRef, Node, compact
from cms.markdown import MarkdownExtension
from cms.reading.listing import ListQuery, list_entries
from cms.reading.reads import (
    EntryRecord,
    EntryVersion,
    RelationRecord,
    entries_by_id,
    entries_by_slug,
    relations_from,
    relations_to,
)
from cms.schemas import (
    Base,
    EntryKey,
    EntryRef,
    Slug,
    Status,
    TypedEntryRef,
    WebUrl,
    WebUrlOrEmpty,
)
from cms.settings import PluginSettings, Settings, SettingsError
from cms.storage.db import writing

if TYPE_CHECKING:  # loaded on first use, see _HTTP and open_services
    from litestar import Request

    from cms.app import Services
    from cms.http.plugin_routes import ListResult, PublicRead, public_get
    from cms.http.problems import ProblemException, error_responses, not_found

__all__ = [
    "AsyncSession",
    "Base",
    "ContentType",
    "EntryInput",
    "EntryKey",
    "EntryRecord",
    "EntryRef",
    "EntryVersion",
    "FieldError",
    "InvalidEntry",
    "InvalidParameter",
    "JsonLdMapping",
    "LdEntry",
    "LdRef",
    "ListFilter",
    "ListQuery",
    "ListResult",
    "MarkdownExtension",
    "Node",
    "PluginSettings",
    "ProblemException",
    "PublicRead",
    "PublishRefused",
    "RegistrationError",
    "Relation",
    "RelationRecord",
    "ResponseField",
    "SaveRefused",
    "SavedEntry",
    "Settings",
    "SettingsError",
    "Slug",
    "Status",
    "TypeRegistry",
    "TypedEntryRef",
    "WebUrl",
    "WebUrlOrEmpty",
    "app_services",
    "clear_extras",
    "compact",
    "entries_by_id",
    "entries_by_slug",
    "error_responses",
    "hookimpl",
    "iso",
    "list_entries",
    "not_found",
    "open_services",
    "public_get",
    "read_entry",
    "relations_from",
    "relations_to",
    "set_extra",
    "writing",
]

# --- Routes -----------------------------------------------------------------------

# Every `cms` command loads the plugins, and so this module, and few serve a
# route: the HTTP layer (Litestar) loads when a plugin first asks for a name
# of it, not with every `cms --help`.
_HTTP = {
    "ListResult": "cms.http.plugin_routes",
    "PublicRead": "cms.http.plugin_routes",
    "public_get": "cms.http.plugin_routes",
    "ProblemException": "cms.http.problems",
    "error_responses": "cms.http.problems",
    "not_found": "cms.http.problems",
}


def __getattr__(name: str) -> Any:
    module = _HTTP.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def app_services(request: Request[Any, Any, Any]) -> Services:
    """The services of the app serving ``request``: its settings, types, sessions, cache."""
    services: Services = request.app.state.services
    return services


# --- Settings ---------------------------------------------------------------------
# `Settings` (imported above) is the app's configuration, read once from CMS_*
# variables (`Settings.from_env()`); a hook or route gets the app's own through
# `open_services()` or `app_services(request)`. A plugin's own settings are a
# `PluginSettings` subclass it returns from `register_settings`: read once from
# CMS_<PLUGIN>_<FIELD> and handed to each of its hooks as `settings`.


# --- Commands ---------------------------------------------------------------------


@asynccontextmanager
async def open_services(settings: Settings | None = None) -> AsyncIterator[Services]:
    """The app's services for a plugin's command, closed on leaving the block.

    The same services ``cms serve`` builds (settings, the enabled plugins and
    their types, the Markdown renderer, the database engine and sessions),
    without serving anything::

        async with open_services() as services:
            async with services.sessions() as session:
                ...  # read
            async with writing(services.sessions) as session, session.begin():
                ...  # write, committed at the end of the block

    Args:
        settings: the configuration; read from ``CMS_*`` variables when omitted.

    Raises:
        SettingsError: a ``CMS_*`` variable cannot be used.
    """
    # Imported here: every `cms` command loads the plugins, and so this
    # module; the app's modules load only when a command opens them.
    from cms.app import build_services

    services = build_services(settings or Settings.from_env())
    try:
        yield services
    finally:
        services.cache.reader.close()
        await services.engine.dispose()
