"""Every schema in the OpenAPI document keeps its name: a clash fails start-up.

Litestar names a component schema after its class (``Seo``). When two
different classes share that name, it renames both after their modules
(``cms_schemas_Seo``, ``my_plugin_Seo``): a plugin declaring a Struct
called ``Seo``, or a type labelled ``Article``, would rename the core's
schemas, and every client generated from the document would break. So the
app refuses to start instead, naming the plugins, before Litestar gets to
rename anything. The names of the core's own schemas never change.

The walk follows what Litestar documents: each route's return type, request
body and declared responses, every content type's Struct and the response
fields plugins add, and everything they contain.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import typing
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

from cms.contenttypes import RegistrationError, TypeRegistry
from cms.http.reading.entries import output_structs

CORE = "cms"
"""The owner of the core's own routes."""
TYPE_SCHEMAS_MODULE = output_structs.__module__
"""Where each type's response Structs are built (named after the type's label)."""
_PARAM = re.compile(r"\{[^}]*\}")
_INVALID = re.compile(r"[^a-zA-Z0-9._-]+")


def schema_name(cls: type) -> str:
    """The component name Litestar gives ``cls`` when no other class shares it."""
    return _INVALID.sub("_", cls.__qualname__.replace(".<locals>.", "."))


def _is_component(value: Any) -> bool:
    return isinstance(value, type) and (
        issubclass(value, (msgspec.Struct, enum.Enum))
        or dataclasses.is_dataclass(value)
        or typing.is_typeddict(value)
    )


def _members(cls: type) -> list[Any]:
    """The annotations of the fields of ``cls``, a Struct, dataclass or TypedDict."""
    if issubclass(cls, msgspec.Struct):
        return [f.type for f in msgspec.structs.fields(cls)]
    if issubclass(cls, enum.Enum):
        return []
    try:
        return list(typing.get_type_hints(cls, include_extras=True).values())
    except Exception:  # a name only its own module can resolve: Litestar resolves it, or fails
        return []


def collect(annotations: Iterable[Any], owner: str, found: dict[type, str]) -> None:
    """Add every class ``annotations`` name (nested ones included) to ``found``, with ``owner``.

    A class already found keeps its first owner.
    """
    stack = list(annotations)
    while stack:
        value = stack.pop()
        if _is_component(value):
            if value not in found:
                found[value] = owner
                stack.extend(_members(value))
            continue
        if typing.get_origin(value) is typing.Literal:
            continue
        stack.extend(a for a in typing.get_args(value) if not isinstance(a, (str, int, bool)))


def _handler_annotations(handler: HTTPRouteHandler) -> list[Any]:
    signature = handler.parsed_fn_signature
    out: list[Any] = [signature.return_type.annotation]
    if "data" in signature.parameters:
        out.append(signature.parameters["data"].annotation)
    out.extend(spec.data_container for spec in (handler.responses or {}).values())
    return out


def documented_classes(
    app: Litestar, types: TypeRegistry, route_owners: Mapping[str, Sequence[str]]
) -> dict[type, str]:
    """Every class the app's OpenAPI document describes, with the plugin it belongs to.

    Args:
        types: the app's content types (their Structs, and the response
            fields plugins add to them, are owned by the plugins that
            registered them).
        route_owners: the route keys (``GET /path``) each plugin serves, as
            :func:`cms.plugin_manager.check_routes` returns them.
    """
    found: dict[type, str] = {}
    # What plugins declare first: a Struct reached through another's route
    # (a response field on an article) still belongs to its plugin.
    for ctype in types:
        # The Struct itself is never documented (its fields are, in the
        # type's response schemas): only what it contains.
        collect(_members(ctype.fields), ctype.plugin, found)
        for rfield in ctype.response_fields:
            collect([rfield.schema], rfield.plugin, found)
    owner_of = {
        _PARAM.sub("{}", key): owner for owner, keys in route_owners.items() for key in keys
    }
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.include_in_schema:
                continue
            methods = sorted(handler.http_methods)
            owner = next(
                (
                    o
                    for m in methods
                    if (o := owner_of.get(f"{m} {_PARAM.sub('{}', route.path)}")) is not None
                ),
                CORE,
            )
            collect(_handler_annotations(handler), owner, found)
    return found


def check_schema_names(
    app: Litestar, types: TypeRegistry, route_owners: Mapping[str, Sequence[str]]
) -> None:
    """Fail when two different classes would be documented under one schema name.

    Takes the arguments of :func:`documented_classes`.

    Raises:
        RegistrationError: naming the schema, both classes and their plugins.
    """
    found = documented_classes(app, types, route_owners)
    # Litestar takes classes of one module and name for one schema, silently:
    # the entry routes build a type's response Structs more than once, all
    # one schema. Of two plugins, though (two types of one label, two
    # plugins' classes of one name in one module), they are a clash too.
    by_name: dict[str, dict[tuple[str, str], type]] = defaultdict(dict)
    for cls in found:
        by_name[schema_name(cls)].setdefault((cls.__module__, found[cls]), cls)
    for name, classes in sorted(by_name.items()):
        if len(classes) > 1:
            named = " and ".join(_describe(cls, found[cls]) for cls in classes.values())
            raise RegistrationError(
                f"schema name {name!r} is taken twice in the OpenAPI document: by {named}; "
                "a plugin's schemas (its Structs, and its types' labels) must not reuse a "
                "name the core or another plugin documents"
            )


def _describe(cls: type, owner: str) -> str:
    module = cls.__module__
    if module == TYPE_SCHEMAS_MODULE:
        return f"the responses of a type of plugin {owner!r}"
    core = module == "cms" or module.startswith("cms.")
    return f"{module}.{cls.__qualname__} ({'the core' if core else f'plugin {owner!r}'})"
