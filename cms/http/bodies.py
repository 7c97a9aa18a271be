"""Request bodies: decoded and validated by us, so that every bad field is a 422 naming it.

Litestar would validate a ``data`` parameter itself and answer 400 with the
first error only; write routes read the raw body instead, and document its
schema with :func:`cms.http.operations.documented`.

Every body is decoded here, so the limits on JSON hold for every route: a
body nested deeper than :data:`MAX_JSON_DEPTH` arrays and objects is a 400
before anything reads it (the decoder, merging a patch and validating a body
all recurse once per level, and Python's recursion limit was a 500), and a
route whose body is required (``json_body(required=True)``, documented so)
refuses an empty one.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request

from cms.editorial.validation import field_error
from cms.errors import InvalidInput
from cms.http.problems import PROBLEM_BASE, ProblemError, ProblemException

T = TypeVar("T")
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
MAX_JSON_DEPTH = 64
"""How deep arrays and objects may nest in a request body (``[[1]]`` is 2 deep).
An entry's fields nest a few levels deep; a deeper body is a 400."""
BAD_BODY = f"The body is missing, is not JSON, or nests deeper than {MAX_JSON_DEPTH} levels."
"""What a 400 of a route whose body is required means (for its ``error_responses``)."""
BAD_OPTIONAL_BODY = f"The body is not JSON, or nests deeper than {MAX_JSON_DEPTH} levels."
"""What a 400 of a route whose body is optional means."""


def bad_json(detail: str, reason: str | None = None) -> ProblemException:
    """A 400: the body is not JSON at all, or not JSON this API reads."""
    return ProblemException(
        400,
        "Invalid request body",
        detail=detail,
        type_=PROBLEM_BASE + "invalid-body",
        errors=[ProblemError(name="(body)", reason=reason or detail, location="body")],
    )


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays and objects nest more than ``limit`` deep in ``value`` (without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def whole_numbers(value: Any) -> Any:
    """``value`` with each integral float (``3.0``) as an int (``3``), in place.

    JSON has one number type, and JSON Schema's ``integer`` is any number with
    no fraction, so ``"expires_in": 3600.0`` is what the document allows; a
    float field still takes the int.
    """
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    stack: list[Any] = [value] if isinstance(value, (dict, list)) else []
    while stack:
        item = stack.pop()
        keys: Any = item.keys() if isinstance(item, dict) else range(len(item))
        for key in keys:
            child = item[key]
            if isinstance(child, float) and child.is_integer():
                item[key] = int(child)
            elif isinstance(child, (dict, list)):
                stack.append(child)
    return value


def holds_nul(value: Any) -> bool:
    """Whether a string in ``value`` (a key included) holds U+0000, which no text
    the API stores may (PostgreSQL's text cannot)."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


async def json_body(
    request: Request[Any, Any, Any],
    *,
    media_types: tuple[str, ...] = (JSON,),
    empty: Any = None,
    required: bool = False,
) -> Any:
    """The request body as JSON, ``empty`` when there is none.

    Args:
        required: refuse an empty body (the operation documents its body as required).

    Raises:
        ProblemException: 415 for another media type; 400 for malformed JSON,
            JSON nested deeper than :data:`MAX_JSON_DEPTH`, or no body where
            one is required.
    """
    raw = await request.body()
    if not raw.strip():
        if required:
            raise bad_json(
                f"This request needs a body: send it as {' or '.join(media_types)}.",
                "is missing",
            )
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
    deep = bad_json(
        f"The body nests arrays and objects more than {MAX_JSON_DEPTH} deep.",
        f"nests more than {MAX_JSON_DEPTH} deep",
    )
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise bad_json(f"The body is not valid JSON: {exc}") from exc
    except RecursionError as exc:  # the decoder's own limit, far deeper than ours
        raise deep from exc
    if too_deep(value):
        raise deep
    if value is None:  # not the same as no body: every body is an object
        raise bad_json("The body is JSON `null`: send an object.", "is null")
    if holds_nul(value):
        raise bad_json(
            "A string in the body holds a NUL character (U+0000), which no text may.",
            "holds a NUL character (U+0000)",
        )
    return whole_numbers(value)


def convert_body(raw: Any, struct: type[T]) -> T:
    """Validate a decoded body against ``struct``.

    Raises:
        InvalidInput: naming the bad field (a 422).
    """
    try:
        return msgspec.convert({} if raw is None else raw, struct)
    except msgspec.ValidationError as exc:
        raise InvalidInput([field_error(exc)]) from exc
