"""Atom, RSS and JSON Feed routes: ``/api/v1/{plural}/{slug}/feed.atom|rss|json``.

Every type with ``has_feed`` gets the three routes (clinics and conditions in
the core, series while the blog series plugin is on); each is owned by the
plugin of its type, so disabling a plugin removes its feeds. What a feed
holds is read by :func:`cms.reading.feeds.read_feed`; this module writes it
out: Atom and RSS with feedgen, JSON Feed 1.1 with the msgspec Structs
below (no maintained Python library for it was fit to depend on; see
``docs/api.md``).

Feeds are public reads: they go through the response cache, built on a miss
only, with strong ETags, ``Cache-Control: public`` and ``Surrogate-Key``.
"""

# No `from __future__ import annotations`: Litestar evaluates the handlers'
# annotations, which refer to values local to `feed_routes`.

import datetime as dt
import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import msgspec
from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem
from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import PathParameter
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

import cms
from cms.contenttypes import ContentType, TypeRegistry
from cms.http import params
from cms.http.cache_headers import PUBLIC_VARY, public_cache_control
from cms.http.json_text import encode_json
from cms.http.problems import error_responses, not_found
from cms.http.reading.entries import camel
from cms.http.response_cache import ResponseCache, cached_json
from cms.reading.feeds import Feed, read_feed
from cms.settings import Settings
from cms.syndication import cache_keys
from cms.urls import API

ATOM = "application/atom+xml"
RSS = "application/rss+xml"
JSON_FEED = "application/feed+json"
JSON_FEED_VERSION: Literal["https://jsonfeed.org/version/1.1"] = "https://jsonfeed.org/version/1.1"
ATOM_NS = "http://www.w3.org/2005/Atom"


# --- JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/) ---------------------
# The fields this CMS fills, named and typed as the spec names them; absent
# values are left out, as the spec prefers to empty ones.


