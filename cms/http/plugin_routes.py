"""Plugins' public GET routes, served the way the core serves its own reads.

A plugin writes the read (an async function of a :class:`PublicRead` and the
path's parameters, returning the body); :func:`public_get` makes it a route
that answers through the response cache (:mod:`cms.http.response_cache`): a session
is opened only when the cache misses, the body gets a strong ETag, a gzip
representation, ``Cache-Control`` from the settings, ``Vary`` and a
``Surrogate-Key`` naming every entry the read showed, and a matching
``If-None-Match`` a 304. Errors (``not_found``, an invalid parameter, an
unexpected exception) are the core's problem responses, never cached.

A cached body is valid until the next published change, or, when it names
no key, the next write, drafts included (:mod:`cms.syndication.purges`); a
read that finds its content through :attr:`PublicRead.session` names what
it shows with :meth:`PublicRead.shows` for CDNs. A route that shows anything
else than entries (a clock, another service) must not use this helper.
"""

from __future__ import annotations

import datetime as dt
import inspect
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.contenttypes import ContentType, TypeRegistry
from cms.editorial.entries import RelatedRow, read_entry_with_relations
from cms.http import params
from cms.http.cache_headers import PUBLIC_VARY, public_cache_control
from cms.http.json_text import encode_json
from cms.http.problems import error_responses
from cms.http.response_cache import cached_json
from cms.reading.listing import ListQuery, list_page
from cms.settings import Settings
from cms.syndication.cache_keys import entry_keys, list_key

_PATH_PARAM = re.compile(r"\{(?P<name>\w+)(?::(?P<kind>\w+))?\}")
_PATH_KINDS: Mapping[str, type] = {
    "str": str, "int": int, "float": float, "uuid": uuid.UUID, "date": dt.date,
}  # fmt: skip
_FROM_PATH: Any = FromPath  # indexed with a type known only when the route is built


@dataclass(frozen=True)
class ListResult:
    """One page of a list read: the entries as the API shows them, and the next cursor."""

    docs: list[dict[str, Any]]
    next_cursor: str | None


@dataclass
class PublicRead:
    """What a plugin's public read reads with; it notes every entry it shows.

    The entries it returns through :meth:`entry` and :meth:`list` are the
    published versions, shaped as the API's own detail and list responses
    show them; their ids (and those of the entries they name) become the
    response's ``Surrogate-Key``, so a CDN purges the page when one changes.

    Attributes:
        session: the read's database session (read only: nothing is committed).
        types: every registered content type.
        settings: the app's settings.
    """

    session: AsyncSession
    types: TypeRegistry
    settings: Settings
    surrogate_keys: list[str] = field(default_factory=list)
    """The response's ``Surrogate-Key``, in order; :meth:`shows` adds to it."""

    def shows(self, *keys: str) -> None:
        """Name more surrogate keys (``entry:<id>``, ``list:<type>``) the body depends on."""
        for key in keys:
            if key not in self.surrogate_keys:
                self.surrogate_keys.append(key)

    def _type(self, type_name: str) -> ContentType:
        ctype = self.types.get(type_name)
        if ctype is None:
            raise LookupError(f"no content type {type_name!r} is registered")
        return ctype

    def _shows_entries(
        self, docs: Sequence[Mapping[str, Any]], related: Sequence[RelatedRow]
    ) -> None:
        self.shows(*entry_keys(str(d["id"]) for d in docs))
        self.shows(*entry_keys(str(r.target_id) for r in related))

    async def entry(self, type_name: str, slug: str) -> dict[str, Any] | None:
        """The published entry of ``type_name`` with ``slug``, as its detail shows it; or None."""
        found = await read_entry_with_relations(self.session, self._type(type_name), slug)
        if found is None:
            # Purged when an entry of the type is published, as it may be this one.
            self.shows(list_key(type_name))
            return None
        doc, related = found
        self._shows_entries([doc], related)
        return doc

    async def list(self, type_name: str, query: ListQuery | None = None) -> ListResult:
        """One page of the published entries of ``type_name``, as its list shows them.

        Args:
            query: filters, sort, limit and cursor, as the type's list takes
                them (:class:`cms.reading.listing.ListQuery`); the first 20
                in the type's default order when omitted.
        """
        ctype = self._type(type_name)
        page = await list_page(self.session, ctype, query or ListQuery(sort=ctype.default_sort))
        self.shows(list_key(ctype.name))
        self._shows_entries(page.docs, page.related)
        return ListResult(docs=page.docs, next_cursor=page.next_cursor)


