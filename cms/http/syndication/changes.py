"""``GET /api/v1/changes``: the change feed, resumable from any sequence number.

Anonymous readers see what the public sees change (``state=published``): an
``upsert`` when a published version is written or refreshed, a ``delete``
when it goes (unpublished, archived, deleted) and, read for one clinic, when
the entry leaves that clinic. Tokens that may read drafts may also ask for
working-copy changes (``state=working`` or ``all``); a token limited to some
clinics reads those for one of its clinics at a time.
"""

# No `from __future__ import annotations`: Litestar evaluates the handler's
# annotations, which refer to values local to `change_routes`.

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.access.tokens import Caller, Permission
from cms.contenttypes import TypeRegistry
from cms.errors import InvalidParameter
from cms.http import params
from cms.http.auth import SECURITY, forbidden, require
from cms.http.cache_headers import ENTRY_VARY, PRIVATE, json_response, public_cache_control
from cms.http.json_text import encode_json
from cms.http.problems import error_responses
from cms.http.response_cache import ResponseCache, cached_json
from cms.schemas import Base
from cms.settings import Settings
from cms.syndication import cache_keys
from cms.syndication.changes import PUBLISHED, WORKING, ChangeEvent, last_seq, read_changes
from cms.urls import API

ACCEPTED = ("since", "clinic", "type", "limit", "state")
MAX_CHANGES = 1000
MAX_SEQ = 2**63 - 1  # the sequence column is a 64-bit integer
STATES = {"published": (PUBLISHED,), "working": (WORKING,), "all": (PUBLISHED, WORKING)}


class ChangePage(Base):
    """One page of the change feed, oldest first."""

    data: list[ChangeEvent]
    next_since: int
    """Pass it as `since` to read on. When the page is not full it is the newest
    change there was when the page was read, so a reader of one clinic never
    reads the other clinics' changes again."""
    last_seq: int
    """The newest change when the page was read: the page is the end when `next_since` equals it."""


def change_routes(
    settings: Settings,
    types: TypeRegistry,
    cache: ResponseCache,
    sessions: async_sessionmaker[AsyncSession],
) -> list[HTTPRouteHandler]:
    """The change feed handler."""
    cache_control = public_cache_control(settings)
    type_names = [t.name for t in types]

    @get(
        f"{API}/changes",
        operation_id="listChanges",
        summary="Read the change feed",
        description=(
            "Every change, numbered in the order it committed, with no gaps: read from "
            "`since=0`, then pass `next_since` back. A change is written in the transaction "
            "that made it, so none is ever missed, however writes interleave. Anonymous "
            "readers see published-state changes; with `clinic`, an entry that leaves the "
            "clinic is a `delete` there, and entries that name no clinic (conditions) are "
            "every clinic's."
        ),
        tags=["Syndication"],
        security=[{}, *SECURITY],
        responses={
            200: ResponseSpec(ChangePage, description="One page.", generate_examples=False),
            304: ResponseSpec(
                None,
                description="Not modified: the `If-None-Match` ETag is current.",
                generate_examples=False,
            ),
            **error_responses(
                http_400="A query parameter is invalid; `errors` names it.",
                http_401="Working-copy changes need a bearer token; or the token is invalid.",
                http_403="The token may not read working copies, or not of that clinic.",
            ),
        },
    )
    async def changes_handler(
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller | None],
        since: Annotated[
            int,
            QueryParameter(
                ge=0,
                le=MAX_SEQ,
                description="Changes after this sequence number.",
                # Exactly: Litestar would write the bound as a float, 2**63, one too many.
                schema_extra={"maximum": MAX_SEQ},
            ),
        ] = 0,
        clinic: Annotated[
            str | None,
            QueryParameter(
                description="Only changes that concern this clinic (a slug).",
                schema_extra={"pattern": params.SLUG_VALUE_PATTERN},
            ),
        ] = None,
        type_: Annotated[
            str | None,
            QueryParameter(
                name="type",
                description=f"Type names, comma-separated (of: {', '.join(type_names)}).",
                schema_extra=params.list_schema(names=type_names),
            ),
        ] = None,
        limit: Annotated[int, params.limit("Changes per page, 1 to 1000.", most=MAX_CHANGES)] = 100,
        state_: Annotated[
            str,
            QueryParameter(
                name="state",
                description="`published` (default), or with a token `working` or `all`.",
                schema_extra={"enum": list(STATES)},
            ),
        ] = "published",
    ) -> Response[bytes]:
        params.reject_unknown(list(request.query_params), ACCEPTED)
        wanted = params.type_names("type", type_, type_names)
        clinics = params.split("clinic", clinic)
        if len(clinics) > 1:
            raise InvalidParameter("clinic", "names one clinic")
        one_clinic = clinics[0] if clinics else None
        states = STATES.get(state_)
        if states is None:
            raise InvalidParameter("state", f"is one of {', '.join(STATES)}")

        limited = caller is not None and caller.limited

        async def build() -> tuple[bytes, list[str]]:
            async with sessions() as session:
                # The newest number first: everything up to it has committed,
                # so the range read after it sees all of those.
                newest = await last_seq(session)
                events = await read_changes(
                    session,
                    since=since,
                    limit=limit,
                    clinic=one_clinic,
                    types=wanted,
                    states=states,
                    shared_working=not limited,
                )
            # A full page: more may follow. Else everything up to `newest` has
            # been seen (and maybe changes committed after it was read).
            seen = events[-1].seq if events else since
            next_since = seen if len(events) == limit else max(seen, newest)
            page = ChangePage(data=events, next_since=next_since, last_seq=max(newest, next_since))
            return encode_json(page), cache_keys.change_feed_keys()

        if WORKING not in states:
            return await cached_json(
                request, cache, build, cache_control=cache_control, vary=ENTRY_VARY
            )
        reader = require(caller, Permission.READ_DRAFTS)
        if reader.limited and (one_clinic is None or one_clinic not in reader.clinics):
            raise forbidden(
                "This token is limited to some clinics: read working-copy changes with "
                f"`clinic` set to one of them ({', '.join(sorted(reader.clinics))}).",
                field="clinic",
            )
        body, _keys = await build()
        return json_response(request, body, cache_control=PRIVATE, vary="Authorization")

    return [changes_handler]
