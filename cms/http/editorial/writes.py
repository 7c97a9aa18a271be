"""The editors' routes of each content type: create, change, delete, workflow, preview, history.

Every route needs a bearer token whose role allows it; every change also
needs ``If-Match`` with the ETag of the working copy as ``GET`` answered it,
and runs in one transaction that locks the entry first (see
:mod:`cms.editorial.editing`).
"""

# No `from __future__ import annotations`: the handlers are built per type, and
# Litestar evaluates their annotations (see cms/http/reading/entries.py).

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, PathParameter, QueryParameter
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.access.tokens import Caller, Permission
from cms.contenttypes import ContentType
from cms.editorial import workflow
from cms.editorial.editing import Entry, create_entry, lock_entry, update_entry
from cms.editorial.pipeline import WriteContext
from cms.editorial.preview import sign_preview
from cms.editorial.revisions import RevisionInfo, get_revision, list_revisions, restore_revision
from cms.errors import FieldError, InvalidInput
from cms.http import params
from cms.http.auth import SECURITY, TOKEN_ERRORS, require
from cms.http.bodies import (
    BAD_BODY,
    BAD_OPTIONAL_BODY,
    JSON,
    MERGE_PATCH,
    convert_body,
    json_body,
)
from cms.http.cache_headers import NO_STORE_HEADERS, PRIVATE, json_response
from cms.http.editorial.preview import signing_key
from cms.http.editorial.working import working_document, working_response
from cms.http.json_text import encode_json
from cms.http.operations import documented
from cms.http.preconditions import PreconditionFailedProblem, check_precondition, if_match_header
from cms.http.problems import (
    PROBLEM_BASE,
    ProblemException,
    error_responses,
    not_found,
    problem_spec,
)
from cms.http.reading.entries import camel, output_structs
from cms.reading.listing import InvalidParameter
from cms.schemas import Base, EntryCommon, Moment, Slug
from cms.types.clinic import CLINIC
from cms.urls import API

NO_STORE = {"Cache-Control": "no-store"}
MAX_PREVIEW_SECONDS = 7 * 24 * 3600

# Versions are stored as 32-bit integers; a larger one is no version, not an overflow.
MAX_VERSION = 2**31 - 1
MAX_VERSION_DIGITS = len(str(MAX_VERSION))
Version = Annotated[int, PathParameter(ge=1, le=MAX_VERSION, description="A version number.")]


class PublishRequest(Base):
    """When to publish; now when the body or `at` is left out."""

    at: Annotated[
        Moment | None,
        msgspec.Meta(
            description="A time in the future (ISO 8601 with a zone) schedules the entry; "
            "now or a past time publishes it at once."
        ),
    ] = None


class PreviewRequest(Base):
    """How long the preview link works."""

    expires_in: Annotated[
        int,
        msgspec.Meta(ge=1, le=MAX_PREVIEW_SECONDS, description="Seconds, up to 7 days."),
    ] = 3600


class PreviewLink(Base):
    """A link that shows the entry's working copy, without a token, until it expires."""

    url: str
    token: str
    expires_at: dt.datetime


class EntryRevision(Base):
    """One version of an entry: who made it, when, how, and which fields changed."""

    version: int
    created_at: dt.datetime
    action: str | None
    """`create`, `update`, `submit`, `publish`, `schedule`, `unpublish`, `archive`,
    `restore`, or `save` (a content file load)."""
    actor: str | None
    """The id of the token that made it (for a scheduled publish: the token that
    scheduled it), or `content-load`."""
    actor_name: str | None
    changed_fields: list[str]
    status: str | None


class EntryRevisionList(Base):
    """Versions of an entry, newest first."""

    data: list[EntryRevision]
    next_cursor: str | None = None


class EntryRevisionDetail(EntryRevision):
    """One version with the whole entry as it was saved (relations as slugs, body as Markdown)."""

    entry: dict[str, Any]


def _revision(info: RevisionInfo) -> EntryRevision:
    return EntryRevision(**{f: getattr(info, f) for f in EntryRevision.__struct_fields__})


