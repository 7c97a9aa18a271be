"""The editors' view of one entry: its working copy, as every editor route answers it.

The ``GET`` of an entry with a token and every write answer the same bytes
for the same state, so the ETag an editor reads is the one ``If-Match``
compares against.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.contenttypes import ContentType
from cms.editorial.entries import read_entry
from cms.http.cache_headers import PRIVATE, json_response
from cms.http.json_text import encode_json
from cms.urls import API


async def working_document(
    session: AsyncSession,
    ctype: ContentType,
    *,
    slug: str | None = None,
    entry_id: str | None = None,
) -> tuple[dict[str, Any], bytes] | None:
    """The working copy of an entry, decoded and encoded, or None when there is none."""
    doc = await read_entry(session, ctype, slug, published_only=False, entry_id=entry_id)
    if doc is None:
        return None
    return doc, encode_json(doc)


def working_response(
    request: Request[Any, Any, Any],
    body: bytes,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    """A private answer holding a working copy, with its strong ETag."""
    response = json_response(
        request, body, cache_control=PRIVATE, vary="Authorization", status_code=status_code
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def redirect_response(ctype: ContentType, slug: str, *, cache_control: str) -> Response[bytes]:
    """A 301 from an old slug to the entry's current one."""
    return Response(
        content=b"",
        status_code=301,
        headers={
            "Location": f"{API}/{ctype.plural}/{slug}",
            "Cache-Control": cache_control,
            "Vary": "Authorization",
        },
    )
