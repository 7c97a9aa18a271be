"""RFC 9457 problem responses for every error, and their OpenAPI description.

Every error the API answers is ``application/problem+json``. Validation
problems list each offending parameter or field in ``errors``. Unexpected
exceptions are logged and answered with a bare 500 problem: never a traceback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from cms.editorial.lifecycle import PublishRefused
from cms.errors import (
    BrokenLinks,
    Conflict,
    FieldError,
    Forbidden,
    InvalidEntry,
    InvalidInput,
    InvalidParameter,
    LinkedFromPublished,
)
from cms.http.json_text import encode_json
from cms.http.methods import with_head
from cms.reading.links import BrokenLink, Dependent
from cms.schemas import Base
from cms.storage.db import Fault, database_fault

PROBLEM_MEDIA_TYPE = "application/problem+json"
_MISSING_RE = re.compile(r"^Missing required (?P<where>\w+) parameter '(?P<name>[^']+)'")
PROBLEM_BASE = "urn:clinic-cms:problem:"
logger = logging.getLogger("cms.http")


class ProblemError(Base):
    """One invalid parameter or field."""

    name: str
    """The query parameter, header or body field (dotted path for nested ones)."""
    reason: str
    location: str = "query"
    """Where it was: `query`, `path`, `header` or `body`."""


class Problem(Base):
    """An RFC 9457 problem details object."""

    title: str
    status: int
    type: str = "about:blank"
    """A URN naming the kind of problem, e.g. `urn:clinic-cms:problem:not-found`."""
    detail: str = ""
    instance: str = ""
    errors: list[ProblemError] = msgspec.field(default_factory=list)


class ProblemException(HTTPException):
    """An error to answer with a problem response of our own wording."""

    def __init__(
        self,
        status_code: int,
        title: str,
        *,
        detail: str = "",
        type_: str = "about:blank",
        errors: list[ProblemError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail=detail or title, status_code=status_code, headers=headers)
        self.problem = Problem(
            type=type_, title=title, status=status_code, detail=detail, errors=errors or []
        )


def problem_response(
    request: Request[Any, Any, Any], problem: Problem, headers: dict[str, str] | None = None
) -> Response[bytes]:
    """Encode ``problem`` with the request path as its instance."""
    problem = msgspec.structs.replace(problem, instance=request.url.path)
    return Response(
        content=encode_json(problem),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def not_found(what: str) -> ProblemException:
    """A 404 naming what was looked for."""
    return ProblemException(
        404, "Not found", detail=f"No {what}.", type_=PROBLEM_BASE + "not-found"
    )


def _unprocessable(title: str, kind: str, exc: InvalidEntry | InvalidInput) -> ProblemException:
    """A 422 of type ``kind`` listing each field error of ``exc``."""
    return ProblemException(
        422,
        title,
        detail=str(exc),
        type_=PROBLEM_BASE + kind,
        errors=[_field(e) for e in exc.errors],
    )


def invalid_entry(exc: InvalidEntry) -> ProblemException:
    """A 422 naming each invalid field of a written entry."""
    return _unprocessable("Invalid entry", "invalid-entry", exc)


def publish_refused(exc: PublishRefused) -> ProblemException:
    """A 422 listing every reason the plugins gave for refusing to publish."""
    return _unprocessable("Publishing refused", "publish-refused", exc)


def invalid_input(exc: InvalidInput) -> ProblemException:
    """A 422 naming each invalid field of a request body."""
    return _unprocessable("Invalid request body", "invalid-body", exc)


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


def _field(error: FieldError) -> ProblemError:
    return ProblemError(name=error.field, reason=error.message, location="body")


def _handle_forbidden(request: Request[Any, Any, Any], exc: Forbidden) -> Response[bytes]:
    errors = (
        [ProblemError(name=exc.field, reason=exc.message, location="body")] if exc.field else []
    )
    return problem_response(
        request,
        Problem(
            type=PROBLEM_BASE + "forbidden",
            title="Forbidden",
            status=403,
            detail=exc.message,
            errors=errors,
        ),
    )


def _handle_conflict(request: Request[Any, Any, Any], exc: Conflict) -> Response[bytes]:
    return problem_response(
        request,
        Problem(type=PROBLEM_BASE + "conflict", title="Conflict", status=409, detail=str(exc)),
    )


def _handle_linked_from_published(
    request: Request[Any, Any, Any], exc: LinkedFromPublished
) -> Response[bytes]:
    return problem_response(request, linked_from_published(exc.target, exc.dependents).problem)


def _handle_broken_links(request: Request[Any, Any, Any], exc: BrokenLinks) -> Response[bytes]:
    return problem_response(request, broken_links_problem(exc.broken).problem)


def _handle_invalid_entry(request: Request[Any, Any, Any], exc: InvalidEntry) -> Response[bytes]:
    return problem_response(request, invalid_entry(exc).problem)


def _handle_invalid_input(request: Request[Any, Any, Any], exc: InvalidInput) -> Response[bytes]:
    return problem_response(request, invalid_input(exc).problem)


def _handle_problem(request: Request[Any, Any, Any], exc: ProblemException) -> Response[bytes]:
    return problem_response(request, exc.problem, exc.headers)


def _handle_publish_refused(
    request: Request[Any, Any, Any], exc: PublishRefused
) -> Response[bytes]:
    return problem_response(request, publish_refused(exc).problem)


def _handle_invalid_parameter(
    request: Request[Any, Any, Any], exc: InvalidParameter
) -> Response[bytes]:
    return problem_response(
        request,
        Problem(
            type=PROBLEM_BASE + "invalid-parameter",
            title="Invalid query parameter",
            status=400,
            detail=str(exc),
            errors=[ProblemError(name=name, reason=message) for name, message in exc.errors],
        ),
    )


def _handle_validation(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[bytes]:
    # Litestar lists each bad parameter as {"key", "message", "source"}.
    extra = exc.extra if isinstance(exc.extra, list) else []
    errors = [
        ProblemError(
            name=str(item.get("key", "")),
            reason=str(item.get("message", "")),
            location=str(getattr(item.get("source"), "value", item.get("source") or "query")),
        )
        for item in extra
        if isinstance(item, dict)
    ]
    # A missing required parameter is only named in the message.
    missing = _MISSING_RE.match(str(exc.detail))
    if not errors and missing:
        errors = [
            ProblemError(name=missing["name"], reason="is required", location=missing["where"])
        ]
    names = ", ".join(e.name for e in errors if e.name)
    return problem_response(
        request,
        Problem(
            type=PROBLEM_BASE + "invalid-parameter",
            title="Invalid request",
            status=400,
            detail=f"Invalid value for {names}." if names else str(exc.detail),
            errors=errors,
        ),
    )


def _handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    title = "Not found" if isinstance(exc, NotFoundException) else str(exc.detail)
    return problem_response(
        request,
        Problem(title=title, status=exc.status_code, detail=str(exc.detail)),
        exc.headers,
    )


def _handle_method_not_allowed(
    request: Request[Any, Any, Any], exc: MethodNotAllowedException
) -> Response[bytes]:
    allow = with_head((exc.headers or {}).get("allow", ""))
    return problem_response(
        request,
        Problem(
            title="Method not allowed",
            status=405,
            detail=f"{request.method} is not allowed here; this path takes {allow}.",
        ),
        {"Allow": allow},
    )


RETRY_UNAVAILABLE = "5"
"""Seconds a client should wait before trying again when the database cannot be reached."""
RETRY_FULL = "60"
"""Seconds before trying a write again when the database has no space: an operator must act."""


def _database_problem(
    request: Request[Any, Any, Any], exc: Exception, fault: Fault
) -> Response[bytes]:
    # One log line, no traceback: the cause is outside the code.
    logger.error("database %s on %s %s: %s", fault, request.method, request.url.path, exc)
    if fault == "full":
        problem = Problem(
            type=PROBLEM_BASE + "storage-full",
            title="Storage full",
            status=503,
            detail="The content store has no space left for this change; reads still "
            "work. Try again later.",
        )
        return problem_response(request, problem, {"Retry-After": RETRY_FULL})
    problem = Problem(
        type=PROBLEM_BASE + "database-unavailable",
        title="Database unavailable",
        status=503,
        detail="The content store cannot be reached; try again shortly.",
    )
    return problem_response(request, problem, {"Retry-After": RETRY_UNAVAILABLE})


def _handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    # A database that is down, restarting or full is a 503 the client may retry,
    # whatever raised it (a handler, a plugin's hook); anything else is a bug.
    fault = database_fault(exc)
    if fault is not None:
        return _database_problem(request, exc, fault)
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        request,
        Problem(
            title="Internal server error",
            status=HTTP_500_INTERNAL_SERVER_ERROR,
            detail="The error was logged.",
        ),
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ProblemException: _handle_problem,
    PublishRefused: _handle_publish_refused,
    InvalidEntry: _handle_invalid_entry,
    InvalidInput: _handle_invalid_input,
    Forbidden: _handle_forbidden,
    Conflict: _handle_conflict,
    LinkedFromPublished: _handle_linked_from_published,
    BrokenLinks: _handle_broken_links,
    InvalidParameter: _handle_invalid_parameter,
    ValidationException: _handle_validation,
    MethodNotAllowedException: _handle_method_not_allowed,
    HTTPException: _handle_http,
    Exception: _handle_unexpected,
}


def problem_spec(description: str) -> ResponseSpec:
    """The OpenAPI description of a problem response."""
    return ResponseSpec(
        data_container=Problem,
        description=description,
        media_type=PROBLEM_MEDIA_TYPE,
        generate_examples=False,
    )


def error_responses(**described: str) -> dict[int, ResponseSpec]:
    """Problem responses for the ``http_<status>`` codes given, and the 500 and 503 any may give."""
    specs = {int(key.removeprefix("http_")): problem_spec(text) for key, text in described.items()}
    specs[500] = problem_spec("An unexpected error; it was logged, and no details are given.")
    specs.setdefault(
        503,
        problem_spec(
            "The database cannot be reached (`database-unavailable`) or has no space left "
            "(`storage-full`); retry after `Retry-After` seconds."
        ),
    )
    return specs