def _field_spec(info: msgspec.structs.FieldInfo, *, optional: bool) -> tuple[Any, ...]:
    if optional:
        return (info.name, info.type | None, None)
    if info.default_factory is not msgspec.NODEFAULT:
        return (info.name, info.type, msgspec.field(default_factory=info.default_factory))
    if info.default is not msgspec.NODEFAULT:
        return (info.name, info.type, info.default)
    return (info.name, info.type)


def input_structs(ctype: ContentType) -> tuple[type[msgspec.Struct], type[msgspec.Struct]]:
    """Structs documenting the bodies of create (a new draft) and update (a merge patch)."""
    label = ctype.label.replace(" ", "")
    fields = [
        info
        for info in (*msgspec.structs.fields(EntryCommon), *msgspec.structs.fields(ctype.fields))
        if info.name != "status"
    ]
    create = msgspec.defstruct(
        f"{label}Create",
        [
            ("slug", Slug | None, None),
            *sorted(
                (_field_spec(f, optional=False) for f in fields),
                key=lambda spec: len(spec) == 3,  # required fields first
            ),
        ],
        kw_only=True,
        forbid_unknown_fields=True,
        namespace={
            "__doc__": f"A new {ctype.label.lower()}: its fields, relations as slugs. It is "
            "created as a draft; `slug` is made from the title when left out."
        },
    )
    update = msgspec.defstruct(
        f"{label}Patch",
        [("slug", Slug | None, None), *(_field_spec(f, optional=True) for f in fields)],
        kw_only=True,
        forbid_unknown_fields=True,
        namespace={
            "__doc__": "A JSON Merge Patch (RFC 7396): the fields to change; `null` resets a "
            "field to its default. A new `slug` renames the entry; the old one redirects."
        },
    )
    return create, update


def _context(state: State, caller: Caller, *, force: bool = False) -> WriteContext:
    services = state.services
    return WriteContext(
        types=services.plugins.types,
        renderer=services.renderer,
        actor=caller.token_id,
        now=services.clock(),
        plugins=services.plugins.manager,
        force=force,
    )


FORCE_TAKE_DOWN = (
    "Take it down even though published entries link to it; their links become text and "
    "are listed by `GET /api/v1/links/broken`. Without it, that is a 409 naming them."
)
FORCE_PUBLISH = (
    "Publish (or schedule) even though the body links to entries that do not exist or are "
    "not published. Without it, that is a 422 naming each link."
)


