"""What an operation's OpenAPI entry says that Litestar cannot read from its handler.

Write routes read their body themselves (:mod:`cms.http.bodies`), so that every
bad field is a 422 naming it, and check ``If-Match`` themselves
(:mod:`cms.http.preconditions`), so that a missing one is a 428 rather than
Litestar's 400. Neither is in the handler's signature, so :func:`documented`
declares them: the body's schema and media types, and ``If-Match`` as a
required header (the shared parameter :data:`IF_MATCH`).

``If-None-Match`` is honoured by a middleware on every GET
(:func:`cms.http.cache_headers.conditional_get`), whoever declared the route,
so :func:`declare_conditional_gets` declares it, with its 304, on every GET
operation of the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import msgspec
from litestar import Litestar
from litestar.enums import ParamType
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    RequestBody,
    Schema,
)
from litestar.routes import HTTPRoute

from cms.http.bodies import JSON
from cms.http.preconditions import IF_MATCH_PATTERN

IF_MATCH = "IfMatch"
"""The name of the shared ``If-Match`` parameter among the document's components."""
IF_NONE_MATCH = "IfNoneMatch"
"""The name of the shared ``If-None-Match`` parameter among the document's components."""
PARAMETERS: dict[str, Parameter | Reference] = {
    IF_MATCH: Parameter(
        name="If-Match",
        param_in=ParamType.HEADER,
        required=True,
        schema=Schema(type=OpenAPIType.STRING, pattern=IF_MATCH_PATTERN),
        description="The strong ETag of the entry's working copy as `GET` answered it to a "
        'token (`"…"`), or `*` for whatever it is now. Missing: 428; not an ETag: 400; '
        "stale: 412, whose problem carries the entry as it is now.",
    ),
    IF_NONE_MATCH: Parameter(
        name="If-None-Match",
        param_in=ParamType.HEADER,
        required=False,
        schema=Schema(type=OpenAPIType.STRING),
        description="ETags the client holds (`*`: any); when one is the response's, the "
        "answer is 304 with no body.",
    ),
}
"""The shared parameters, for the document's components."""
NOT_MODIFIED = "Not modified: the `If-None-Match` ETag is current."


_LOCAL_REF = "#/msgspec/"
"""Where msgspec's references to the body's nested schemas point, until they are inlined."""


def _inlined(schema: Any, components: dict[str, Any]) -> Any:
    """``schema`` with each nested schema written in place of its reference.

    A body's nested Structs (an entry's ``seo``) are written out as msgspec
    reads them (unknown fields refused, every item's constraint), not as the
    response components Litestar makes of the same classes, which say less.
    """
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(_LOCAL_REF):
            target = _inlined(components[ref.removeprefix(_LOCAL_REF)], components)
            rest = {k: _inlined(v, components) for k, v in schema.items() if k != "$ref"}
            return {**target, **rest}
        return {k: _inlined(v, components) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_inlined(item, components) for item in schema]
    return schema


def struct_schema(
    struct: type[msgspec.Struct], ref_template: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """msgspec's schema of ``struct`` and the components its references name.

    The schema is found by the name msgspec gave it: a plugin's Struct that
    shares a core one's name is renamed here (and refused later, naming the
    plugin: :func:`cms.http.schema_names.check_schema_names`).
    """
    (ref,), components = msgspec.json.schema_components([struct], ref_template=ref_template)
    return components[ref["$ref"].rsplit("/", 1)[1]], components


def _ref(name: str) -> Reference:
    return Reference(ref=f"#/components/parameters/{name}")


def documented(
    body: type[msgspec.Struct] | None = None,
    *,
    media_types: tuple[str, ...] = (JSON,),
    required: bool = True,
    if_match: bool = False,
) -> type[Operation]:
    """An OpenAPI operation class that documents what the handler reads itself.

    Args:
        body: the request body's Struct, documented with ``media_types``;
            nested Structs are referenced as components, which Litestar
            generates from the response schemas that use the same Structs.
        required: whether the handler refuses a request without a body
            (``json_body(required=True)``).
        if_match: the handler requires ``If-Match`` (``if_match_header``).
    """
    request_body = None
    if body is not None:
        own, components = struct_schema(body, _LOCAL_REF + "{name}")
        schema = cast(Schema, _inlined(own, components))
        request_body = RequestBody(
            content={media_type: OpenAPIMediaType(schema=schema) for media_type in media_types},
            required=required,
            description=body.__doc__.strip().splitlines()[0] if body.__doc__ else None,
        )

    @dataclass
    class Documented(Operation):
        def __post_init__(self) -> None:
            if request_body is not None:
                self.request_body = request_body
            if if_match:
                self.parameters = [*(self.parameters or []), _ref(IF_MATCH)]

    return Documented


def _conditional(base: type[Operation]) -> type[Operation]:
    if getattr(base, "conditional_get", False):  # one handler may serve several routes
        return base

    @dataclass
    class Conditional(base):  # type: ignore[valid-type,misc]
        conditional_get = True

        def __post_init__(self) -> None:
            post_init = getattr(super(), "__post_init__", None)
            if post_init is not None:
                post_init()
            operation: Operation = self
            operation.parameters = [*(operation.parameters or []), _ref(IF_NONE_MATCH)]
            responses = operation.responses if operation.responses is not None else {}
            responses.setdefault("304", OpenAPIResponse(description=NOT_MODIFIED))
            operation.responses = responses

    return Conditional


def declare_conditional_gets(app: Litestar) -> None:
    """Declare ``If-None-Match`` and its 304 on every GET operation of ``app``.

    Called once the routes are registered and before the document is built
    (Litestar builds it on first use), so plugins' GET routes are included.
    """
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if "GET" in handler.http_methods:
                handler.operation_class = _conditional(handler.operation_class)
