"""``GET /api/v1/preview/{token}``: an entry's working copy through a signed link, no token."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.access.tokens import Permission, active_token
from cms.editorial.preview import PreviewExpired, PreviewInvalid, preview_key, verify_preview
from cms.http.editorial.working import working_document, working_response
from cms.http.problems import PROBLEM_BASE, ProblemException, error_responses, not_found
from cms.urls import API

NO_STORE = {"Cache-Control": "no-store"}
# Preview pages must never be indexed, nor leak the link in a Referer.
PREVIEW_HEADERS = {"X-Robots-Tag": "noindex, nofollow", "Referrer-Policy": "no-referrer"}


async def signing_key(state: State) -> bytes:
    """The app's preview-link key, read once and kept for the life of the app."""
    services = state.services
    key: bytes | None = services.keys.get("preview")
    if key is None:
        key = services.keys["preview"] = await preview_key(
            services.sessions, services.settings.secret_key
        )
    return key


@get(
    f"{API}/preview/{{token:str}}",
    operation_id="getPreview",
    summary="Open a preview link",
    description="The entry's working copy, whatever its status, as editors see it. No token: "
    "the link itself is the credential, signed and expiring. It works only while the token "
    "that asked for it is neither revoked nor expired and may still read the entry.",
    tags=["Preview"],
    responses={
        200: ResponseSpec(
            None, description="The entry (the shape of its type's detail).", generate_examples=False
        ),
        **error_responses(
            http_400="The request is malformed.",
            http_403="The link was altered or not made by this server, or the token that "
            "asked for it may no longer read the entry.",
            http_404="The entry no longer exists.",
            http_410="The link has expired, or the token that asked for it was revoked or "
            "has expired; ask for a new one.",
        ),
    },
)
async def preview_handler(
    request: Request[Any, Any, Any],
    state: State,
    session: NamedDependency[AsyncSession],
    token: FromPath[str],
) -> Response[bytes]:
    """Answer the working copy a valid, unexpired preview link names."""
    try:
        type_name, entry_id, token_id = verify_preview(
            await signing_key(state), token, now=state.services.clock()
        )
    except PreviewInvalid as exc:
        raise ProblemException(
            403,
            "Invalid preview link",
            detail="This preview link was altered or not made by this server.",
            type_=PROBLEM_BASE + "invalid-preview",
            headers=NO_STORE,
        ) from exc
    except PreviewExpired as exc:
        raise _expired("This preview link has expired; ask an editor for a new one.") from exc
    # The link vouches for what its token may read, while the token does.
    caller = await active_token(session, token_id, now=state.services.clock())
    if caller is None:
        raise _expired(
            "The token that made this preview link was revoked or has expired; "
            "ask an editor for a new one."
        )
    ctype = state.services.plugins.types.get(type_name)
    found = None if ctype is None else await working_document(session, ctype, entry_id=entry_id)
    if found is None:
        raise not_found("entry for this preview link")
    if not caller.can(Permission.READ_DRAFTS) or not caller.may_read(found[0]["clinics"]):
        raise ProblemException(
            403,
            "Preview not allowed",
            detail="The token that made this preview link may no longer read this entry.",
            type_=PROBLEM_BASE + "forbidden",
            headers=NO_STORE,
        )
    return working_response(request, found[1], headers=PREVIEW_HEADERS)


def _expired(detail: str) -> ProblemException:
    return ProblemException(
        410,
        "Preview link expired",
        detail=detail,
        type_=PROBLEM_BASE + "preview-expired",
        headers=NO_STORE,
    )