async def _answer(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    ctype: ContentType,
    entry_id: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    found = await working_document(session, ctype, entry_id=entry_id)
    assert found is not None, "the entry was just written"
    return working_response(request, found[1], status_code=status_code, headers=headers)


def _check_clinic_writer(ctype: ContentType, caller: Caller) -> None:
    """Only a token limited to no clinic may create or change a clinic entry.

    A clinic is the site every entry shown on it names: unpublishing,
    deleting or renaming it changes every entry it shares with other
    clinics, which a token limited to some clinics may not change.
    """
    if ctype.name == CLINIC.name and caller.limited:
        raise ProblemException(
            403,
            "Forbidden",
            detail=f"This token is limited to {', '.join(sorted(caller.clinics))}; only a "
            "token limited to no clinic may create or change clinics.",
            type_=PROBLEM_BASE + "forbidden",
        )


async def _for_change(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    ctype: ContentType,
    slug: str,
    caller: Caller,
) -> Entry:
    """Lock the entry ``caller`` means to change and check its precondition and scope."""
    header = if_match_header(request)
    entry = await lock_entry(session, ctype.name, slug=slug)
    found = None if entry is None else await working_document(session, ctype, entry_id=entry.id)
    if entry is None or found is None or not caller.may_read(found[0]["clinics"]):
        raise not_found(f"{ctype.name} with slug {slug!r} that this token may read")
    _check_clinic_writer(ctype, caller)
    doc, body = found
    if not caller.may_change(doc["clinics"]):
        raise ProblemException(
            403,
            "Forbidden",
            detail=f"This token may only change entries shown on "
            f"{', '.join(sorted(caller.clinics))} alone; this one is shown on "
            f"{', '.join(doc['clinics']) or 'no clinic'}.",
            type_=PROBLEM_BASE + "forbidden",
        )
    if entry.mirror_source is not None:
        raise mirrored_entry(ctype, entry)
    check_precondition(header, doc, body)
    return entry


def mirrored_entry(ctype: ContentType, entry: Entry) -> ProblemException:
    """The 409 of a write to an entry mirrored from another instance: it changes there only."""
    return ProblemException(
        409,
        "Mirrored entry",
        detail=f"This {ctype.name} is a read-only mirror of {entry.mirror_source} "
        f"(`cms sync pull`); change it there, and the next pull brings the change here.",
        type_=PROBLEM_BASE + "mirrored-entry",
    )


async def _readable(
    session: AsyncSession, ctype: ContentType, slug: str, caller: Caller
) -> dict[str, Any]:
    found = await working_document(session, ctype, slug=slug)
    if found is None or not caller.may_read(found[0]["clinics"]):
        raise not_found(f"{ctype.name} with slug {slug!r} that this token may read")
    return found[0]


def write_routes(ctype: ContentType) -> list[HTTPRouteHandler]:
    """The editors' routes of ``ctype``."""
    name = camel(ctype.name)
    label = ctype.label.lower()
    base = f"{API}/{ctype.plural}"
    item = f"{base}/{{slug:str}}"
    detail_struct, _item = output_structs(ctype)
    create_struct, patch_struct = input_structs(ctype)
    tags = [ctype.label]
    entry_spec = ResponseSpec(
        detail_struct, description="The working copy, with its new ETag.", generate_examples=False
    )
    missing = f"No {label} has this slug (or the token may not read it)."
    role = "The token's role may not do this, or the entry is shown on clinics outside its own."
    if ctype.name == CLINIC.name:
        role += " Only a token limited to no clinic may create or change clinics."
    body_errors = error_responses(
        http_400=BAD_BODY,
        http_403=role,
        http_415="The body is not JSON (or, for PATCH, a merge patch).",
        http_422="A field is invalid; `errors` names each.",
        **TOKEN_ERRORS,
    )
    # Changes of an entry: they need If-Match (428 without, 412 when stale).
    bad_if_match = " Or `If-Match` is not `*` or a list of quoted ETags."
    change_errors = error_responses(
        http_400=BAD_OPTIONAL_BODY + bad_if_match,
        http_403=role,
        http_404=missing,
        http_415="The body is not JSON.",
        http_422="A field is invalid; `errors` names each.",
        http_428="`If-Match` is missing.",
        **TOKEN_ERRORS,
    )
    # Changes without a body: a workflow step, a restore, a delete.
    step_errors = error_responses(
        http_400="A parameter is invalid." + bad_if_match,
        http_403=role,
        http_404=missing,
        http_422="The entry cannot take this step as it is (a publish check, a broken "
        "link, a relation to an entry deleted since); `errors` names each reason.",
        http_428="`If-Match` is missing.",
        **TOKEN_ERRORS,
    )
    delete_errors = {k: v for k, v in step_errors.items() if k != 422}
    patch_errors = {
        **change_errors,
        **error_responses(
            http_400=f"{BAD_BODY} Send `{{}}` to change nothing.{bad_if_match}",
            http_415="The body is neither a merge patch nor JSON.",
        ),
    }
    stale = {412: problem_spec("The entry changed since it was read; the body holds it now.")}
    stale[412].data_container = PreconditionFailedProblem
    mirrored = {
        409: problem_spec(
            "The entry is a read-only mirror of another instance (`mirrored-entry`); "
            "`detail` names it."
        )
    }
    conflict = {
        409: problem_spec(
            "The entry's status does not allow this step, or (taking it down) published "
            "entries link to it: `dependents` names them; `force=true` goes ahead. Or the "
            "entry is a read-only mirror of another instance (`mirrored-entry`)."
        )
    }

    @post(
        base,
        operation_id=f"create{name}",
        summary=f"Create a draft {label}",
        description="Authors, editors and admins. The new entry is a draft.",
        tags=tags,
        security=SECURITY,
        operation_class=documented(create_struct),
        status_code=201,
        responses={
            201: ResponseSpec(detail_struct, description="The draft.", generate_examples=False),
            **body_errors,
            409: problem_spec(
                "Other creates took every slug this one tried (a hundred); try again. "
                "A `slug` given and taken is a 422 naming it."
            ),
        },
    )
    async def create_handler(
        request: Request[Any, Any, Any],
        state: State,
        session: NamedDependency[AsyncSession],
        caller: NamedDependency[Caller | None],
    ) -> Response[bytes]:
        writer = require(caller, Permission.WRITE)
        _check_clinic_writer(ctype, writer)
        raw = await json_body(request, required=True)
        try:
            entry = await create_entry(session, _context(state, writer), ctype, raw, caller=writer)
            await session.commit()
        except IntegrityError as exc:
            raise ProblemException(
                409,
                "Conflict",
                detail="Another entry took this slug at the same moment; try again.",
                type_=PROBLEM_BASE + "conflict",
            ) from exc
        return await _answer(
            request, session, ctype, entry.id, status_code=201,
            headers={"Location": f"{base}/{entry.slug}"},
        )  # fmt: skip

    @patch(
        item,
        operation_id=f"update{name}",
        summary=f"Change a {label} (JSON Merge Patch)",
        description="Authors, editors and admins, with `If-Match`. Any change makes the entry "
        "a draft; its published version, if any, stays live until it is published again.",
        tags=tags,
        security=SECURITY,
        operation_class=documented(patch_struct, media_types=(MERGE_PATCH, JSON), if_match=True),
        responses={200: entry_spec, **patch_errors, **stale, **mirrored},
    )
    async def update_handler(
        request: Request[Any, Any, Any],
        state: State,
        session: NamedDependency[AsyncSession],
        caller: NamedDependency[Caller | None],
        slug: FromPath[str],
    ) -> Response[bytes]:
        writer = require(caller, Permission.WRITE)
        if_match_header(request)  # a missing precondition is the first thing to report
        body = await json_body(request, media_types=(MERGE_PATCH, JSON), required=True)
        entry = await _for_change(request, session, ctype, slug, writer)
        await update_entry(session, _context(state, writer), ctype, entry, body, caller=writer)
        await session.commit()
        return await _answer(request, session, ctype, entry.id)

    @delete(
        item,
        operation_id=f"delete{name}",
        summary=f"Delete a {label}",
        description="Editors and admins, with `If-Match`. The entry goes with its history; "
        "archive it to keep them. An entry other entries refer to (in their working copy "
        "or their published version) is not deleted: remove those references first.",
        tags=tags,
        security=SECURITY,
        operation_class=documented(if_match=True),
        status_code=204,
        response_headers=NO_STORE_HEADERS,
        responses={
            **delete_errors,
            **stale,
            409: problem_spec(
                "Other entries refer to it (`detail` names them, type/slug; remove those "
                "references or archive it instead), or published entries link to it "
                "(`dependents` names them; `force=true` goes ahead), or it is a read-only "
                "mirror of another instance (`mirrored-entry`)."
            ),
        },
    )
    async def delete_handler(
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        caller: NamedDependency[Caller | None],
        state: State,
        slug: FromPath[str],
        force: Annotated[bool, QueryParameter(description=FORCE_TAKE_DOWN)] = False,
    ) -> None:
        editor = require(caller, Permission.DELETE)
        entry = await _for_change(request, session, ctype, slug, editor)
        await workflow.delete_entry(session, _context(state, editor, force=force), entry)
        await session.commit()

    Step = Callable[[AsyncSession, WriteContext, ContentType, Entry], Awaitable[None]]

    def step_route(
        action: str,
        permission: Permission,
        step: Step,
        summary: str,
        description: str,
        force_text: str = "Ignored by this step.",
    ) -> HTTPRouteHandler:
        @post(
            f"{item}/{action}",
            operation_id=f"{action}{name}",
            summary=summary,
            description=description,
            tags=tags,
            security=SECURITY,
            operation_class=documented(if_match=True),
            status_code=200,
            responses={200: entry_spec, **step_errors, **stale, **conflict},
        )
        async def step_handler(
            request: Request[Any, Any, Any],
            state: State,
            session: NamedDependency[AsyncSession],
            caller: NamedDependency[Caller | None],
            slug: FromPath[str],
            force: Annotated[bool, QueryParameter(description=force_text)] = False,
        ) -> Response[bytes]:
            actor = require(caller, permission)
            entry = await _for_change(request, session, ctype, slug, actor)
            await step(session, _context(state, actor, force=force), ctype, entry)
            await session.commit()
            return await _answer(request, session, ctype, entry.id)

        return step_handler

    submit_handler = step_route(
        "submit",
        Permission.SUBMIT,
        workflow.submit,
        f"Submit a draft {label} for review",
        "Authors, editors and admins, with `If-Match`: draft → in_review.",
    )
    unpublish_handler = step_route(
        "unpublish",
        Permission.PUBLISH,
        workflow.unpublish,
        f"Unpublish a {label}",
        "Editors and admins, with `If-Match`. The published version goes down (and a "
        "schedule is cancelled); the entry becomes a draft. Refused (409) while published "
        "entries link to it, unless `force=true`.",
        FORCE_TAKE_DOWN,
    )
    archive_handler = step_route(
        "archive",
        Permission.PUBLISH,
        workflow.archive,
        f"Archive a {label}",
        "Editors and admins, with `If-Match`. Off the public API, kept with its history. "
        "Refused (409) while published entries link to it, unless `force=true`.",
        FORCE_TAKE_DOWN,
    )

    @post(
        f"{item}/publish",
        operation_id=f"publish{name}",
        summary=f"Publish or schedule a {label}",
        description="Editors and admins, with `If-Match`. Without `at` (or with a past one) "
        "the working copy goes live now; with a future `at` it is scheduled and goes live "
        "then, within seconds, whether or not the server restarted in between.",
        tags=tags,
        security=SECURITY,
        operation_class=documented(PublishRequest, required=False, if_match=True),
        status_code=200,
        responses={200: entry_spec, **change_errors, **stale, **conflict},
    )
    async def publish_handler(
        request: Request[Any, Any, Any],
        state: State,
        session: NamedDependency[AsyncSession],
        caller: NamedDependency[Caller | None],
        slug: FromPath[str],
        force: Annotated[bool, QueryParameter(description=FORCE_PUBLISH)] = False,
    ) -> Response[bytes]:
        editor = require(caller, Permission.PUBLISH)
        if_match_header(request)
        wanted = convert_body(await json_body(request), PublishRequest)
        if wanted.at is not None and wanted.at.tzinfo is None:
            raise InvalidInput([FieldError("at", "needs a time zone, e.g. `Z` for UTC")])
        if wanted.at is not None:
            try:
                wanted.at.astimezone(dt.UTC)
            except OverflowError as exc:
                raise InvalidInput([FieldError("at", "is out of range")]) from exc
        entry = await _for_change(request, session, ctype, slug, editor)
        await workflow.publish(
            session, _context(state, editor, force=force), ctype, entry, at=wanted.at
        )
        await session.commit()
        return await _answer(request, session, ctype, entry.id)

    @post(
        f"{item}/preview",
        operation_id=f"preview{name}",
        summary=f"Make a preview link to a {label}",
        description="Any token that may read the entry. The link shows the working copy, "
        "without a token, until it expires; it is signed, so it cannot be altered. It works "
        "only while the token that asked for it does: revoking the token revokes its links.",
        tags=tags,
        security=SECURITY,
        operation_class=documented(PreviewRequest, required=False),
        status_code=200,
        responses={
            200: ResponseSpec(PreviewLink, description="The link.", generate_examples=False),
            **error_responses(
                http_400=BAD_OPTIONAL_BODY,
                http_403="The token's role may not read drafts.",
                http_404=missing,
                http_415="The body is not JSON.",
                http_422="A field is invalid; `errors` names it.",
                **TOKEN_ERRORS,
            ),
        },
    )
    async def preview_handler(
        request: Request[Any, Any, Any],
        state: State,
        session: NamedDependency[AsyncSession],
        caller: NamedDependency[Caller | None],
        slug: FromPath[str],
    ) -> Response[PreviewLink]:
        reader = require(caller, Permission.READ_DRAFTS)
        wanted = convert_body(await json_body(request), PreviewRequest)
        # The key first: the first time, it is written in a session of its
        # own, which must not wait for this request's (a writing one) to end.
        key = await signing_key(state)
        doc = await _readable(session, ctype, slug, reader)
        token, expires = sign_preview(
            key,
            ctype.name,
            doc["id"],
            reader.token_id,
            wanted.expires_in,
            now=state.services.clock(),
        )
        # From the configured base, never the request's Host: a forged Host would
        # otherwise hand the editor a link to someone else's server.
        url = f"{state.services.settings.public_base}{API}/preview/{token}"
        link = PreviewLink(
            url=url, token=token, expires_at=dt.datetime.fromtimestamp(expires, dt.UTC)
        )
        return Response(link, headers=NO_STORE)

    read_errors = error_responses(
        http_400="A parameter is invalid.",
        http_403="The token's role may not read drafts.",
        http_404=missing,
        **TOKEN_ERRORS,
    )

    @get(
        f"{item}/revisions",
        operation_id=f"list{name}Revisions",
        summary=f"List the versions of a {label}",
        description="Any token that may read the entry: who changed it, when, how, and which "
        "fields, newest first.",
        tags=tags,
        security=SECURITY,
        responses={
            200: ResponseSpec(
                EntryRevisionList, description="One page of versions.", generate_examples=False
            ),
            **read_errors,
        },
    )
    async def revisions_handler(
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        caller: NamedDependency[Caller | None],
        slug: FromPath[str],
        limit: Annotated[int, params.limit("Versions per page.")] = params.DEFAULT_LIMIT,
        cursor: params.Cursor = None,
    ) -> Response[bytes]:
        reader = require(caller, Permission.READ_DRAFTS)
        before = None
        if cursor is not None:
            # ASCII digits only ("²".isdigit() is true), and no more than a version can be.
            if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= MAX_VERSION_DIGITS):
                raise InvalidParameter("cursor", "is not a cursor this API issued")
            before = int(cursor)
        doc = await _readable(session, ctype, slug, reader)
        page, next_before = await list_revisions(session, doc["id"], limit=limit, before=before)
        body = encode_json(
            EntryRevisionList(
                data=[_revision(r) for r in page],
                next_cursor=None if next_before is None else str(next_before),
            )
        )
        return json_response(request, body, cache_control=PRIVATE, vary="Authorization")

    @get(
        f"{item}/revisions/{{version:int}}",
        operation_id=f"get{name}Revision",
        summary=f"Get a {label} as it was at one version",
        tags=tags,
        security=SECURITY,
        responses={
            200: ResponseSpec(
                EntryRevisionDetail,
                description="The version and the entry.",
                generate_examples=False,
            ),
            **read_errors,
        },
    )
    async def revision_handler(
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        caller: NamedDependency[Caller | None],
        slug: FromPath[str],
        version: Version,
    ) -> Response[bytes]:
        reader = require(caller, Permission.READ_DRAFTS)
        doc = await _readable(session, ctype, slug, reader)
        found = await get_revision(session, doc["id"], version)
        if found is None:
            raise not_found(f"version {version} of {ctype.name} {slug!r}")
        info, snapshot = found
        detail = EntryRevisionDetail(**msgspec.structs.asdict(_revision(info)), entry=snapshot)
        body = encode_json(detail)
        return json_response(request, body, cache_control=PRIVATE, vary="Authorization")

    @post(
        f"{item}/revisions/{{version:int}}/restore",
        operation_id=f"restore{name}Revision",
        summary=f"Restore a {label} to an earlier version",
        description="Authors, editors and admins, with `If-Match`. The old content becomes a "
        "new version (history is never rewritten) and the entry a draft; slug and URL stay.",
        tags=tags,
        security=SECURITY,
        operation_class=documented(if_match=True),
        status_code=200,
        responses={200: entry_spec, **step_errors, **stale, **mirrored},
    )
    async def restore_handler(
        request: Request[Any, Any, Any],
        state: State,
        session: NamedDependency[AsyncSession],
        caller: NamedDependency[Caller | None],
        slug: FromPath[str],
        version: Version,
    ) -> Response[bytes]:
        writer = require(caller, Permission.WRITE)
        entry = await _for_change(request, session, ctype, slug, writer)
        found = await get_revision(session, entry.id, version)
        if found is None:
            raise not_found(f"version {version} of {ctype.name} {slug!r}")
        await restore_revision(
            session, _context(state, writer), ctype, entry, found[1], caller=writer
        )
        await session.commit()
        return await _answer(request, session, ctype, entry.id)

    return [
        create_handler,
        update_handler,
        delete_handler,
        submit_handler,
        publish_handler,
        unpublish_handler,
        archive_handler,
        preview_handler,
        revisions_handler,
        revision_handler,
        restore_handler,
    ]
