"""``GET /api/v1/search``: ranked full-text search across every content type."""

# No `from __future__ import annotations`: Litestar evaluates the handler's
# annotations, which refer to values local to `search_routes`.

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.contenttypes import TypeRegistry
from cms.http import params
from cms.http.cache_headers import PUBLIC_VARY, public_cache_control
from cms.http.json_text import encode_json
from cms.http.problems import error_responses
from cms.http.response_cache import ResponseCache, cached_json
from cms.reading.search import MAX_QUERY_LENGTH, SearchQuery, SearchResults, search
from cms.settings import Settings
from cms.syndication import cache_keys
from cms.urls import API

ACCEPTED = ("q", "type", "clinic", *params.PAGING)
SYNTAX = (
    "Words match words that start with them (`sciatic` finds Sciatica), after "
    'stemming; `"quoted phrases"` match exactly; every word and phrase must match. '
    "Other characters are ignored: a query of only punctuation finds nothing."
)


def search_routes(
    settings: Settings,
    types: TypeRegistry,
    cache: ResponseCache,
    sessions: async_sessionmaker[AsyncSession],
) -> list[HTTPRouteHandler]:
    """The search handler, for the types registered in this app.

    Search reads published versions only, the same for every caller, so its
    answers go through the response cache like public lists.
    """
    cache_control = public_cache_control(settings)
    type_names = [t.name for t in types]

    @get(
        f"{API}/search",
        operation_id="search",
        summary="Search published entries of every type",
        description="Ranked hits, best first, each with a highlighted snippet. " + SYNTAX,
        tags=["Search"],
        responses={
            200: ResponseSpec(SearchResults, description="One page of hits.",
                              generate_examples=False),
            304: ResponseSpec(None, description="Not modified: the `If-None-Match` ETag is "
                              "current.", generate_examples=False),
            **error_responses(http_400="A query parameter is invalid; `errors` names it."),
        },
    )  # fmt: skip
    async def search_handler(
        request: Request[Any, Any, Any],
        q: Annotated[str, QueryParameter(max_length=MAX_QUERY_LENGTH, description=SYNTAX)],
        type_: Annotated[
            str | None,
            QueryParameter(
                name="type",
                description=f"Type names, comma-separated (of: {', '.join(type_names)}).",
                schema_extra=params.list_schema(names=type_names),
            ),
        ] = None,
        clinic: Annotated[
            str | None,
            QueryParameter(
                description="Clinic slugs the entries appear on, comma-separated.",
                schema_extra=params.list_schema(),
            ),
        ] = None,
        limit: Annotated[int, params.limit("Hits per page, 1 to 100.")] = params.DEFAULT_LIMIT,
        cursor: params.Cursor = None,
    ) -> Response[bytes]:
        params.reject_unknown(list(request.query_params), ACCEPTED)
        wanted = params.type_names("type", type_, type_names)
        query = SearchQuery(
            q=q, types=wanted, clinics=params.split("clinic", clinic), limit=limit, cursor=cursor
        )

        async def build() -> tuple[bytes, list[str]]:
            async with sessions() as session:
                hits, next_cursor = await search(session, query)
            body = encode_json(SearchResults(data=hits, next_cursor=next_cursor))
            return body, cache_keys.search_keys(hit.id for hit in hits)

        # The same answer whoever asks: it varies with the coding only.
        return await cached_json(
            request, cache, build, cache_control=cache_control, vary=PUBLIC_VARY
        )

    return [search_handler]