class JsonFeedAuthor(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An author object: at least one of its fields is present."""

    name: str | None = None
    url: str | None = None
    avatar: str | None = None


class JsonFeedItem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An item: ``id`` and one of ``content_html`` or ``content_text`` are required."""

    id: str
    url: str | None = None
    title: str | None = None
    content_html: str
    summary: str | None = None
    image: str | None = None
    date_published: dt.datetime | None = None
    date_modified: dt.datetime | None = None
    authors: list[JsonFeedAuthor] | None = None
    tags: list[str] | None = None


class JsonFeed(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The top-level object; ``version`` comes first, as the spec asks."""

    version: Literal["https://jsonfeed.org/version/1.1"]
    title: str
    home_page_url: str | None = None
    feed_url: str | None = None
    description: str | None = None
    next_url: str | None = None
    authors: list[JsonFeedAuthor] | None = None
    items: list[JsonFeedItem]


@dataclass(frozen=True)
class Links:
    """The absolute URLs of a feed page: itself, the first page, the next one."""

    self: str
    first: str
    next: str | None


def render_json(feed: Feed, links: Links) -> bytes:
    """JSON Feed 1.1: ``feed_url`` is the first page, ``next_url`` the next one."""
    document = JsonFeed(
        version=JSON_FEED_VERSION,
        title=feed.title,
        home_page_url=feed.home_page_url,
        feed_url=links.first,
        description=feed.description,
        next_url=links.next,
        authors=[JsonFeedAuthor(name=a.name, url=a.url) for a in feed.authors] or None,
        items=[
            JsonFeedItem(
                id=item.id,
                url=item.url,
                title=item.title,
                content_html=item.content_html,
                summary=item.summary or None,
                date_published=item.published,
                date_modified=item.updated,
                authors=[JsonFeedAuthor(name=a.name, url=a.url) for a in item.authors] or None,
                tags=[c.label for c in item.categories] or None,
            )
            for item in feed.items
        ],
    )
    return encode_json(document)


# --- Atom and RSS, with feedgen ---------------------------------------------------


class _RssPaging(BaseExtension):  # type: ignore[misc]
    """RFC 5005 paging links in an RSS channel, as ``atom:link`` (feedgen writes only ``self``)."""

    def __init__(self) -> None:
        self.links: list[tuple[str, str]] = []

    def extend_ns(self) -> dict[str, str]:
        return {}  # feedgen declares the Atom namespace in every RSS document

    def extend_rss(self, rss_feed: Any) -> Any:
        channel = rss_feed.find("channel")
        for rel, href in self.links:
            xml_elem(f"{{{ATOM_NS}}}link", channel, href=href, rel=rel)
        return rss_feed

    def extend_atom(self, atom_feed: Any) -> Any:
        return atom_feed


# Characters XML 1.0 cannot carry (control characters a pasted title or body
# may hold, such as Word's vertical tab): left out of Atom and RSS, which
# would otherwise fail to serialise. JSON Feed keeps them, escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("", text)


def _rss_html(text: str) -> str:
    """Plain text for an RSS element that readers take as HTML: escaped as HTML here.

    The RSS specification lets ``description`` hold HTML, and readers take it
    (and titles, which the specification leaves unsaid) as HTML: a summary
    reading ``<img src=x onerror=...>`` would reach them as an element if it
    were only escaped once, as XML (feedgen does that). Escaped as HTML first,
    it reaches them as the text it is; feedparser then reports it as
    ``text/html`` holding ``&lt;img ...``, and ``&`` as ``&amp;``. Atom says
    ``type="text"`` and JSON Feed's ``title`` and ``summary`` are plain
    text by definition: both are sent as they are.
    """
    return html.escape(_xml(text), quote=False)


def _generator(feed: Feed, links: Links, *, rss: bool) -> Any:
    # Titles and descriptions are plain text: HTML-escaped for RSS (see _rss_html).
    text = _rss_html if rss else _xml
    fg = FeedGenerator()
    fg.id(feed.id)
    fg.title(text(feed.title))
    fg.description(text(feed.description))
    fg.updated(feed.updated)
    fg.generator("Clinic CMS", version=cms.__version__)
    for author in feed.authors:
        fg.author({"name": _xml(author.name), **({"uri": author.url} if author.url else {})})
    media = RSS if rss else ATOM
    fg.link(href=links.self, rel="self", type=media)
    if rss:
        # RSS has one channel link, the last `alternate` one: the home page.
        fg.register_extension("paging", _RssPaging, atom=False, rss=True)
        fg.paging.links = [("first", links.first)] + ([("next", links.next)] if links.next else [])
        fg.load_extension("dc", atom=False, rss=True)
    else:
        fg.link(href=links.first, rel="first", type=media)
        if links.next:
            fg.link(href=links.next, rel="next", type=media)
    fg.link(href=feed.home_page_url or links.first, rel="alternate", type="text/html")
    for item in feed.items:
        entry = fg.add_entry(order="append")
        entry.id(item.id)
        entry.title(text(item.title))
        entry.published(item.published)
        entry.updated(item.updated)
        if item.url:
            entry.link(href=item.url, rel="alternate", type="text/html")
        if item.summary:
            entry.summary(text(item.summary))
        entry.content(_xml(item.content_html), type="CDATA" if rss else "html")
        for author in item.authors:
            if rss:
                entry.dc.dc_creator(_xml(author.name))
            else:
                uri = {"uri": author.url} if author.url else {}
                entry.author({"name": _xml(author.name), **uri})
        for category in item.categories:
            entry.category(
                term=_xml(category.term),
                scheme=category.scheme,
                label=_xml(category.label),
            )
    return fg


def render_atom(feed: Feed, links: Links) -> bytes:
    """Atom (RFC 4287) with RFC 5005 paging links: ``self``, ``first``, ``next``."""
    body: bytes = _generator(feed, links, rss=False).atom_str(pretty=False)
    return body


def render_rss(feed: Feed, links: Links) -> bytes:
    """RSS 2.0: full HTML in ``content:encoded``, authors as ``dc:creator``."""
    body: bytes = _generator(feed, links, rss=True).rss_str(pretty=False)
    return body


@dataclass(frozen=True)
class Format:
    """One feed format: its file extension, media type and writer."""

    extension: str
    label: str
    media_type: str
    render: Callable[[Feed, Links], bytes]
    schema: Any
    """What the OpenAPI document says the body is: XML text, or the JSON Feed object."""


FORMATS = (
    Format("atom", "Atom", ATOM, render_atom, str),
    Format("rss", "RSS", RSS, render_rss, str),
    Format("json", "JSON Feed", JSON_FEED, render_json, JsonFeed),
)


def _page_url(page: str, **query: Any) -> str:
    """``page`` (an absolute URL) with ``query`` (None values left out)."""
    kept = {k: v for k, v in query.items() if v is not None}
    return page + ("?" + urlencode(kept) if kept else "")


def feed_routes(
    settings: Settings,
    types: TypeRegistry,
    cache: ResponseCache,
    sessions: async_sessionmaker[AsyncSession],
) -> list[tuple[str, HTTPRouteHandler]]:
    """The feed handlers of every type with ``has_feed``, each with the plugin that owns it."""
    cache_control = public_cache_control(settings)
    return [
        (ctype.plugin, _route(ctype, fmt, types, cache, sessions, cache_control, settings))
        for ctype in types
        if ctype.has_feed
        for fmt in FORMATS
    ]


def _route(
    ctype: ContentType,
    fmt: Format,
    types: TypeRegistry,
    cache: ResponseCache,
    sessions: async_sessionmaker[AsyncSession],
    cache_control: str,
    settings: Settings,
) -> HTTPRouteHandler:
    what = "appear on this clinic" if ctype.name == "clinic" else f"relate to this {ctype.name}"
    in_feeds = ", ".join(t.plural for t in types if t.in_feeds)

    async def handler(
        request: Request[Any, Any, Any],
        slug: Annotated[str, PathParameter(description=f"The {ctype.name}'s slug.")],
        limit: params.Limit = params.DEFAULT_LIMIT,
        cursor: Annotated[
            str | None, params.cursor("Where the next page starts: from the `next` link.")
        ] = None,
    ) -> Response[bytes]:
        params.reject_unknown(list(request.query_params), params.PAGING)

        async def build() -> tuple[bytes, list[str]]:
            async with sessions() as session:
                feed = await read_feed(session, types, ctype, slug, limit=limit, cursor=cursor)
            if feed is None:
                raise not_found(f"published {ctype.name} with slug {slug!r}")
            explicit = limit if "limit" in request.query_params else None
            # The configured base, never the request's Host (docs/operations.md).
            page = f"{settings.public_base}{API}/{ctype.plural}/{slug}/feed.{fmt.extension}"
            links = Links(
                self=_page_url(page, limit=explicit, cursor=cursor),
                first=_page_url(page, limit=explicit),
                next=(
                    _page_url(page, limit=explicit, cursor=feed.next_cursor)
                    if feed.next_cursor
                    else None
                ),
            )
            keys = cache_keys.feed_keys((t.name for t in types if t.in_feeds), feed.shown_ids)
            return fmt.render(feed, links), keys

        return await cached_json(
            request, cache, build, cache_control=cache_control, vary=PUBLIC_VARY,
            media_type=fmt.media_type,
        )  # fmt: skip

    return get(
        f"{API}/{ctype.plural}/{{slug:str}}/feed.{fmt.extension}",
        operation_id=f"get{camel(ctype.name)}Feed{camel(fmt.extension)}",
        summary=f"{fmt.label} feed of a {ctype.label.lower()}",
        description=f"The newest published entries ({in_feeds}) that {what}, newest first, "
        f"as {fmt.label} (`{fmt.media_type}`). Keyset-paginated: follow the `next` link "
        "(`next_url` in JSON Feed).",
        tags=[ctype.label],
        media_type=fmt.media_type,
        responses={
            200: ResponseSpec(
                fmt.schema, description=f"One page of the feed, as {fmt.label}.",
                media_type=fmt.media_type, generate_examples=False,
            ),
            304: ResponseSpec(
                None, description="Not modified: the `If-None-Match` ETag is current.",
                generate_examples=False,
            ),
            **error_responses(
                http_400="`limit` or `cursor` is invalid, or the query has another parameter; "
                "`errors` names it.",
                http_404=f"No published {ctype.name} has this slug.",
            ),
        },
    )(handler)  # fmt: skip
