"""Request bodies: decoded and validated by us, so that every bad field is a 422 naming it.

Litestar would validate a ``data`` parameter itself and answer 400 with the
first error only; write routes read the raw body instead, and document its
schema with :func:`body_operation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar, cast

import msgspec
from litestar import Request
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema

from cms.editorial.validation import field_error
from cms.errors import InvalidInput
from cms.http.problems import PROBLEM_BASE, ProblemError, ProblemException

T = TypeVar("T")
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"


def bad_json(detail: str) -> ProblemException:
    """A 400: the body is not JSON at all."""
    return ProblemException(
        400,
        "Invalid request body",
        detail=detail,
        type_=PROBLEM_BASE + "invalid-body",
        errors=[ProblemError(name="(body)", reason=detail, location="body")],
    )


async def json_body(
    request: Request[Any, Any, Any], *, media_types: tuple[str, ...] = (JSON,), empty: Any = None
) -> Any:
    """The request body as JSON, ``empty`` when there is none.

    Raises:
        ProblemException: 415 for another media type, 400 for malformed JSON.
    """
    raw = await request.body()
    if not raw.strip():
        return empty
    media_type = request.headers.get("content-type", JSON).split(";")[0].strip().lower()
    if media_type not in media_types:
        raise ProblemException(
            415,
            "Unsupported media type",
            detail=f"Send the body as {' or '.join(media_types)}.",
            type_=PROBLEM_BASE + "unsupported-media-type",
            errors=[ProblemError(name="Content-Type", reason=media_type, location="header")],
        )
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise bad_json(f"The body is not valid JSON: {exc}") from exc


def convert_body(raw: Any, struct: type[T]) -> T:
    """Validate a decoded body against ``struct``.

    Raises:
        InvalidInput: naming the bad field (a 422).
    """
    try:
        return msgspec.convert({} if raw is None else raw, struct)
    except msgspec.ValidationError as exc:
        raise InvalidInput([field_error(exc)]) from exc


def body_operation(
    struct: type[msgspec.Struct], *, media_type: str = JSON, required: bool = True
) -> type[Operation]:
    """An OpenAPI operation class that documents ``struct`` as the request body.

    Nested Structs are referenced as components, which Litestar generates from
    the response schemas that use the same Structs.
    """
    (_ref,), components = msgspec.json.schema_components(
        [struct], ref_template="#/components/schemas/{name}"
    )
    schema = cast(Schema, components[struct.__name__])
    body = RequestBody(
        content={media_type: OpenAPIMediaType(schema=schema)},
        required=required,
        description=struct.__doc__.strip().splitlines()[0] if struct.__doc__ else None,
    )

    @dataclass
    class WithBody(Operation):
        def __post_init__(self) -> None:
            self.request_body = body

    return WithBody
