"""``GET /`` and ``GET /api/v1``: what this API serves, as links.

The links are paths relative to the server (``/api/v1/articles``), never
absolute URLs made from the request's ``Host``. ``{slug}`` in a link is an
RFC 6570 URI template variable. The document depends only on the types
registered at start-up, so it is encoded (and compressed) once, when the
app is built, and served with its ETag like every public read.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec

import cms
from cms.contenttypes import TypeRegistry
from cms.http.cache_headers import PUBLIC_VARY, public_cache_control, representations, respond
from cms.http.json_text import encode_json
from cms.http.problems import error_responses
from cms.http.reading.feeds import FORMATS
from cms.schemas import Base
from cms.settings import Settings
from cms.urls import API


class TypeLinks(Base):
    """Where the entries of one content type are read."""

    type: Annotated[
        str,
        msgspec.Meta(
            description="The type's name, as entries and search hits give it (`article`)."
        ),
    ]
    label: str
    list: Annotated[str, msgspec.Meta(description="Its list, e.g. `/api/v1/articles`.")]
    entry: Annotated[
        str, msgspec.Meta(description="One entry, a URI template, e.g. `/api/v1/articles/{slug}`.")
    ]
    feeds: Annotated[
        dict[str, str],
        msgspec.Meta(
            description="The feeds of each of its entries by format (`atom`, `rss`, `json`), "
            "as URI templates, e.g. `/api/v1/clinics/{slug}/feed.atom`; empty when it has none."
        ),
    ] = msgspec.field(default_factory=dict)


class Index(Base):
    """The API's entry point: a link to each thing it serves."""

    title: str
    version: str
    types: Annotated[
        list[TypeLinks], msgspec.Meta(description="Every content type, plugin types included.")
    ]
    search: Annotated[str, msgspec.Meta(description="Search across every type.")]
    changes: Annotated[str, msgspec.Meta(description="The change feed.")]
    openapi: Annotated[str, msgspec.Meta(description="The OpenAPI document.")]
    docs: Annotated[str, msgspec.Meta(description="The API documentation page.")]


def build_index(types: TypeRegistry, *, docs: str) -> Index:
    """The index of an app serving ``types``, its documentation page at ``docs``."""
    return Index(
        title="Clinic CMS",
        version=cms.__version__,
        types=[
            TypeLinks(
                type=ctype.name,
                label=ctype.label,
                list=f"{API}/{ctype.plural}",
                entry=f"{API}/{ctype.plural}/{{slug}}",
                feeds=(
                    {
                        f.extension: f"{API}/{ctype.plural}/{{slug}}/feed.{f.extension}"
                        for f in FORMATS
                    }
                    if ctype.has_feed
                    else {}
                ),
            )
            for ctype in types
        ],
        search=f"{API}/search",
        changes=f"{API}/changes",
        openapi=f"{docs}/openapi.json",
        docs=docs,
    )


def index_routes(settings: Settings, types: TypeRegistry, *, docs: str) -> list[HTTPRouteHandler]:
    """``GET /`` and ``GET /api/v1``, both answering the same document."""
    reps = representations(encode_json(build_index(types, docs=docs)))
    cache_control = public_cache_control(settings)

    async def handler(request: Request[Any, Any, Any]) -> Response[bytes]:
        return respond(request, reps, cache_control=cache_control, vary=PUBLIC_VARY)

    responses = {
        200: ResponseSpec(
            Index, description="Links to what the API serves.", generate_examples=False
        ),
        304: ResponseSpec(
            None,
            description="Not modified: the `If-None-Match` ETag is current.",
            generate_examples=False,
        ),
        **error_responses(),
    }
    description = (
        "Links to each type's list and entries (plugin types included), the clinics' and "
        "other feeds, search, the change feed, the OpenAPI document and this documentation. "
        "Links are paths on this server; `{slug}` is a URI template variable."
    )
    return [
        get(
            path,
            operation_id=operation_id,
            summary=summary,
            description=description,
            tags=["Operations"],
            responses=responses,
            name=operation_id,
        )(handler)
        for path, operation_id, summary in (
            ("/", "getIndex", "The API's entry point"),
            (API, "getApiIndex", "The API's entry point (under its base path)"),
        )
    ]
