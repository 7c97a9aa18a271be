"""``If-Match`` on changing requests: 428 when missing, 412 (with the current version) when stale.

The ETag compared is the strong ETag of the entry's working copy exactly as
``GET`` answers it to a token, so a client sends back what it read.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request

from cms.http.cache_headers import etag_for
from cms.http.problems import PROBLEM_BASE, Problem, ProblemError, ProblemException


class PreconditionFailedProblem(Problem):
    """A 412: the entry changed since the client read it. Here is what it is now."""

    current_version: int = 0
    current_etag: str = ""
    current: dict[str, Any] = msgspec.field(default_factory=dict)
    """The entry as `GET` answers it now, to merge with and try again."""


_ENTITY_TAG = r'(?:W/)?"[\x21\x23-\x7e]*"'
IF_MATCH_PATTERN = rf"^(?:\*|{_ENTITY_TAG}(?:[ \t]*,[ \t]*{_ENTITY_TAG})*)$(?!\n)"
"""RFC 9110's ``If-Match``: ``*``, or a comma-separated list of quoted entity tags."""
IF_MATCH_RE = re.compile(IF_MATCH_PATTERN)


def if_match_header(request: Request[Any, Any, Any]) -> str:
    """The ``If-Match`` header of a changing request.

    Raises:
        ProblemException: 428 when there is none; 400 when it is not ``*`` or
            a list of entity tags (``"abc"``, quotes included).
    """
    header = request.headers.get("if-match")
    if header is not None and header.strip() and not IF_MATCH_RE.match(header.strip()):
        raise ProblemException(
            400,
            "Invalid If-Match",
            detail='Send If-Match as the ETag you read, quotes included ("…"), or `*`.',
            type_=PROBLEM_BASE + "invalid-parameter",
            errors=[
                ProblemError(
                    name="If-Match",
                    reason="is not `*` or a list of quoted entity tags",
                    location="header",
                ),
            ],
            headers={"Cache-Control": "no-store"},
        )
    if header is None or not header.strip():
        raise ProblemException(
            428,
            "Precondition required",
            detail="Send If-Match with the ETag of the entry as you read it, so that "
            "no one else's change is overwritten.",
            type_=PROBLEM_BASE + "precondition-required",
            errors=[
                ProblemError(name="If-Match", reason="missing", location="header"),
            ],
            headers={"Cache-Control": "no-store"},
        )
    return header


def etag_matches_strongly(header: str, etag: str) -> bool:
    """RFC 9110 If-Match: ``*`` or a listed strong ETag equal to ``etag`` (weak never match)."""
    if header.strip() == "*":
        return True
    return etag in (tag.strip() for tag in header.split(","))


def check_precondition(header: str, doc: dict[str, Any], body: bytes) -> None:
    """Pass when ``header`` names the current ETag of ``body``.

    Raises:
        ProblemException: 412 carrying the current version, ETag and entry.
    """
    etag = etag_for(body)
    if etag_matches_strongly(header, etag):
        return
    exc = ProblemException(
        412,
        "Precondition failed",
        detail=f"The entry changed since you read it; it is at version {doc['version']} now. "
        "Apply your change to the current version and send it with its ETag.",
        type_=PROBLEM_BASE + "precondition-failed",
        errors=[ProblemError(name="If-Match", reason="stale", location="header")],
        headers={"ETag": etag, "Cache-Control": "no-store"},
    )
    exc.problem = PreconditionFailedProblem(
        **{f: getattr(exc.problem, f) for f in Problem.__struct_fields__},
        current_version=doc["version"],
        current_etag=etag,
        current=doc,
    )
    raise exc
