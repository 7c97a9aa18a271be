"""List and detail routes, built for each registered content type.

Each type gets its own handlers so that the OpenAPI document names its
operations (``listArticles``, ``getArticle``) and describes its own fields.
"""

# No `from __future__ import annotations` here: the handlers below are built
# per type, and Litestar must evaluate their annotations, which refer to
# values local to `entry_routes` (the sort options of the type).

import datetime as dt
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, cast

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIResponse, Operation, Reference, Schema
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.access.tokens import Caller, Permission
from cms.contenttypes import ContentType, TypeRegistry
from cms.editorial.entries import read_entry_with_relations
from cms.editorial.slugs import redirect_target
from cms.errors import InvalidParameter
from cms.http import params
from cms.http.auth import SECURITY, TOKEN_ERRORS, require, unauthorized
from cms.http.cache_headers import ENTRY_VARY, PRIVATE, json_response, public_cache_control
from cms.http.editorial.working import redirect_response, working_document, working_response
from cms.http.json_text import encode_json
from cms.http.operations import struct_schema
from cms.http.problems import error_responses, not_found
from cms.http.response_cache import ResponseCache, cached_json
from cms.reading.includes import Shape, embed, parse_shape, project, surrogate_ids
from cms.reading.listing import ListQuery, list_page
from cms.reading.search import MAX_QUERY_LENGTH
from cms.schemas import (
    DETAIL_ONLY_FIELDS,
    STATUSES,
    EntryRef,
    Seo,
    Status,
    TocItem,
    TypedEntryRef,
)
from cms.settings import Settings
from cms.syndication import cache_keys
from cms.urls import API


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
        ("canonical_url", str | None),
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
        (
            "mirror_source",
            Annotated[
                str | None,
                msgspec.Meta(
                    description="With a token only, on an entry mirrored from another "
                    "instance (`cms sync pull`): that instance's base URL. Mirrors are read-only."
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


_REF = "#/components/schemas/{name}"


def _schema_of(struct: type[msgspec.Struct]) -> dict[str, Any]:
    return struct_schema(struct, _REF)[0]


def _loose(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` requiring none of its properties: what ``fields`` may leave of it."""
    return {k: v for k, v in schema.items() if k not in ("required", "title", "description")}


def shaped_schema(
    ctype: ContentType, types: TypeRegistry, struct: type[msgspec.Struct], description: str
) -> dict[str, Any]:
    """What ``fields`` and ``include`` make of ``struct`` (an entry of ``ctype``), inline.

    Any field may be left out, and a relation's ``{slug, title}`` references may
    be the related entries themselves: list items of their type, cut to
    ``fields[<type>]`` (so any object: the text names the component).
    """
    schema = _loose(_schema_of(struct))
    properties = dict(schema["properties"])
    for name, rel in ctype.all_relations().items():
        if name not in properties:
            continue
        embedded = [
            {
                "type": "object",
                "description": f"The related {target.name} itself (`include`): a "
                f"`{target.label.replace(' ', '')}ListItem`, cut to `fields[{target.name}]`.",
            }
            for target in (types.get(name) for name in rel.targets)
            if target is not None
        ]
        prop = properties[name]
        if rel.many:
            properties[name] = {**prop, "items": {"anyOf": [prop["items"], *embedded]}}
        else:
            properties[name] = {"anyOf": [prop, *embedded]}
    return {**schema, "properties": properties, "description": description}


def _whole_or_shaped(shaped: dict[str, Any]) -> type[Operation]:
    """An operation class whose 200 answer is the whole document or ``shaped``.

    The response Struct documents the whole entry (the components clients use);
    with ``fields`` or ``include`` the answer is what ``shaped`` says instead.
    """

    @dataclass
    class WholeOrShaped(Operation):
        def __post_init__(self) -> None:
            ok = (self.responses or {})["200"]
            assert isinstance(ok, OpenAPIResponse)
            assert ok.content is not None
            media = ok.content["application/json"]
            assert isinstance(media.schema, Reference)
            # The Reference itself: Litestar names its component only later.
            media.schema = Schema(any_of=[media.schema, cast(Schema, shaped)])

    return WholeOrShaped


COMMON_FILTERS: dict[str, str] = {
    "clinic": "Clinic slugs the entries appear on.",
    "condition": "Condition slugs the entries relate to, either way.",
    "practitioner": "Practitioner slugs the entries relate to, either way.",
    "tag": "Tags.",
}


class _Moved(Exception):
    """Raised inside a cached build: the slug is an old one of ``target``."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


def _slug_valued(ctype: ContentType, name: str) -> bool:
    """Whether a filter's values are slugs (a free-text facet such as a language is not)."""
    own = ctype.filters.get(name)
    return own is None or own.field in ctype.relations


def list_parameters(ctype: ContentType) -> list[inspect.Parameter]:
    """The query parameters of ``ctype``'s list, in the order the API documents them."""
    sort_options = ctype.sort_options()
    return [
        params.declared("limit", params.Limit, params.DEFAULT_LIMIT),
        params.declared("cursor", params.Cursor, None),
        params.query(
            "sort", str, ctype.default_sort, "Sort field; a leading `-` sorts descending.",
            schema_extra={"enum": list(sort_options)},
        ),
        *(
            params.query(
                name, str | None, None, f"{text} Comma-separated: any of them.",
                schema_extra=params.list_schema(slugs=_slug_valued(ctype, name)),
            )
            for name, text in COMMON_FILTERS.items()
        ),
        *(
            params.query(
                name, str | None, None, f"{spec.description} Comma-separated.",
                schema_extra=params.list_schema(slugs=_slug_valued(ctype, name)),
            )
            for name, spec in ctype.filters.items()
        ),
        params.query(
            "q", str | None, None,
            "Full-text search within the list: words match as prefixes, "
            '`"quoted phrases"` exactly; all must match.',
            max_length=MAX_QUERY_LENGTH,
        ),
        params.query(
            "published_after", str | None, None,
            "Published at or after this RFC 3339 date (midnight UTC) or date-time with its zone.",
            schema_extra=params.TIME_SCHEMA,
        ),
        params.query(
            "published_before", str | None, None,
            "Published before this RFC 3339 date (midnight UTC) or date-time with its zone.",
            schema_extra=params.TIME_SCHEMA,
        ),
    ]  # fmt: skip


def _fields_name(type_name: str) -> str:
    return "fields_" + type_name.replace("-", "_")


def shape_parameters(
    ctype: ContentType, allowed: Sequence[str], allowed_nested: Mapping[str, Sequence[str]]
) -> list[inspect.Parameter]:
    """``fields``, ``include`` and one ``fields[<type>]`` per type ``ctype`` relates to.

    Args:
        allowed: the fields a requested entry has.
        allowed_nested: the fields an embedded entry of each related type has.
    """
    relations = ctype.all_relations()
    targets = list(dict.fromkeys(rel.target for rel in relations.values()))
    return [
        params.query(
            "fields", str | None, None,
            f"Only these fields, comma-separated (of: {', '.join(allowed)}).",
            schema_extra=params.list_schema(names=allowed),
        ),
        params.query(
            "include", str | None, None,
            "Embed these related entries in place of their `{slug, title}` references "
            f"(of: {', '.join(relations)}): published ones, as list items, one level deep; "
            "with `fields`, an embedded relation is sent too.",
            schema_extra=params.list_schema(names=list(relations)),
        ),
        *(
            params.query(
                _fields_name(target), str | None, None,
                f"Only these fields of embedded {target} entries.", alias=f"fields[{target}]",
                schema_extra=params.list_schema(names=allowed_nested[target]),
            )
            for target in targets
        ),
    ]  # fmt: skip


def entry_routes(
    ctype: ContentType,
    settings: Settings,
    cache: ResponseCache,
    sessions: async_sessionmaker[AsyncSession],
    types: TypeRegistry,
) -> list[HTTPRouteHandler]:
    """The list and detail handlers of ``ctype``, answering the public through ``cache``.

    The handlers open a session only when the cache misses: a hit touches
    nothing but the generation counter. Token reads (the working copies) are
    never cached.

    Args:
        types: every registered type, for embedding related entries.
    """
    detail_struct, item_struct = output_structs(ctype)
    list_struct = msgspec.defstruct(
        f"{ctype.label.replace(' ', '')}List",
        [("data", list[item_struct]), ("next_cursor", str | None)],  # type: ignore[valid-type]
        kw_only=True,
    )
    sort_options = ctype.sort_options()
    public_cache = public_cache_control(settings)
    name = camel(ctype.plural)
    not_modified = {
        304: ResponseSpec(
            None,
            description="Not modified: the `If-None-Match` ETag is current.",
            generate_examples=False,
        )
    }
    bad_query = "A query parameter is invalid; `errors` names it."
    filter_names = [*COMMON_FILTERS, *ctype.filters]
    targets = list(dict.fromkeys(rel.target for rel in ctype.all_relations().values()))
    nested_allowed = {t: list(output_structs(types[t])[1].__struct_fields__) for t in targets}
    item_fields = list(item_struct.__struct_fields__)
    detail_fields = list(detail_struct.__struct_fields__)
    list_params = [*list_parameters(ctype), *shape_parameters(ctype, item_fields, nested_allowed)]
    detail_params = shape_parameters(ctype, detail_fields, nested_allowed)
    list_accepts = [params.url_name(p) for p in list_params]
    detail_accepts = [params.url_name(p) for p in detail_params]

    def shape_of(query: dict[str, Any], allowed: Sequence[str]) -> Shape:
        return parse_shape(
            ctype,
            fields=query["fields"],
            include=query["include"],
            nested={t: query[_fields_name(t)] for t in targets},
            allowed=allowed,
            allowed_nested=nested_allowed,
        )

    async def list_handler(
        request: Request[Any, Any, Any], caller: Caller | None, **query: Any
    ) -> Response[bytes]:
        params.reject_unknown(list(request.query_params), list_accepts)
        sort = query["sort"]
        if sort not in sort_options:
            raise InvalidParameter("sort", f"must be one of {', '.join(sort_options)}")
        filters = {
            k: params.split(k, query[k], slugs=_slug_valued(ctype, k))
            for k in filter_names
            if query[k] is not None
        }
        shape = shape_of(query, item_fields)
        list_query = ListQuery(
            limit=query["limit"],
            sort=sort,
            cursor=query["cursor"],
            filters=filters,
            published_after=params.parse_time("published_after", query["published_after"]),
            published_before=params.parse_time("published_before", query["published_before"]),
            q=query["q"],
        )
        status = query["status"]
        if caller is None:
            if status is not None:
                raise unauthorized("`status` lists working copies: it needs a bearer token.")

            async def build() -> tuple[bytes, list[str]]:
                async with sessions() as session:
                    page = await list_page(session, ctype, list_query)
                    embedded = await embed(session, types, ctype, page.docs, page.related, shape)
                ids = surrogate_ids(page.docs, page.related, embedded, shape)
                data = [project(doc, shape.fields) for doc in page.docs]
                body = encode_json({"data": data, "next_cursor": page.next_cursor})
                return body, cache_keys.list_page_keys(ctype.name, ids)

            return await cached_json(
                request, cache, build, cache_control=public_cache, vary=ENTRY_VARY
            )
        require(caller, Permission.READ_DRAFTS)
        # Statuses are words, not slugs: `in_review` has an underscore.
        statuses = params.split("status", status, slugs=False) if status is not None else []
        for value in statuses:
            if value not in STATUSES:
                raise InvalidParameter("status", f"{value!r} is not one of {', '.join(STATUSES)}")
        scope = caller.clinics if caller.limited else None
        async with sessions() as session:
            page = await list_page(
                session,
                ctype,
                list_query,
                published_only=False,
                statuses=statuses,
                clinic_scope=scope,
            )
            await embed(
                session, types, ctype, page.docs, page.related, shape,
                published_only=False, clinic_scope=scope,
            )  # fmt: skip
        data = [project(doc, shape.fields) for doc in page.docs]
        body = encode_json({"data": data, "next_cursor": page.next_cursor})
        return json_response(request, body, cache_control=PRIVATE, vary="Authorization")

    async def detail_handler(
        request: Request[Any, Any, Any], caller: Caller | None, slug: str, **query: Any
    ) -> Response[bytes]:
        params.reject_unknown(list(request.query_params), detail_accepts)
        shape = shape_of(query, detail_fields)
        if caller is not None:
            require(caller, Permission.READ_DRAFTS)
            async with sessions() as session:
                found = await working_document(session, ctype, slug=slug)
                if found is not None and caller.may_read(found[0]["clinics"]):
                    if shape.fields is None and not shape.include:
                        return working_response(request, found[1])
                    shaped = await read_entry_with_relations(
                        session, ctype, slug, published_only=False
                    )
                    assert shaped is not None, "read in the same transaction"
                    doc, related = shaped
                    await embed(
                        session, types, ctype, [doc], related, shape, published_only=False,
                        clinic_scope=caller.clinics if caller.limited else None,
                    )  # fmt: skip
                    return working_response(request, encode_json(project(doc, shape.fields)))
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
                found = await read_entry_with_relations(session, ctype, slug)
                if found is None:
                    moved = await redirect_target(session, ctype.name, slug, published_only=True)
                    if moved is not None:
                        raise _Moved(moved)
                    raise not_found(f"published {ctype.name} with slug {slug!r}")
                doc, related = found
                embedded = await embed(session, types, ctype, [doc], related, shape)
            ids = surrogate_ids([doc], related, embedded, shape)
            return encode_json(project(doc, shape.fields)), cache_keys.detail_keys(ids)

        try:
            return await cached_json(
                request, cache, build, cache_control=public_cache, vary=ENTRY_VARY
            )
        except _Moved as moved:
            # Redirects are rare and cheap; they are answered, not cached.
            return redirect_response(ctype, moved.target, cache_control=public_cache)

    common = [
        params.plain("request", Request[Any, Any, Any]),
        params.plain("caller", NamedDependency[Caller | None]),  # type: ignore[misc]
    ]
    status_param = params.query(
        "status", str | None, None,
        "With a token only: statuses of the working copies to list, comma-separated "
        f"(`draft,in_review`), of: {', '.join(STATUSES)}; all when omitted. "
        "`in_review` is the review queue. Without a token: 401.",
        schema_extra=params.list_schema(names=STATUSES),
    )  # fmt: skip
    list_accepts.append("status")
    params.with_signature(list_handler, [*common, *list_params, status_param], Response[bytes])
    params.with_signature(
        detail_handler, [*common, params.plain("slug", FromPath[str]), *detail_params],
        Response[bytes],
    )  # fmt: skip
    shaped_list = {
        "type": "object",
        "properties": {
            "data": {
                "type": "array",
                "items": shaped_schema(
                    ctype, types, item_struct,
                    f"A {ctype.label.lower()} as `fields` and `include` shape it.",
                ),
            },
            "next_cursor": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["data", "next_cursor"],
        "description": "One page, as `fields` and `include` shape its entries.",
    }  # fmt: skip
    list_route = get(
        f"{API}/{ctype.plural}",
        operation_id=f"list{name}",
        summary=f"List published {ctype.plural}",
        description=f"{ctype.description} Keyset-paginated; filters combine with AND, "
        "comma-separated values of one filter with OR. With a bearer token: the working "
        "copies (drafts included) of the entries the token may read, filtered by `status`.",
        tags=[ctype.label],
        security=[{}, *SECURITY],
        operation_class=_whole_or_shaped(shaped_list),
        responses={
            200: ResponseSpec(list_struct, description="One page.", generate_examples=False),
            **not_modified,
            **error_responses(http_400=bad_query, **TOKEN_ERRORS),
        },
    )(list_handler)
    detail_route = get(
        f"{API}/{ctype.plural}/{{slug:str}}",
        operation_id=f"get{camel(ctype.name)}",
        summary=f"Get a published {ctype.label.lower()}",
        description=f"{ctype.description} With a bearer token: the working copy, whatever "
        "its status, whose `ETag` is the one `If-Match` names to change it. "
        "A slug the entry had before a rename answers 301 to the current one.",
        tags=[ctype.label],
        security=[{}, *SECURITY],
        operation_class=_whole_or_shaped(
            shaped_schema(
                ctype,
                types,
                detail_struct,
                f"A {ctype.label.lower()} as `fields` and `include` shape it.",
            )
        ),
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
    )(detail_handler)
    return [list_route, detail_route]
