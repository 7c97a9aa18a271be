"""Markdown to safe HTML, a table of contents and a reading time, at write time.

Nothing here runs on a read: :func:`Renderer.render` is called when an entry is
saved and its results are stored on the entry.

Internal links render as ``<a href="cms:type/slug">`` first, so that the
stored HTML depends on the entry alone; :func:`resolve_internal_links` then
points them at their targets' URLs when the entry's public document is built,
and again whenever a target moves, without parsing the Markdown again.
"""

from __future__ import annotations

import html as html_lib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.anchors import anchors_plugin

from cms.schemas import TocItem

WORDS_PER_MINUTE = 200

# Schemes a link or image may use. Anything else (javascript:, vbscript:,
# data:, file:, ...) is refused by markdown-it and dropped again by nh3.
# `cms:` is our internal-link scheme (`cms:condition/sciatica`).
SAFE_SCHEMES = frozenset({"http", "https", "mailto", "tel", "cms"})
_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_INTERNAL_RE = re.compile(r"^cms:([a-z0-9]+(?:-[a-z0-9]+)*)/([a-z0-9]+(?:-[a-z0-9]+)*)$")
# An internal link as the sanitiser writes it. Links cannot nest in CommonMark
# and a literal "</a>" in text is escaped, so the first "</a>" closes it.
_INTERNAL_ANCHOR_RE = re.compile(
    r'<a href="cms:([a-z0-9-]+/[a-z0-9-]+)"([^>]*)>(.*?)</a>', re.DOTALL
)

# What the sanitiser lets through: exactly what CommonMark plus tables and
# strikethrough can produce, with heading ids for the table of contents.
_TAGS = {
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "img", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th",
    "thead", "tr", "ul",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "code": {"class"},
    "th": {"style"},
    "td": {"style"},
    **{f"h{n}": {"id"} for n in range(1, 7)},
}


def validate_link(url: str) -> bool:
    """Accept relative links, fragments and the safe schemes only."""
    match = _SCHEME_RE.match(url.strip())
    return match is None or match.group(1).lower() in SAFE_SCHEMES


@dataclass(frozen=True)
class Rendered:
    """What one body renders to."""

    html: str
    toc: list[TocItem]
    reading_time_minutes: int
    links: list[str] = field(default_factory=list)
    """Internal links, as ``type/slug``, in order of first appearance."""
    text: str = ""
    """The body as plain text, for search."""


class Renderer:
    """A configured markdown-it-py parser: core set-up plus plugin extensions."""

    def __init__(self, extensions: Iterable[Callable[[MarkdownIt], None]] = ()) -> None:
        md = MarkdownIt("commonmark", {"html": False})
        md.enable(["table", "strikethrough"])
        md.validateLink = validate_link  # type: ignore[method-assign]
        md.use(anchors_plugin, min_level=2, max_level=4)
        for extension in extensions:
            md.use(extension)
        self.md = md

    def render(self, source: str) -> Rendered:
        """Render ``source``; the HTML is sanitised whatever the extensions emitted."""
        env: dict[str, object] = {}
        tokens = self.md.parse(source, env)
        html = self.md.renderer.render(tokens, self.md.options, env)
        clean = nh3.clean(
            html,
            tags=_TAGS,
            attributes=_ATTRIBUTES,
            url_schemes=set(SAFE_SCHEMES),
            filter_style_properties={"text-align"},
            link_rel=None,
        )
        text = _plain_text(tokens)
        words = len(text.split())
        return Rendered(
            html=clean,
            toc=_toc(tokens),
            reading_time_minutes=math.ceil(words / WORDS_PER_MINUTE) if words else 0,
            links=_internal_links(tokens),
            text=text,
        )


def _toc(tokens: list[Token]) -> list[TocItem]:
    items = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and "id" in token.attrs:
            inline = tokens[i + 1]
            items.append(
                TocItem(
                    level=int(token.tag[1]),
                    text=_inline_text(inline),
                    anchor=str(token.attrs["id"]),
                )
            )
    return items


_LINE_BREAKS = frozenset({"softbreak", "hardbreak"})


def _inline_text(inline: Token) -> str:
    """The words of an inline run; a line break (soft or hard) between two is a space.

    Without it, hard-wrapped Markdown (``walking\\nkeeps``) would be indexed as
    one word (``walkingkeeps``).
    """
    return "".join(
        " " if c.type in _LINE_BREAKS else c.content
        for c in inline.children or ()
        if c.type in {"text", "code_inline"} or c.type in _LINE_BREAKS
    )


def _plain_text(tokens: list[Token]) -> str:
    """The body's words for search and reading time: one line per block.

    Every block with text (a paragraph, a heading, a list item's paragraph, a
    table cell, a code block) is a line of its own, so that no word runs into
    the next block's first word.
    """
    parts = []
    for token in tokens:
        if token.type == "inline":
            parts.append(_inline_text(token))
        elif token.type in {"fence", "code_block"}:
            parts.append(token.content)
    return "\n".join(parts)


def _internal_links(tokens: list[Token]) -> list[str]:
    seen: dict[str, None] = {}
    for token in tokens:
        for child in token.children or ():
            if child.type == "link_open":
                match = _INTERNAL_RE.match(str(child.attrs.get("href", "")))
                if match:
                    seen.setdefault(f"{match.group(1)}/{match.group(2)}")
    return list(seen)


def resolve_internal_links(html: str, urls: Mapping[str, str | None]) -> str:
    """Point internal links of rendered ``html`` at ``urls`` (by ``type/slug``).

    A link whose target has no URL (missing, not published, or without a URL
    pattern on its clinic's site) becomes its text: a page never shows a link
    that leads nowhere.
    """

    def replace(match: re.Match[str]) -> str:
        url = urls.get(match.group(1))
        if not url:
            return match.group(3)
        return f'<a href="{html_lib.escape(url, quote=True)}"{match.group(2)}>{match.group(3)}</a>'

    return _INTERNAL_ANCHOR_RE.sub(replace, html)
