"""Every hook a plugin can implement, grouped by when it runs.

The marker name and the entry-point group are both ``cms``: a package that
declares ``[project.entry-points.cms] my_plugin = "my_package.plugin"`` is
loaded at start-up, and the functions of that module decorated with
``@hookimpl`` are called. pluggy checks that each implementation's argument
names match the spec below, so a typo fails at start-up, not at run time.

The core content types (clinic, practitioner, condition, article) are
registered through these same hooks by :mod:`cms.types`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # only for annotations; hookspecs never run code
    import click
    from markdown_it import MarkdownIt

    from cms.contenttypes import ContentType

hookspec = pluggy.HookspecMarker("cms")
hookimpl = pluggy.HookimplMarker("cms")


# --- Start-up: what the plugin contributes --------------------------------


@hookspec
def register_content_types() -> Sequence[ContentType]:
    """Return the content types this plugin adds.

    Each :class:`cms.contenttypes.ContentType` names its type, URL segment and
    msgspec Struct of type-specific fields, and may declare its own list
    filters, searchable fields and schema.org JSON-LD mapping. The app serves
    list, detail, backlinks and (for editors) write routes for each, and
    ``cms content load`` reads its folder. A name or URL segment already
    taken, or a bad filter or search field, fails start-up, naming the
    plugin.
    """
    raise NotImplementedError


@hookspec
def register_routes() -> Sequence[Any]:
    """Return extra Litestar route handlers, controllers or routers.

    They are mounted at the root; use paths under ``/api/v1/``. A path and
    method another plugin already serves fails start-up, naming both plugins.
    """
    raise NotImplementedError


@hookspec
def register_markdown_extensions() -> Sequence[Callable[[MarkdownIt], None]]:
    """Return markdown-it-py plugins, each a function ``plugin(md)``.

    They are applied with ``md.use(plugin)`` after the core set-up (raw HTML
    off, safe link schemes, heading anchors), so they run on every entry body
    at write time. The HTML they produce is still sanitised afterwards.
    """
    raise NotImplementedError


# --- Command line ----------------------------------------------------------


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``cms`` command-line group with ``cli.add_command``.

    Returns nothing.
    """
