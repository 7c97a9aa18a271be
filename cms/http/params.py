"""Query parameters: the paging ones every list shares, those that differ by type, parsing.

Every paged list takes ``limit`` and ``cursor``, declared here once
(:func:`limit`, :data:`Cursor`); a handler names them and says what a page holds.

A type declares its own list filters (conditions: ``parent``; practitioners:
``modality``) and names the types it relates to (``fields[practitioner]``).
Litestar learns a handler's parameters from its signature, so the entry
routes build one per type: the OpenAPI document then lists exactly the
parameters each route accepts, and Litestar validates their types.
"""

from __future__ import annotations

import datetime as dt
import inspect
import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Request
from litestar.params import ParameterKwarg, QueryParameter

from cms.errors import InvalidParameter
from cms.schemas import SLUG_MAX_LENGTH, SLUG_RE, Moment

F = TypeVar("F", bound=Callable[..., Any])

# --- Paging: limit and cursor ---------------------------------------------------------

MAX_LIMIT = 100
"""The most items a page of a list holds (the change feed's pages are larger)."""
DEFAULT_LIMIT = 20
"""The items a page holds when ``limit`` is not given."""
PAGING = ("limit", "cursor")
"""The query parameters of a list that takes nothing else."""


def limit(description: str, *, most: int = MAX_LIMIT) -> ParameterKwarg:
    """The ``limit`` query parameter: items per page, 1 to ``most``.

    Use it as ``Annotated[int, params.limit("Hits per page, 1 to 100.")] = DEFAULT_LIMIT``.
    """
    return QueryParameter(ge=1, le=most, description=description)


CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$(?!\n)"
"""What every cursor the API issues looks like (unpadded base64url); the document says so."""


def cursor(description: str = "`next_cursor` of the previous page.") -> ParameterKwarg:
    """The ``cursor`` query parameter: where the page starts (absent: the first page).

    Opaque: only a cursor the API issued is accepted; any other is a 400.
    """
    return QueryParameter(description=description, schema_extra={"pattern": CURSOR_PATTERN})


Limit = Annotated[int, limit(f"Items per page, 1 to {MAX_LIMIT}.")]
"""The ``limit`` parameter of a list of entries; its default is :data:`DEFAULT_LIMIT`."""
Cursor = Annotated[str | None, cursor()]
"""The ``cursor`` parameter of a list that answers ``next_cursor``; its default is None."""


def query(
    name: str, annotation: Any, default: Any, description: str, *, alias: str | None = None,
    **constraints: Any,
) -> inspect.Parameter:  # fmt: skip
    """One query parameter: ``name`` in Python, ``alias`` (or ``name``) in the URL."""
    spec = QueryParameter(name=alias, description=description, **constraints)
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default,
        annotation=Annotated[annotation, spec],
    )  # fmt: skip


def plain(name: str, annotation: Any) -> inspect.Parameter:
    """A parameter Litestar provides (the request, a dependency)."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)


def declared(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    """A query parameter declared here as an ``Annotated`` type (:data:`Limit`, :data:`Cursor`)."""
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def url_name(parameter: inspect.Parameter) -> str:
    """The name a parameter has in the query string."""
    for meta in getattr(parameter.annotation, "__metadata__", ()):
        if isinstance(meta, ParameterKwarg) and meta.name:
            return meta.name
    return parameter.name


def with_signature(fn: F, parameters: Sequence[inspect.Parameter], returns: Any) -> F:
    """Give ``fn`` (which takes ``**kwargs``) the signature Litestar should read."""
    fn.__signature__ = inspect.Signature(list(parameters), return_annotation=returns)  # type: ignore[attr-defined]
    fn.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": returns}
    return fn


NUL = "\x00"
"""No text the API stores or looks up may hold it: PostgreSQL's text cannot."""


def refuse_nul(request: Request[Any, Any, Any]) -> None:
    """A ``before_request`` hook: a 400 for a path or query value holding U+0000.

    Raises:
        InvalidParameter: naming the query parameter, or ``(path)``.
    """
    if NUL in request.url.path:
        raise InvalidParameter("(path)", "holds a NUL character (U+0000)")
    bad = sorted({k for k, v in request.query_params.multi_items() if NUL in k or NUL in v})
    if bad:
        reason = "holds a NUL character (U+0000)"
        raise InvalidParameter(bad[0], reason, more=[(n, reason) for n in bad[1:]])


