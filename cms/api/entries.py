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
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.api.auth import SECURITY, TOKEN_ERRORS, require, unauthorized
from cms.api.cache import ResponseCache, cached_json
from cms.api.caching import PRIVATE, json_response
from cms.api.problems import error_responses, not_found
from cms.api.working import redirect_response, working_document, working_response
from cms.contenttypes import ContentType
from cms.schemas import (
    DETAIL_ONLY_FIELDS,
    SLUG_RE,
    STATUSES,
    EntryRef,
    Seo,
    Status,
    TocItem,
    TypedEntryRef,
)
from cms.services.auth import Caller, Permission
from cms.services.entries import read_entry
from cms.services.listing import FILTERS, InvalidParameter, ListQuery, list_entries
from cms.services.slugs import redirect_target
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
    common: list[tuple[Any, ...]] = [
        ("id", str),
        ("type", str),
        ("slug", str),
        ("title", str),
        ("summary", str),
        ("status", Status),
        ("clinics", list[str]),
        ("origin_clinic", str | None),
        ("tags", list[str]),
        ("seo", Seo),
        ("published_at", dt.datetime | None),
        ("created_at", dt.datetime),
        ("updated_at", dt.datetime),
        ("version", int),
        # Only in answers to a token (the working copy): absent from public ones.
        (
            "scheduled_at",
            Annotated[
                dt.datetime | None,
                msgspec.Meta(description="With a token only: when a scheduled entry goes live."),
            ],
            None,
        ),
        (
            "published_version",
            Annotated[
                int | None,
                msgspec.Meta(
                    description="With a token only: the version the public sees; null when "
                    "none is published. Below `version` when there are draft changes."
                ),
            ],
            None,
        ),
        ("reviewed_by", EntryRef | None),
        ("last_reviewed", dt.date | None),
        ("body", str),
        ("body_html", str),
        ("toc", list[TocItem]),
        ("reading_time_minutes", int),
        ("links", list[str]),
        ("json_ld", dict[str, Any] | None),
    ]
    own: list[tuple[str, Any]] = []
    for info in msgspec.structs.fields(ctype.fields):
        rel = ctype.relations.get(info.name)
        if rel is None:
            own.append((info.name, info.type))
        else:
            ref: Any = TypedEntryRef if rel.typed else EntryRef
            own.append((info.name, list[ref] if rel.many else ref | None))
    # Added by plugins; documented with the plugin's schema.
    own.extend(
        (rfield.name, Annotated[rfield.schema, msgspec.Meta(description=rfield.description)])
        for rfield in ctype.response_fields
    )
    label = ctype.label.replace(" ", "")
    detail = msgspec.defstruct(label, [*common, *own], kw_only=True)
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


class _Moved(Exception):
    """Raised inside a cached build: the slug is an old one of ``target``."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


def entry_routes(
    ctype: ContentType,
    settings: Settings,
    cache: ResponseCache,
    sessions: async_sessionmaker[AsyncSession],
) -> list[HTTPRouteHandler]:
    """The public list and detail handlers of ``ctype``, answering through ``cache``.

    The handlers open a session only when the cache misses: a hit touches
    nothing but the generation counter.
    """
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
    allowed = {"limit", "cursor", "sort", "status", *FILTERS}
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
        "comma-separated values of one filter with OR. With a bearer token: the working "
        "copies (drafts included) of the entries the token may read, filtered by `status`.",
        tags=[ctype.label],
        security=[{}, *SECURITY],
        responses={
            200: ResponseSpec(list_struct, description="One page.", generate_examples=False),
            **not_modified,
            **error_responses(http_400=bad_query, **TOKEN_ERRORS),
        },
    )
    async def list_handler(
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller | None],
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
        status: Annotated[
            str | None,
            QueryParameter(
                description="With a token only: statuses of the working copies to list, "
                "comma-separated (`draft,in_review`); all when omitted."
            ),
        ] = None,
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
        if caller is None:
            if status is not None:
                raise unauthorized("`status` lists working copies: it needs a bearer token.")

            async def build() -> tuple[bytes, list[str]]:
                async with sessions() as session:
                    docs, next_cursor = await list_entries(session, ctype, query)
                body = _encoder.encode({"data": docs, "next_cursor": next_cursor})
                return body, [f"list:{ctype.name}", *(f"entry:{d['id']}" for d in docs)]

            return await cached_json(
                request, cache, build, cache_control=public_cache, vary="Authorization"
            )
        require(caller, Permission.READ_DRAFTS)
        statuses = _split("status", status) if status is not None else []
        for value in statuses:
            if value not in STATUSES:
                raise InvalidParameter("status", f"{value!r} is not one of {', '.join(STATUSES)}")
        async with sessions() as session:
            docs, next_cursor = await list_entries(
                session,
                ctype,
                query,
                published_only=False,
                statuses=statuses,
                clinic_scope=caller.clinics if caller.limited else None,
            )
        body = _encoder.encode({"data": docs, "next_cursor": next_cursor})
        return json_response(request, body, cache_control=PRIVATE, vary="Authorization")

    @get(
        f"{API}/{ctype.plural}/{{slug:str}}",
        operation_id=f"get{camel(ctype.name)}",
        summary=f"Get a published {ctype.label.lower()}",
        description=f"{ctype.description} With a bearer token: the working copy, whatever "
        "its status, whose `ETag` is the one `If-Match` names to change it. "
        "A slug the entry had before a rename answers 301 to the current one.",
        tags=[ctype.label],
        security=[{}, *SECURITY],
        responses={
            200: ResponseSpec(detail_struct, description="The entry.", generate_examples=False),
            301: ResponseSpec(
                None,
                description="The entry was renamed; `Location` names its current URL.",
                generate_examples=False,
            ),
            **not_modified,
            **error_responses(
                http_400=bad_query, http_404="No published entry has this slug.", **TOKEN_ERRORS
            ),
        },
    )
    async def detail_handler(
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller | None],
        slug: FromPath[str],
    ) -> Response[bytes]:
        if request.query_params:
            raise InvalidParameter(next(iter(request.query_params)), "unknown query parameter")
        if caller is not None:
            require(caller, Permission.READ_DRAFTS)
            async with sessions() as session:
                found = await working_document(session, ctype, slug=slug)
                if found is not None and caller.may_read(found[0]["clinics"]):
                    return working_response(request, found[1])
                if found is None:
                    moved = await redirect_target(session, ctype.name, slug, published_only=False)
                    # Only to an entry the token may read: the new slug of
                    # one it may not is not its to learn.
                    target = (
                        None
                        if moved is None
                        else await working_document(session, ctype, slug=moved)
                    )
                    if target is not None and caller.may_read(target[0]["clinics"]):
                        return redirect_response(ctype, target[0]["slug"], cache_control=PRIVATE)
            raise not_found(f"{ctype.name} with slug {slug!r} that this token may read")

        async def build() -> tuple[bytes, list[str]]:
            async with sessions() as session:
                doc = await read_entry(session, ctype, slug)
                if doc is None:
                    moved = await redirect_target(session, ctype.name, slug, published_only=True)
                    if moved is not None:
                        raise _Moved(moved)
                    raise not_found(f"published {ctype.name} with slug {slug!r}")
            return _encoder.encode(doc), [f"entry:{doc['id']}"]

        try:
            return await cached_json(
                request, cache, build, cache_control=public_cache, vary="Authorization"
            )
        except _Moved as moved:
            # Redirects are rare and cheap; they are answered, not cached.
            return redirect_response(ctype, moved.target, cache_control=public_cache)

    return [list_handler, detail_handler]
