"""List and detail routes, built for each registered content type.

Each type gets its own handlers so that the OpenAPI document names its
operations (``listArticles``, ``getArticle``) and describes its own fields.
"""

# No `from __future__ import annotations` here: the handlers below are built
# per type, and Litestar must evaluate their annotations, which refer to
# values local to `entry_routes` (the sort options of the type).

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.api.caching import json_response
from cms.api.problems import error_responses, not_found
from cms.contenttypes import ContentType
from cms.schemas import (
    DETAIL_ONLY_FIELDS,
    SLUG_RE,
    EntryRef,
    Seo,
    Status,
    TocItem,
)
from cms.services.entries import read_entry
from cms.services.listing import FILTERS, InvalidParameter, ListQuery, list_entries
from cms.settings import Settings

API = "/api/v1"
MAX_LIMIT = 100
_encoder = msgspec.json.Encoder()


def camel(plural: str) -> str:
    """``case-stories`` -> ``CaseStories``, for operation ids."""
    return "".join(part.capitalize() for part in plural.split("-"))


def output_structs(ctype: ContentType) -> tuple[type[msgspec.Struct], type[msgspec.Struct]]:
    """Structs describing the response objects of ``ctype``: detail and list item.

    They document the API (OpenAPI); the bodies themselves are pre-encoded.
    """
    common: list[tuple[str, Any]] = [
        ("id", str),
        ("type", str),
        ("slug", str),
        ("title", str),
        ("summary", str),
        ("status", Status),
        ("clinics", list[str]),
        ("origin_clinic", str | None),
        ("canonical_url", str | None),
        ("tags", list[str]),
        ("seo", Seo),
        ("published_at", dt.datetime | None),
        ("created_at", dt.datetime),
        ("updated_at", dt.datetime),
        ("version", int),
        ("reviewed_by", EntryRef | None),
        ("last_reviewed", dt.date | None),
        ("body", str),
        ("body_html", str),
        ("toc", list[TocItem]),
        ("reading_time_minutes", int),
        ("links", list[str]),
    ]
    own: list[tuple[str, Any]] = []
    for info in msgspec.structs.fields(ctype.fields):
        rel = ctype.relations.get(info.name)
        if rel is None:
            own.append((info.name, info.type))
        else:
            own.append((info.name, list[EntryRef] if rel.many else EntryRef | None))
    derived: list[tuple[str, Any]] = [("json_ld", dict[str, Any])]
    label = ctype.label.replace(" ", "")
    detail = msgspec.defstruct(label, [*common, *own, *derived], kw_only=True)
    item = msgspec.defstruct(
        f"{label}ListItem",
        [f for f in (*common, *own) if f[0] not in DETAIL_ONLY_FIELDS],
        kw_only=True,
    )
    return detail, item


def _split(name: str, raw: str | None) -> list[str]:
    if raw is None:
        return []
    values = [v.strip() for v in raw.split(",") if v.strip()]
    for value in values:
        if not SLUG_RE.match(value):
            raise InvalidParameter(name, f"{value!r} is not a slug")
    if not values:
        raise InvalidParameter(name, "is empty")
    return values


def entry_routes(ctype: ContentType, settings: Settings) -> list[HTTPRouteHandler]:
    """The public list and detail handlers of ``ctype``."""
    detail_struct, item_struct = output_structs(ctype)
    list_struct = msgspec.defstruct(
        f"{ctype.label.replace(' ', '')}List",
        [("data", list[item_struct]), ("next_cursor", str | None)],  # type: ignore[valid-type]
        kw_only=True,
    )
    sort_options = ctype.sort_options()
    public_cache = (
        f"public, max-age={settings.public_max_age}, "
        f"stale-while-revalidate={settings.stale_while_revalidate}"
    )
    allowed = {"limit", "cursor", "sort", *FILTERS}
    name = camel(ctype.plural)
    not_modified = {
        304: ResponseSpec(
            None,
            description="Not modified: the `If-None-Match` ETag is current.",
            generate_examples=False,
        )
    }
    bad_query = "A query parameter is invalid; `errors` names it."

    @get(
        f"{API}/{ctype.plural}",
        operation_id=f"list{name}",
        summary=f"List published {ctype.plural}",
        description=f"{ctype.description} Keyset-paginated; filters combine with AND, "
        "comma-separated values of one filter with OR.",
        tags=[ctype.label],
        responses={
            200: ResponseSpec(list_struct, description="One page.", generate_examples=False),
            **not_modified,
            **error_responses(http_400=bad_query),
        },
    )
    async def list_handler(
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        limit: Annotated[
            int, QueryParameter(ge=1, le=MAX_LIMIT, description="Items per page, 1 to 100.")
        ] = 20,
        cursor: Annotated[
            str | None, QueryParameter(description="`next_cursor` of the previous page.")
        ] = None,
        sort: Annotated[
            str,
            QueryParameter(
                description="Sort field; a leading `-` sorts descending.",
                schema_extra={"enum": list(sort_options)},
            ),
        ] = ctype.default_sort,
        clinic: Annotated[
            str | None, QueryParameter(description="Clinic slugs the entries appear on.")
        ] = None,
        condition: Annotated[
            str | None, QueryParameter(description="Condition slugs the entries relate to.")
        ] = None,
        practitioner: Annotated[
            str | None, QueryParameter(description="Practitioner slugs the entries relate to.")
        ] = None,
        tag: Annotated[str | None, QueryParameter(description="Tags, any of.")] = None,
    ) -> Response[bytes]:
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise InvalidParameter(
                unknown[0], f"unknown query parameter (accepted: {', '.join(sorted(allowed))})"
            )
        if sort not in sort_options:
            raise InvalidParameter("sort", f"must be one of {', '.join(sort_options)}")
        raw_filters = {"clinic": clinic, "condition": condition,
                       "practitioner": practitioner, "tag": tag}  # fmt: skip
        filters = {k: _split(k, v) for k, v in raw_filters.items() if v is not None}
        query = ListQuery(limit=limit, sort=sort, cursor=cursor, filters=filters)
        docs, next_cursor = await list_entries(session, ctype, query)
        body = _encoder.encode({"data": docs, "next_cursor": next_cursor})
        keys = [f"list:{ctype.name}", *(f"entry:{d['id']}" for d in docs)]
        return json_response(request, body, cache_control=public_cache, surrogate_keys=keys)

    @get(
        f"{API}/{ctype.plural}/{{slug:str}}",
        operation_id=f"get{camel(ctype.name)}",
        summary=f"Get a published {ctype.label.lower()}",
        description=ctype.description,
        tags=[ctype.label],
        responses={
            200: ResponseSpec(detail_struct, description="The entry.", generate_examples=False),
            **not_modified,
            **error_responses(http_400=bad_query, http_404="No published entry has this slug."),
        },
    )
    async def detail_handler(
        request: Request[Any, Any, Any], session: NamedDependency[AsyncSession], slug: FromPath[str]
    ) -> Response[bytes]:
        if request.query_params:
            raise InvalidParameter(next(iter(request.query_params)), "unknown query parameter")
        doc = await read_entry(session, ctype, slug)
        if doc is None:
            raise not_found(f"published {ctype.name} with slug {slug!r}")
        body = _encoder.encode(doc)
        return json_response(
            request, body, cache_control=public_cache, surrogate_keys=[f"entry:{doc['id']}"]
        )

    return [list_handler, detail_handler]
