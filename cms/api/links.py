"""Internal links over HTTP: what links here, what is broken, and the problems writes raise.

Routes: ``GET /api/v1/{type}/{slug}/backlinks`` and ``GET /api/v1/links/broken``.

The editors' write routes (not on this branch) refuse what would break links,
with the problems built here, in the transaction of the write:

- unpublish, archive or delete an entry that published entries link to:
  ``cms.services.links.dependents_blocking`` then :func:`linked_from_published`
  (409) unless the request says ``force=true``;
- publish (or save a published entry) with a link to a missing or unpublished
  entry: ``cms.services.links.broken_links(source_ids=[...])`` then
  :func:`broken_links_problem` (422) unless ``force=true``.
"""

# No `from __future__ import annotations`: Litestar evaluates the handlers'
# annotations, which refer to values local to `link_routes`.

from collections.abc import Sequence
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, QueryParameter
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.api import params
from cms.api.caching import json_response, public_cache_control
from cms.api.entries import API, MAX_LIMIT, camel
from cms.api.problems import (
    PROBLEM_BASE,
    Problem,
    ProblemError,
    ProblemException,
    error_responses,
    not_found,
)
from cms.contenttypes import ContentType, TypeRegistry
from cms.schemas import Base
from cms.services.links import BrokenLink, Dependent, LinkedEntry, backlinks, broken_links
from cms.settings import Settings
from cms.storage.tables import PublishedEntry

ACCEPTED = ("limit", "cursor")
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


class LinkedFromProblem(Problem):
    """409: the entry cannot leave publication while published entries link to it."""

    dependents: list[Dependent] = msgspec.field(default_factory=list)
    """Each published entry that links to it, and the link."""


def linked_from_published(target: str, dependents: Sequence[Dependent]) -> ProblemException:
    """The 409 of unpublishing, archiving or deleting ``target`` (``type/slug``).

    Raise it unless the request says ``force=true``; when forced, the links
    become text and are listed by ``GET /api/v1/links/broken``.
    """
    sources = ", ".join(f"{d.source.type}/{d.source.slug}" for d in dependents)
    exc = ProblemException(
        409,
        "Linked from published entries",
        detail=f"{target} is linked from published entries ({sources}); change those links "
        "first, or repeat the request with force=true to leave them broken.",
        type_=PROBLEM_BASE + "linked-from-published",
    )
    exc.problem = LinkedFromProblem(
        **msgspec.structs.asdict(exc.problem), dependents=list(dependents)
    )
    return exc


def broken_links_problem(broken: Sequence[BrokenLink]) -> ProblemException:
    """The 422 of publishing an entry whose body links to missing or unpublished entries.

    Each link is an error on the ``body`` field, naming the target.
    """
    return ProblemException(
        422,
        "Broken internal links",
        detail="The body links to entries that do not exist or are not published; fix the "
        "links, publish the targets first, or repeat the request with force=true.",
        type_=PROBLEM_BASE + "broken-links",
        errors=[
            ProblemError(
                name="body",
                reason=f"links to {b.target}, which "
                + ("does not exist" if b.reason == "missing" else "is not published"),
                location="body",
            )
            for b in broken
        ],
    )


def link_routes(settings: Settings, types: TypeRegistry) -> list[HTTPRouteHandler]:
    """The backlinks route of each type and the broken-links route."""
    cache_control = public_cache_control(settings)
    encoder = msgspec.json.Encoder()
    routes = [_backlinks_route(ctype, cache_control, encoder) for ctype in types]

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
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="1 to 100.")] = 20,
        cursor: Annotated[
            str | None, QueryParameter(description="`next_cursor` of the previous page.")
        ] = None,
    ) -> Response[bytes]:
        params.reject_unknown(list(request.query_params), ACCEPTED)
        links, next_cursor = await broken_links(session, limit=limit, cursor=cursor)
        body = encoder.encode(BrokenLinks(data=links, next_cursor=next_cursor))
        keys = ["links:broken", *dict.fromkeys(f"entry:{b.source.id}" for b in links)]
        return json_response(request, body, cache_control=cache_control, surrogate_keys=keys)

    return [*routes, broken_handler]


def _backlinks_route(
    ctype: ContentType, cache_control: str, encoder: msgspec.json.Encoder
) -> HTTPRouteHandler:
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
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="1 to 100.")] = 20,
        cursor: Annotated[
            str | None, QueryParameter(description="`next_cursor` of the previous page.")
        ] = None,
    ) -> Response[bytes]:
        params.reject_unknown(list(request.query_params), ACCEPTED)
        target = (
            await session.exec(
                select(PublishedEntry.id).where(
                    PublishedEntry.type == ctype.name, PublishedEntry.slug == slug
                )
            )
        ).first()
        if target is None:
            raise not_found(f"published {ctype.name} with slug {slug!r}")
        found, next_cursor = await backlinks(session, ctype.name, slug, limit=limit, cursor=cursor)
        body = encoder.encode(Backlinks(data=found, next_cursor=next_cursor))
        keys = [f"backlinks:{target}", *(f"entry:{e.id}" for e in found)]
        return json_response(request, body, cache_control=cache_control, surrogate_keys=keys)

    return backlinks_handler
