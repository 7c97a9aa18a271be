"""Internal links over HTTP: what links here and what is broken.

Routes: ``GET /api/v1/{type}/{slug}/backlinks`` and ``GET /api/v1/links/broken``.

Writes that would break links are refused with the problems of
:mod:`cms.http.problems` (:func:`~cms.http.problems.linked_from_published`,
:func:`~cms.http.problems.broken_links_problem`).
"""

# No `from __future__ import annotations`: Litestar evaluates the handlers'
# annotations, which refer to values local to `link_routes`.

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.contenttypes import ContentType, TypeRegistry
from cms.http import params
from cms.http.cache_headers import json_response, public_cache_control
from cms.http.json_text import encode_json
from cms.http.problems import error_responses, not_found
from cms.http.reading.entries import camel
from cms.reading.links import BrokenLink, LinkedEntry, backlinks, broken_links, published_id
from cms.schemas import Base
from cms.settings import Settings
from cms.syndication import cache_keys
from cms.urls import API

NOT_MODIFIED = ResponseSpec(
    None, description="Not modified: the `If-None-Match` ETag is current.", generate_examples=False
)


class Backlinks(Base):
    """A page of entries whose body links to an entry."""

    data: list[LinkedEntry]
    next_cursor: str | None = None


class BrokenLinks(Base):
    """A page of links from published entries to missing or unpublished ones."""

    data: list[BrokenLink]
    next_cursor: str | None = None


def link_routes(settings: Settings, types: TypeRegistry) -> list[HTTPRouteHandler]:
    """The backlinks route of each type and the broken-links route."""
    cache_control = public_cache_control(settings)
    routes = [_backlinks_route(ctype, cache_control) for ctype in types]

    @get(
        f"{API}/links/broken",
        operation_id="listBrokenLinks",
        summary="List broken internal links of published entries",
        description="Links in published entries' bodies to entries that do not exist or are "
        "not published (they render as plain text). By source type, slug and position.",
        tags=["Links"],
        responses={
            200: ResponseSpec(BrokenLinks, description="One page.", generate_examples=False),
            304: NOT_MODIFIED,
            **error_responses(http_400="A query parameter is invalid; `errors` names it."),
        },
    )
    async def broken_handler(
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        limit: Annotated[int, params.limit("1 to 100.")] = params.DEFAULT_LIMIT,
        cursor: params.Cursor = None,
    ) -> Response[bytes]:
        params.reject_unknown(list(request.query_params), params.PAGING)
        links, next_cursor = await broken_links(session, limit=limit, cursor=cursor)
        body = encode_json(BrokenLinks(data=links, next_cursor=next_cursor))
        keys = cache_keys.broken_links_keys(b.source.id for b in links)
        return json_response(request, body, cache_control=cache_control, surrogate_keys=keys)

    return [*routes, broken_handler]


def _backlinks_route(ctype: ContentType, cache_control: str) -> HTTPRouteHandler:
    @get(
        f"{API}/{ctype.plural}/{{slug:str}}/backlinks",
        operation_id=f"get{camel(ctype.name)}Backlinks",
        summary=f"List published entries that link to a {ctype.label.lower()}",
        description="Entries whose Markdown body links to this one (`cms:type/slug`), by title.",
        tags=[ctype.label],
        responses={
            200: ResponseSpec(Backlinks, description="One page.", generate_examples=False),
            304: NOT_MODIFIED,
            **error_responses(
                http_400="A query parameter is invalid; `errors` names it.",
                http_404="No published entry has this slug.",
            ),
        },
    )
    async def backlinks_handler(
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        slug: FromPath[str],
        limit: Annotated[int, params.limit("1 to 100.")] = params.DEFAULT_LIMIT,
        cursor: params.Cursor = None,
    ) -> Response[bytes]:
        params.reject_unknown(list(request.query_params), params.PAGING)
        target = await published_id(session, ctype.name, slug)
        if target is None:
            raise not_found(f"published {ctype.name} with slug {slug!r}")
        found, next_cursor = await backlinks(session, ctype.name, slug, limit=limit, cursor=cursor)
        body = encode_json(Backlinks(data=found, next_cursor=next_cursor))
        keys = cache_keys.backlinks_page_keys(target, (e.id for e in found))
        return json_response(request, body, cache_control=cache_control, surrogate_keys=keys)

    return backlinks_handler
