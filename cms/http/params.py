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
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from litestar.params import ParameterKwarg, QueryParameter

from cms.errors import InvalidParameter
from cms.schemas import SLUG_RE

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


def cursor(description: str = "`next_cursor` of the previous page.") -> ParameterKwarg:
    """The ``cursor`` query parameter: where the page starts (absent: the first page)."""
    return QueryParameter(description=description)


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


def reject_unknown(received: Sequence[str], accepted: Sequence[str]) -> None:
    """A 400 naming every query parameter the route does not accept.

    Raises:
        InvalidParameter: one error per unknown parameter.
    """
    unknown = sorted(set(received) - set(accepted))
    if unknown:
        reason = f"unknown query parameter (accepted: {', '.join(sorted(accepted))})"
        raise InvalidParameter(unknown[0], reason, more=[(n, reason) for n in unknown[1:]])


def split(name: str, raw: str | None, *, slugs: bool = True) -> list[str]:
    """Comma-separated values of one parameter (any of them matches).

    Raises:
        InvalidParameter: a value is not a slug, or there is none.
    """
    if raw is None:
        return []
    values = [v.strip() for v in raw.split(",") if v.strip()]
    for value in values:
        if slugs and not SLUG_RE.match(value):
            raise InvalidParameter(name, f"{value!r} is not a slug")
        if len(value) > 120:
            raise InvalidParameter(name, f"{value[:20]!r}... is longer than 120 characters")
    if not values:
        raise InvalidParameter(name, "is empty")
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


def parse_time(name: str, raw: str | None) -> dt.datetime | None:
    """An ISO 8601 date (midnight UTC) or date-time with a time zone.

    Raises:
        InvalidParameter: it is neither, or it has no time zone.
    """
    if raw is None:
        return None
    # An unescaped "+" of an offset arrives as a space.
    text = raw.strip().replace(" ", "+")
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=dt.UTC)
        value = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidParameter(
            name, "is not an ISO 8601 date or date-time, e.g. 2025-03-01 or 2025-03-01T09:00:00Z"
        ) from exc
    if value.tzinfo is None:
        raise InvalidParameter(name, "needs a time zone, e.g. `Z` for UTC")
    return value
