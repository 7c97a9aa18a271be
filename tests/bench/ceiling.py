"""The benchmark's ceiling: the least a Litestar app can do per JSON request.

``run.py`` serves it with ``cms serve --app tests.bench.ceiling:create_app``,
the very command and uvicorn settings of the CMS, so the ratio of the CMS's
requests per second to this app's shows what the CMS adds on top of the
server and the framework (routing, the database, encoding its documents).
"""

from __future__ import annotations

import msgspec
from litestar import Litestar, get

PATH = "/ceiling"


class Item(msgspec.Struct, kw_only=True):
    """An article list item, shaped like the CMS's."""

    id: str
    slug: str
    title: str
    summary: str
    clinics: list[str]
    tags: list[str]
    author: str
    conditions: list[str]
    published_at: str
    reading_time_minutes: int


class Page(msgspec.Struct, kw_only=True):
    """A page of items with the CMS's list envelope."""

    data: list[Item]
    next_cursor: str | None


def _item(n: int) -> Item:
    """The ``n``-th fixed item (about 480 bytes of JSON)."""
    return Item(
        id=f"00000000-0000-4000-8000-{n:012d}",
        slug=f"ceiling-article-{n}",
        title=f"Ceiling article number {n} about low back pain",
        summary="A fixed summary of a fixed article: it is the same on every request, "
        "so that the response costs only what the framework and the server cost.",
        clinics=["edmonton", "calgary"],
        tags=["back-pain", "acupuncture"],
        author="lena-marchetti",
        conditions=["low-back-pain", "sciatica"],
        published_at="2025-01-13T16:00:00Z",
        reading_time_minutes=2,
    )


# Three items: about 1.5 KB of JSON, the size of a short CMS list page.
PAGE = Page(data=[_item(n) for n in range(3)], next_cursor="eyJrIjoiY2VpbGluZyJ9")


@get(PATH)
async def ceiling() -> Page:
    """The same page on every request."""
    return PAGE


def create_app() -> Litestar:
    """The ceiling app: one GET route, no database, no middleware."""
    return Litestar(route_handlers=[ceiling], debug=False)