PublicReadFunction = Callable[..., Awaitable[Any]]
"""A plugin's read: ``async def read(public: PublicRead, **parameters) -> body``."""


def _path_parameters(path: str) -> list[inspect.Parameter]:
    out = []
    for match in _PATH_PARAM.finditer(path):
        kind = match.group("kind") or "str"
        if kind not in _PATH_KINDS:
            raise ValueError(
                f"path {path!r}: parameter type {kind!r} is not one of {', '.join(_PATH_KINDS)}"
            )
        out.append(params.plain(match.group("name"), _FROM_PATH[_PATH_KINDS[kind]]))
    return out


def public_get(
    path: str,
    *,
    operation_id: str,
    summary: str,
    description: str | None = None,
    response: Any = None,
    response_description: str = "The resource.",
    errors: Mapping[int, str] | None = None,
    query: Mapping[str, str] | None = None,
    tags: Sequence[str] = (),
) -> Callable[[PublicReadFunction], HTTPRouteHandler]:
    """Make a plugin's read a public GET route served through the response cache.

    ``read(public_read, **parameters)`` gets the path's parameters (typed as
    the path says: ``{slug:str}``, ``{n:int}``) and the declared ``query``
    parameters (strings, None when absent) by name, and returns the body: any
    value msgspec encodes (a Struct, a dict). It runs only when the cache has
    no body for this URL at the current content generation. Raise
    :func:`cms.http.problems.not_found` (or any error the core answers as a
    problem) to answer an error; errors are never cached.

    Args:
        path: the route, under ``/api/v1/``.
        operation_id: the operation's id in the OpenAPI document (``listClinicWorkshops``).
        summary: one line for the API documentation.
        description: more for the API documentation.
        response: the type of the body, for the API documentation (a Struct).
        response_description: what the 200 response is, for the API documentation.
        errors: the problem responses the read may give besides 400, 500 and
            503, by status: ``{404: "No such clinic."}``.
        query: the query parameters the route takes, name to description;
            any other is refused with a 400 problem naming it.
        tags: the OpenAPI tags of the operation.

    Returns:
        A decorator turning the read into a Litestar route handler, to return
        from ``register_routes``.
    """
    path_params = _path_parameters(path)
    query_params = [
        params.query(name, str | None, None, text) for name, text in (query or {}).items()
    ]
    accepted = [params.url_name(p) for p in query_params]
    responses: dict[int, ResponseSpec] = {
        200: ResponseSpec(response, description=response_description, generate_examples=False),
        304: ResponseSpec(
            None,
            description="Not modified: the `If-None-Match` ETag is current.",
            generate_examples=False,
        ),
        **error_responses(
            http_400="A query parameter is invalid; `errors` names it.",
            **{f"http_{status}": text for status, text in (errors or {}).items()},
        ),
    }

    def decorate(read: PublicReadFunction) -> HTTPRouteHandler:
        async def handler(request: Request[Any, Any, Any], **arguments: Any) -> Response[bytes]:
            params.reject_unknown(list(request.query_params), accepted)
            services = request.app.state.services

            async def build() -> tuple[bytes, list[str]]:
                async with services.sessions() as session:
                    public = PublicRead(session, services.plugins.types, services.settings)
                    body = await read(public, **arguments)
                return encode_json(body), public.surrogate_keys

            return await cached_json(
                request,
                services.cache,
                build,
                cache_control=public_cache_control(services.settings),
                vary=PUBLIC_VARY,
            )

        handler.__name__ = handler.__qualname__ = getattr(read, "__name__", operation_id)
        handler.__doc__ = read.__doc__
        params.with_signature(
            handler,
            [params.plain("request", Request[Any, Any, Any]), *path_params, *query_params],
            Response[bytes],
        )
        return get(
            path,
            operation_id=operation_id,
            summary=summary,
            description=description,
            tags=list(tags) or None,
            responses=responses,
        )(handler)

    return decorate
