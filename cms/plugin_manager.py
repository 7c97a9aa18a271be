"""Finding, loading and checking plugins.

Built-in features are plugins too (:data:`DEFAULT_PLUGINS`); installed
packages are found through the ``cms`` entry-point group. Nothing is loaded at
import time: :func:`load_plugins` is called by the app factory and the CLI.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import click
import msgspec
import pluggy

from cms import hookspecs
from cms.contenttypes import ContentType, RegistrationError, ResponseField, TypeRegistry
from cms.errors import InvalidEntry
from cms.markdown import MarkdownExtension
from cms.schemas import Base
from cms.settings import Settings, variable_names

ENTRY_POINT_GROUP = "cms"

# Always registered, whatever CMS_PLUGINS says.
DEFAULT_PLUGINS: tuple[str, ...] = ("cms.types",)


Source = Literal["built-in", "entry-point", "in-process"]


class PluginError(Exception):
    """A plugin could not be loaded, or one of its hooks failed."""


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, holding each plugin's own settings for the hooks that take them."""

    def __init__(self) -> None:
        super().__init__(ENTRY_POINT_GROUP)
        self.plugin_settings: dict[str, msgspec.Struct] = {}
        """Plugin name to its settings (only plugins that declare some)."""


@dataclass
class Plugins:
    """The plugin manager of one app, and what its plugins registered."""

    manager: PluginManager
    types: TypeRegistry
    names: dict[str, str] = field(default_factory=dict)
    """Plugin name to distribution version ("" for built-in and in-process ones)."""
    sources: dict[str, Source] = field(default_factory=dict)
    """Plugin name to where it came from: ``built-in``, ``entry-point`` or ``in-process``."""
    markdown_extensions: dict[str, list[MarkdownExtension]] = field(default_factory=dict)
    """Plugin name to its Markdown extensions, checked, in registration order."""
    migrations: dict[str, Path] = field(default_factory=dict)
    """Plugin name to the folder of its Alembic versions (only plugins that ship some)."""


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def plugin_name(manager: pluggy.PluginManager, plugin: object) -> str:
    """The name a plugin was registered under."""
    return manager.get_name(plugin) or repr(plugin)


