"""Every hook a plugin can implement, grouped by when it runs.

The marker name and the entry-point group are both ``cms``: a package that
declares ``[project.entry-points.cms] my_plugin = "my_package.plugin"`` is
loaded at start-up, and the functions of that module decorated with
``@hookimpl`` are called. pluggy checks that each implementation's argument
names match the spec below, so a typo fails at start-up, not at run time. An
implementation may take fewer arguments than its spec offers.

Every hook but ``register_settings`` may take ``settings``: the plugin's own
settings, read once at start-up from ``CMS_<PLUGIN>_*`` variables into the
Struct its ``register_settings`` returns (None when it declares none). Each
plugin gets its own; no plugin sees another's.

A hook of the "Writing" section may return an awaitable (be ``async def``);
the core awaits it. Every hook is documented in ``docs/plugins.md``, and a
meta-test fails when one is missing there or has no ``test_hook_<name>`` test.

The core content types (clinic, practitioner, condition, article) are
registered through these same hooks by :mod:`cms.types`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # only for annotations; hookspecs never run code
    import os

    import click
    from markdown_it import MarkdownIt
    from sqlmodel.ext.asyncio.session import AsyncSession

    from cms.contenttypes import ContentType, ResponseField, TypeRegistry
    from cms.editorial.saved import SavedEntry
    from cms.editorial.validation import EntryInput
    from cms.errors import FieldError
    from cms.markdown import MarkdownExtension
    from cms.settings import PluginSettings

hookspec = pluggy.HookspecMarker("cms")
hookimpl = pluggy.HookimplMarker("cms")


# --- Start-up: what the plugin contributes --------------------------------
# Called once, when the app or a command loads its plugins. A clash between
# two plugins fails start-up with both names; an exception names the plugin.


@hookspec
def register_settings() -> type[PluginSettings]:
    """Return the Struct of this plugin's own settings (a :class:`cms.settings.PluginSettings`).

    Called first, once. Each field ``name`` is read from ``CMS_<PLUGIN>_<NAME>``
    (``<PLUGIN>`` is the plugin's name in capitals, ``-`` and ``.`` as ``_``),
    once, when the app or a command starts; the instance is handed to this
    plugin's other hooks as their ``settings`` argument. A bad value, or a
    required field left unset, fails start-up naming the variable; a variable
    that is also a core setting's, or another plugin's, fails naming both.
    """
    raise NotImplementedError


@hookspec
def register_content_types(settings: PluginSettings | None) -> Sequence[ContentType]:
    """Return the content types this plugin adds.

    Each :class:`cms.contenttypes.ContentType` names its type, URL segment and
    msgspec Struct of type-specific fields, and may declare its relations,
    its own list filters, searchable fields, schema.org JSON-LD mapping
    (:mod:`cms.jsonld`) and feed opt-in. The app serves list, detail,
    backlinks and (for editors) write routes for each, and ``cms content
    load`` reads its folder. A name or URL segment already taken, or a bad
    filter or search field, fails start-up, naming the plugins.
    """
    raise NotImplementedError


@hookspec
def register_response_fields(
    types: TypeRegistry, settings: PluginSettings | None
) -> Sequence[ResponseField]:
    """Return fields this plugin adds to the responses of other types.

    ``types`` holds every registered content type, so a plugin can add a field
    only to the types that are enabled. Each
    :class:`cms.contenttypes.ResponseField` names the key, the types and the
    schema. Its values are stored, not computed on a read: write them with
    :func:`cms.editorial.extras.set_extra` from ``on_entries_saved``. A key that
    is already a field of the type, or that another plugin adds, fails
    start-up.
    """
    raise NotImplementedError


@hookspec
def register_routes(settings: PluginSettings | None) -> Sequence[Any]:
    """Return extra Litestar route handlers, controllers or routers.

    They are mounted at the root; use paths under ``/api/v1/``. A path and
    method another plugin (or a content type's list or detail route) already
    serves fails start-up, naming both plugins. Build the handlers inside the
    hook: each app gets its own.
    """
    raise NotImplementedError


@hookspec
def register_markdown_extensions(
    settings: PluginSettings | None,
) -> Sequence[MarkdownExtension | Callable[[MarkdownIt], None]]:
    """Return markdown-it-py plugins, each a function ``plugin(md)``, or a
    :class:`cms.markdown.MarkdownExtension` that also declares the HTML it emits.

    They are applied with ``md.use(plugin)`` after the core set-up (raw HTML
    off, safe link schemes, heading anchors), so they run on every entry body
    at write time. The HTML they produce is sanitised afterwards: tags,
    attributes and classes beyond the core's are kept only when declared
    (``MarkdownExtension(plugin, tags={"aside"}, classes={"aside": {"note"}})``).
    A declaration of a script vector (``script``, ``style``, ``iframe``, an
    ``on*`` or ``style`` attribute...) fails start-up, naming the plugin.
    """
    raise NotImplementedError


@hookspec
def register_migrations(settings: PluginSettings | None) -> str | os.PathLike[str]:
    """Return the folder of this plugin's Alembic versions, which make its own tables.

    ``cms db upgrade`` applies them with the core's (and every loaded plugin's)
    versions. They form a branch of their own, labelled with the plugin's
    name: the first version has ``down_revision = None``, ``branch_labels =
    ("<plugin>",)`` and ``depends_on`` the core revision whose tables it needs
    (the core's head when it was written); the next ones follow it as usual.
    Revision ids are shared by the core and every plugin: start yours with the
    plugin's name. A missing folder, or a version that is not on the plugin's
    branch, fails ``cms db upgrade`` naming the plugin.
    """
    raise NotImplementedError


# --- Writing: inside the transaction that saves entries --------------------
# Called by every path that saves entries (``cms content load`` today, the
# editors' API too). An exception other than InvalidEntry names the plugin.


@hookspec
def on_before_publish(
    session: AsyncSession, entry: EntryInput, settings: PluginSettings | None
) -> Sequence[FieldError] | Awaitable[Sequence[FieldError]]:
    """Return the reasons ``entry`` may not be published; empty when it may.

    Called whenever a save leaves an entry ``published`` or ``scheduled`` with
    changed content, before anything is committed. Every plugin is asked and
    every reason is reported; any reason refuses the save (a 422 problem over
    HTTP, a failed ``cms content load`` that writes nothing). Each
    :class:`cms.errors.FieldError` names the field at fault. Check
    ``entry.ctype.name``: the hook is called for entries of every type.
    """
    raise NotImplementedError


@hookspec
def on_entries_saved(
    session: AsyncSession, saved: Sequence[SavedEntry], settings: PluginSettings | None
) -> Awaitable[None] | None:
    """React to entries that were created or changed, after their relations are saved.

    ``saved`` lists each changed entry once, with its status before and after.
    This is where a plugin recomputes what it stores for reads (for example
    the values of its response fields), in the same transaction. Raise
    :class:`cms.errors.InvalidEntry` to refuse the save. Returns nothing.
    """


@hookspec
def on_after_publish(
    session: AsyncSession, entry: SavedEntry, settings: PluginSettings | None
) -> Awaitable[None] | None:
    """React to one entry becoming published (it was not published before).

    Called after ``on_entries_saved``, in the same transaction: raising aborts
    the save, so send nothing outside the process from here; record it (an
    outbox row) for a worker to deliver after the commit. Returns nothing.
    """


# --- Command line ----------------------------------------------------------


@hookspec
def register_commands(cli: click.Group, settings: PluginSettings | None) -> None:
    """Add commands to the ``cms`` command-line group with ``cli.add_command``.

    Returns nothing.
    """