def reject_unknown(received: Sequence[str], accepted: Sequence[str]) -> None:
    """A 400 naming every query parameter the route does not accept.

    Raises:
        InvalidParameter: one error per unknown parameter.
    """
    unknown = sorted(set(received) - set(accepted))
    if unknown:
        reason = f"unknown query parameter (accepted: {', '.join(sorted(accepted))})"
        raise InvalidParameter(unknown[0], reason, more=[(n, reason) for n in unknown[1:]])


# --- Comma-separated values --------------------------------------------------------
# `a,b`: one value or more, each between commas as it is (no space around it, no
# empty one). The document states each such parameter's exact grammar as a
# pattern (:func:`list_schema`), and :func:`split` refuses what it refuses.

MAX_VALUE_LENGTH = SLUG_MAX_LENGTH
"""The longest value of a comma-separated parameter (a slug's most)."""
_SLUG_VALUE = (
    rf"(?=[a-z0-9-]{{1,{MAX_VALUE_LENGTH}}}(?:,|$))"  # at most 120 characters up to the comma
    r"[a-z0-9]+(?:-[a-z0-9]+)*"
)
_TEXT_VALUE = rf"[^,]{{1,{MAX_VALUE_LENGTH}}}"
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def list_pattern(value: str) -> str:
    """The pattern of comma-separated values that each match ``value`` (a regex)."""
    # `(?!\n)`: in Python, `$` also matches before a final newline.
    return rf"^(?:{value})(?:,(?:{value}))*$(?!\n)"


SLUG_VALUE_PATTERN = rf"^{_SLUG_VALUE}$(?!\n)"
"""One slug of at most 120 characters."""
SLUG_LIST_PATTERN = list_pattern(_SLUG_VALUE)
TEXT_LIST_PATTERN = list_pattern(_TEXT_VALUE)


def names_pattern(names: Sequence[str]) -> str:
    """The pattern of comma-separated values that are each one of ``names``."""
    assert names, "a list of no names"
    assert all(_NAME.match(n) for n in names), names
    return list_pattern("|".join(sorted(names, key=len, reverse=True)))


def list_schema(*, slugs: bool = True, names: Sequence[str] | None = None) -> dict[str, Any]:
    """The ``schema_extra`` of a comma-separated parameter: slugs, free values, or ``names``."""
    if names is not None:
        return {"pattern": names_pattern(names)}
    return {"pattern": SLUG_LIST_PATTERN if slugs else TEXT_LIST_PATTERN}


def split(name: str, raw: str | None, *, slugs: bool = True) -> list[str]:
    """Comma-separated values of one parameter (any of them matches), as the document
    says them (:func:`list_schema`).

    Raises:
        InvalidParameter: a value is empty, too long or (``slugs``) not a slug.
    """
    if raw is None:
        return []
    values = raw.split(",")
    for value in values:
        if not value:
            raise InvalidParameter(name, "has an empty value (`a,b`: no space, no empty one)")
        if len(value) > MAX_VALUE_LENGTH:
            raise InvalidParameter(
                name, f"{value[:20]!r}... is longer than {MAX_VALUE_LENGTH} characters"
            )
        if slugs and not SLUG_RE.match(value):
            raise InvalidParameter(name, f"{value!r} is not a slug")
    return values


def type_names(name: str, raw: str | None, known: Sequence[str]) -> list[str]:
    """Comma-separated content type names, each one of ``known``.

    Raises:
        InvalidParameter: a value is not a slug, or not a type of this app.
    """
    wanted = split(name, raw)
    unknown = [t for t in wanted if t not in known]
    if unknown:
        raise InvalidParameter(
            name, f"{unknown[0]!r} is not a content type (of: {', '.join(known)})"
        )
    return wanted


TIME_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]
}
"""The ``schema_extra`` of a time parameter: an RFC 3339 date, or a date-time with its zone."""


def parse_time(name: str, raw: str | None) -> dt.datetime | None:
    """An RFC 3339 date (midnight UTC) or date-time with its zone (:data:`TIME_SCHEMA`).

    A ``+`` of an offset sent unescaped arrives as a space, and is read as ``+``.

    Raises:
        InvalidParameter: it is neither.
    """
    if raw is None:
        return None
    text = raw.replace(" ", "+")
    try:
        if len(text) == len("2025-03-01"):
            day = msgspec.convert(text, dt.date)
            return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        return msgspec.convert(text, Moment)
    except msgspec.ValidationError as exc:
        raise InvalidParameter(
            name,
            "is not an RFC 3339 date or date-time with a zone, "
            "e.g. 2025-03-01 or 2025-03-01T09:00:00Z",
        ) from exc