def _arguments(
    manager: pluggy.PluginManager, name: str, impl: pluggy.HookImpl, kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """The arguments ``impl`` names: from ``kwargs``, and ``settings``, its plugin's own."""
    own = manager.plugin_settings if isinstance(manager, PluginManager) else {}
    return {arg: own.get(name) if arg == "settings" else kwargs[arg] for arg in impl.argnames}


def call_hook(
    manager: pluggy.PluginManager, hook_name: str, **kwargs: Any
) -> list[tuple[str, Any]]:
    """Call a hook on every plugin, pairing each result with its plugin's name.

    Each implementation gets the arguments it names (pluggy lets it take fewer
    than the spec offers); ``settings`` is its own plugin's settings. An
    exception in a hook becomes a :class:`PluginError` naming the plugin.
    """
    caller = getattr(manager.hook, hook_name)
    results = []
    for impl in caller.get_hookimpls():  # in registration order
        name = plugin_name(manager, impl.plugin)
        try:
            result = impl.function(**_arguments(manager, name, impl, kwargs))
        except Exception as exc:
            raise PluginError(f"plugin {name!r} failed in hook {hook_name}: {exc}") from exc
        if result is not None:
            results.append((name, result))
    return results


async def acall_hook(
    manager: pluggy.PluginManager, hook_name: str, **kwargs: Any
) -> list[tuple[str, Any]]:
    """Like :func:`call_hook`, awaiting the results that are awaitable.

    :class:`cms.errors.InvalidEntry` passes through unchanged: it is
    how a hook refuses a write, and the caller reports it like any invalid
    field. Any other exception becomes a :class:`PluginError` naming the plugin.
    """
    caller = getattr(manager.hook, hook_name)
    results = []
    for impl in caller.get_hookimpls():
        name = plugin_name(manager, impl.plugin)
        try:
            result = impl.function(**_arguments(manager, name, impl, kwargs))
            if inspect.isawaitable(result):
                result = await result
        except InvalidEntry:
            raise
        except Exception as exc:
            raise PluginError(f"plugin {name!r} failed in hook {hook_name}: {exc}") from exc
        if result is not None:
            results.append((name, result))
    return results


def load_plugins(
    enabled: Sequence[str] | None = None,
    plugins: Sequence[object] | None = None,
    *,
    settings: Settings | None = None,
) -> Plugins:
    """Register the default plugins, then either ``plugins`` or installed ones.

    Args:
        enabled: entry-point names to load (``CMS_PLUGINS``); None loads all.
        plugins: plugin objects (modules or classes) to register instead of
            the installed ones; tests pass the plugins they want.
        settings: where the plugins' own settings are read from
            (:attr:`cms.settings.Settings.plugin_variables`); without it,
            every plugin setting has its default.

    Raises:
        PluginError: a named plugin is not installed, fails to import, or a
            hook raises; RegistrationError: registrations clash, or a Markdown
            extension declares a script vector; SettingsError: a plugin's
            setting has a value that cannot be used.
    """
    manager = PluginManager()
    manager.add_hookspecs(hookspecs)
    versions: dict[str, str] = {}
    sources: dict[str, Source] = {}
    for module_name in DEFAULT_PLUGINS:
        manager.register(importlib.import_module(module_name), name=module_name)
        versions[module_name] = ""
        sources[module_name] = "built-in"
    if plugins is not None:
        for plugin in plugins:
            name = getattr(plugin, "name", None) or getattr(plugin, "__name__", None)
            manager.register(plugin, name=str(name) if name else None)
            versions[plugin_name(manager, plugin)] = str(getattr(plugin, "version", ""))
            sources[plugin_name(manager, plugin)] = "in-process"
    else:
        available = {ep.name: ep for ep in _entry_points()}
        if enabled is not None:
            missing = sorted(set(enabled) - set(available))
            if missing:
                raise PluginError(
                    f"CMS_PLUGINS names plugins that are not installed: {', '.join(missing)} "
                    f"(installed: {', '.join(available) or 'none'})"
                )
        for name, ep in available.items():
            if enabled is not None and name not in enabled:
                continue
            try:
                loaded: ModuleType | object = ep.load()
            except Exception as exc:
                raise PluginError(f"plugin {name!r} failed to load: {exc}") from exc
            manager.register(loaded, name=name)
            versions[name] = ep.dist.version if ep.dist else ""
            sources[name] = "entry-point"
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(str(exc)) from exc
    # Settings first: every other hook may take them.
    manager.plugin_settings = _read_settings(manager, settings or Settings())
    return Plugins(
        manager=manager,
        types=_collect_types(manager),
        names=versions,
        sources=sources,
        markdown_extensions=_collect_markdown(manager),
        migrations=_collect_migrations(manager),
    )


def _read_settings(manager: pluggy.PluginManager, settings: Settings) -> dict[str, msgspec.Struct]:
    """Each declaring plugin's settings, read from ``settings``; clashing variables fail."""
    owner_of = {f"CMS_{name.upper()}": "the core" for name in Settings.__struct_fields__}
    found: dict[str, msgspec.Struct] = {}
    for name, spec in call_hook(manager, "register_settings"):
        if not (isinstance(spec, type) and issubclass(spec, msgspec.Struct)):
            raise RegistrationError(
                f"plugin {name!r}: register_settings returned {spec!r}, not a Struct class "
                "(a subclass of cms.settings.PluginSettings)"
            )
        for variable in variable_names(name, spec).values():
            if variable in owner_of:
                raise RegistrationError(
                    f"setting {variable} is declared twice: by {_owner(owner_of[variable])} "
                    f"and by plugin {name!r}"
                )
            owner_of[variable] = name
        found[name] = settings.plugin_settings(name, spec)
    return found


def _owner(name: str) -> str:
    return name if name == "the core" else f"plugin {name!r}"


def _collect_markdown(manager: pluggy.PluginManager) -> dict[str, list[MarkdownExtension]]:
    found: dict[str, list[MarkdownExtension]] = {}
    for name, extensions in call_hook(manager, "register_markdown_extensions"):
        checked = []
        for extension in extensions:
            if not isinstance(extension, MarkdownExtension):
                if not callable(extension):
                    raise RegistrationError(
                        f"plugin {name!r}: register_markdown_extensions returned "
                        f"{extension!r}, not a function or a MarkdownExtension"
                    )
                extension = MarkdownExtension(extension)
            problems = extension.problems()
            if problems:
                raise RegistrationError(
                    f"plugin {name!r}: Markdown extension {extension.name} declares what the "
                    f"sanitiser never allows: {'; '.join(problems)}"
                )
            checked.append(extension)
        found[name] = checked
    return found


def _collect_migrations(manager: pluggy.PluginManager) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for name, folder in call_hook(manager, "register_migrations"):
        path = Path(folder).resolve()
        if not path.is_dir():
            raise RegistrationError(
                f"plugin {name!r}: register_migrations returned {folder!r}, not a folder"
            )
        found[name] = path
    return found


def _collect_types(manager: pluggy.PluginManager) -> TypeRegistry:
    registry = TypeRegistry()
    for name, types in call_hook(manager, "register_content_types"):
        for ctype in types:
            if not isinstance(ctype, ContentType):
                raise RegistrationError(
                    f"plugin {name!r}: register_content_types returned {ctype!r}, not a ContentType"
                )
            registry.add(replace(ctype, plugin=name, response_fields=()))
    registry.check_relations()
    # Response fields last: they name types, and any plugin may register those.
    for name, rfields in call_hook(manager, "register_response_fields", types=registry):
        for rfield in rfields:
            if not isinstance(rfield, ResponseField):
                raise RegistrationError(
                    f"plugin {name!r}: register_response_fields returned {rfield!r}, "
                    "not a ResponseField"
                )
            registry.add_response_field(replace(rfield, plugin=name, types=tuple(rfield.types)))
    return registry


# --- What is loaded: GET /api/v1/plugins and `cms plugins list` -----------


class PluginInfo(Base):
    """One loaded plugin and everything it registered."""

    name: str
    """The entry-point name (``CMS_PLUGINS`` uses it), or the module or class name."""
    version: str | None
    """The version of the distribution that provides it; null for built-in ones."""
    source: Source
    hooks: list[str]
    """The hooks it implements."""
    content_types: list[str]
    response_fields: list[str]
    """Fields it adds to other types' responses, as `type.field`."""
    routes: list[str]
    """Every route it serves, as `METHOD /path`, its content types' included."""
    markdown_extensions: list[str]
    commands: list[str]
    """Commands it adds to the `cms` command line."""


class PluginList(Base):
    """The loaded plugins, in the order they were registered."""

    data: list[PluginInfo]


def describe(plugins: Plugins, routes: Mapping[str, Sequence[str]]) -> PluginList:
    """What each plugin registered; ``routes`` are the route keys each one serves.

    Commands are found by letting each plugin add its own to an empty group.
    """
    manager = plugins.manager
    hooks_of: dict[str, list[str]] = defaultdict(list)
    for hook_name in sorted(vars(manager.hook)):
        if hook_name.startswith("_"):
            continue
        for impl in getattr(manager.hook, hook_name).get_hookimpls():
            hooks_of[plugin_name(manager, impl.plugin)].append(hook_name)
    extensions = {
        name: [ext.name for ext in exts] for name, exts in plugins.markdown_extensions.items()
    }
    commands: dict[str, list[str]] = {}
    for impl in manager.hook.register_commands.get_hookimpls():
        group = click.Group()
        name = plugin_name(manager, impl.plugin)
        try:
            impl.function(**_arguments(manager, name, impl, {"cli": group}))
        except Exception as exc:
            raise PluginError(f"plugin {name!r} failed in hook register_commands: {exc}") from exc
        commands[name] = sorted(group.commands)
    out = []
    for name, version in plugins.names.items():
        out.append(
            PluginInfo(
                name=name,
                version=version or None,
                source=plugins.sources.get(name, "in-process"),
                hooks=hooks_of.get(name, []),
                content_types=[t.name for t in plugins.types if t.plugin == name],
                response_fields=[
                    f"{t.name}.{f.name}"
                    for t in plugins.types
                    for f in t.response_fields
                    if f.plugin == name
                ],
                routes=list(routes.get(name, [])),
                markdown_extensions=extensions.get(name, []),
                commands=commands.get(name, []),
            )
        )
    return PluginList(data=out)


# --- Routes: who serves what ----------------------------------------------

_PARAM_RE = re.compile(r"\{([^}:]*)(?::[^}]*)?\}")


def route_keys(value: Any) -> list[str]:
    """``METHOD /path`` of every route a handler, controller or router serves.

    Path parameters are written without their type: ``/a/{slug}``.
    """
    from litestar import Controller, Router
    from litestar.handlers import HTTPRouteHandler

    if isinstance(value, type) and issubclass(value, Controller):
        # A throwaway router resolves the controller's paths; registering
        # copies the handlers, so the controller itself is left as it was.
        value = Router(path="/", route_handlers=[value])
    pairs: list[tuple[str, str]]
    if isinstance(value, Router):
        # A router adds an OPTIONS handler to every path by itself.
        pairs = [
            (method, path)
            for path, methods in value.route_handler_method_map.items()
            for method in methods
            if method != "OPTIONS"
        ]
    elif isinstance(value, HTTPRouteHandler):
        pairs = [(method, path) for path in value.paths for method in value.http_methods]
    else:
        pairs = [("ANY", path) for path in getattr(value, "paths", ())]
    return sorted({f"{method} {_PARAM_RE.sub(_param_name, path)}" for method, path in pairs})


def _param_name(match: re.Match[str]) -> str:
    return "{" + match.group(1) + "}"


def check_routes(owned: Sequence[tuple[str, Any]]) -> dict[str, list[str]]:
    """The route keys each owner serves, failing on a route served twice.

    Args:
        owned: (plugin name, handler, controller or router) pairs.

    Raises:
        RegistrationError: naming the route and both plugins.
    """
    owner_of: dict[str, str] = {}
    by_owner: dict[str, list[str]] = defaultdict(list)
    for owner, value in owned:
        for key in route_keys(value):
            # `/a/{slug}` and `/a/{name}` are one route to the router.
            same = _PARAM_RE.sub("{}", key)
            if same in owner_of:
                raise RegistrationError(
                    f"route {key} is registered twice: by plugin {owner_of[same]!r} "
                    f"and by plugin {owner!r}"
                )
            owner_of[same] = owner
            by_owner[owner].append(key)
    return dict(by_owner)
