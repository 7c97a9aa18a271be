"""Finding, loading and checking plugins.

Built-in features are plugins too (:data:`DEFAULT_PLUGINS`); installed
packages are found through the ``cms`` entry-point group. Nothing is loaded at
import time: :func:`load_plugins` is called by the app factory and the CLI.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

import pluggy

from cms import hookspecs
from cms.contenttypes import ContentType, RegistrationError, TypeRegistry

ENTRY_POINT_GROUP = "cms"

# Always registered, whatever CMS_PLUGINS says.
DEFAULT_PLUGINS: tuple[str, ...] = ("cms.types",)


class PluginError(Exception):
    """A plugin could not be loaded, or one of its hooks failed."""


@dataclass
class Plugins:
    """The plugin manager of one app, and what its plugins registered."""

    manager: pluggy.PluginManager
    types: TypeRegistry
    names: dict[str, str] = field(default_factory=dict)
    """Plugin name to distribution version ("" for built-in and in-process ones)."""


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def plugin_name(manager: pluggy.PluginManager, plugin: object) -> str:
    """The name a plugin was registered under."""
    return manager.get_name(plugin) or repr(plugin)


def call_hook(
    manager: pluggy.PluginManager, hook_name: str, **kwargs: Any
) -> list[tuple[str, Any]]:
    """Call a hook on every plugin, pairing each result with its plugin's name.

    An exception in a hook becomes a :class:`PluginError` naming the plugin.
    """
    caller = getattr(manager.hook, hook_name)
    results = []
    for impl in caller.get_hookimpls():  # in registration order
        name = plugin_name(manager, impl.plugin)
        try:
            result = impl.function(**kwargs)
        except Exception as exc:
            raise PluginError(f"plugin {name!r} failed in hook {hook_name}: {exc}") from exc
        if result is not None:
            results.append((name, result))
    return results


def load_plugins(
    enabled: Sequence[str] | None = None, plugins: Sequence[object] | None = None
) -> Plugins:
    """Register the default plugins, then either ``plugins`` or installed ones.

    Args:
        enabled: entry-point names to load (``CMS_PLUGINS``); None loads all.
        plugins: plugin objects (modules or classes) to register instead of
            the installed ones; tests pass the plugins they want.

    Raises:
        PluginError: a named plugin is not installed, fails to import, or a
            hook raises; RegistrationError: registrations clash.
    """
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(hookspecs)
    versions: dict[str, str] = {}
    for module_name in DEFAULT_PLUGINS:
        manager.register(importlib.import_module(module_name), name=module_name)
        versions[module_name] = ""
    if plugins is not None:
        for plugin in plugins:
            name = getattr(plugin, "name", None) or getattr(plugin, "__name__", None)
            manager.register(plugin, name=str(name) if name else None)
            versions[plugin_name(manager, plugin)] = str(getattr(plugin, "version", ""))
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
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(str(exc)) from exc
    return Plugins(manager=manager, types=_collect_types(manager), names=versions)


def _collect_types(manager: pluggy.PluginManager) -> TypeRegistry:
    registry = TypeRegistry()
    for name, types in call_hook(manager, "register_content_types"):
        for ctype in types:
            if not isinstance(ctype, ContentType):
                raise RegistrationError(
                    f"plugin {name!r}: register_content_types returned {ctype!r}, not a ContentType"
                )
            registry.add(replace(ctype, plugin=name))
    registry.check_relations()
    return registry
