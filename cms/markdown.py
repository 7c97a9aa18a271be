"""Markdown to safe HTML, a table of contents and a reading time, at write time.

Nothing here runs on a read: :func:`Renderer.render` is called when an entry is
saved and its results are stored on the entry.

Internal links render as ``<a href="cms:type/slug">`` first, so that the
stored HTML depends on the entry alone; :func:`resolve_internal_links` then
points them at their targets' URLs when the entry's public document is built,
and again whenever a target moves, without parsing the Markdown again.

A plugin's extension may emit HTML of its own (``<aside class="note">``): it
declares those tags, attributes and classes with :class:`MarkdownExtension`,
and the sanitiser lets them through. Script vectors are never allowed.

A body is the one input an author controls that costs CPU in proportion to
its shape, not only its size: markdown-it-py spends about 15 µs per character
on a run of unmatched ``[`` (each one opens a link label whose end is looked
for), and the anchors plugin's unique ids were quadratic in the number of
repeated headings. So the save pipeline renders with :meth:`Renderer.render_limited`:
a body longer than :attr:`RenderLimits.max_chars` is refused before it is
parsed, the rendering runs in a worker thread, off the event loop, and it
stops once it has used :attr:`RenderLimits.max_seconds` of CPU (checked from
a block and an inline rule that run before every other rule), so a body the
parser finds costly is refused rather than served late. (Linkify is off:
the ``commonmark`` preset leaves it out.) ``cms content rebuild``, an
operator's command over the bodies already stored, renders them with
:meth:`Renderer.render`, without limits.
"""

from __future__ import annotations

import functools
import gc
import html as html_lib
import math
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from mdit_py_plugins.anchors.index import slugify

from cms.schemas import TocItem
from cms.settings import MAX_BODY_CHARS, MAX_RENDER_SECONDS

WORDS_PER_MINUTE = 200
# Heading levels that get an id and a place in the table of contents.
_ANCHOR_LEVELS = frozenset({"h2", "h3", "h4"})
# How many rule calls pass between two looks at the clock: a look costs
# about as much as a hundred calls of the check itself.
_TICKS_PER_LOOK = 256
_BUDGET = "cms.render_budget"

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


# What no extension may declare, because a browser runs script or loads a
# document through it. Tags are those that run script, embed or frame
# another document, or change where the page's links and forms go; attributes
# are event handlers (every `on*`), inline CSS, and the URL-carrying ones the
# sanitiser does not check against SAFE_SCHEMES (it checks `href` and `src`).
_FORBIDDEN_TAGS = frozenset({
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "param",
    "base", "link", "meta", "form", "input", "button", "select", "option", "textarea",
    "svg", "math", "template", "noscript", "noembed", "noframes", "xmp", "plaintext",
    "title", "head", "html", "body", "portal",
})  # fmt: skip
_FORBIDDEN_ATTRIBUTES = frozenset({
    "style", "srcdoc", "srcset", "action", "formaction", "xlink:href", "background", "poster",
    "data", "codebase", "archive", "classid", "lowsrc", "dynsrc", "longdesc", "manifest", "ping",
    "cite", "icon", "usemap", "http-equiv",
})  # fmt: skip
_TAG_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
_ATTRIBUTE_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
_CLASS_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class MarkdownExtension:
    """A markdown-it-py plugin and the HTML it emits, which the sanitiser then keeps.

    ``register_markdown_extensions`` may return these or plain functions; a
    plain function declares nothing, so whatever HTML it adds beyond the
    core's is stripped. Declarations add to what the sanitiser allows in every
    body (raw HTML is off, so only extensions can emit these tags).

    Example: ``MarkdownExtension(note_blocks, tags={"aside"}, classes={"aside": {"note"}})``.
    """

    use: Callable[[MarkdownIt], None]
    """The markdown-it-py plugin, applied with ``md.use(use)``."""
    tags: Collection[str] = ()
    """Tags it emits beyond the core's (``aside``)."""
    attributes: Mapping[str, Collection[str]] = field(default_factory=dict)
    """Attributes it emits, by tag (``{"aside": {"title"}}``); the tag is one of
    the core's or one of :attr:`tags`. ``href`` and ``src`` keep to the safe
    URL schemes. Classes are declared in :attr:`classes`, not here."""
    classes: Mapping[str, Collection[str]] = field(default_factory=dict)
    """Class names it emits, by tag (``{"aside": {"note", "warning"}}``); any
    other class on that tag is removed."""

    @property
    def name(self) -> str:
        """The plugin function's name, for messages and ``GET /api/v1/plugins``."""
        return str(getattr(self.use, "__name__", repr(self.use)))

    def problems(self) -> list[str]:
        """Why this declaration cannot be allowed: empty when it can.

        Refused: script vectors (see ``_FORBIDDEN_TAGS``, ``on*`` and
        ``_FORBIDDEN_ATTRIBUTES``), a ``class`` attribute (declare the class
        names instead), names that are not plain lowercase HTML names, and
        attributes or classes for a tag that is neither the core's nor declared.
        """
        found = []
        # A string is a collection too, of letters: `tags="aside"` would allow `<i>`.
        if isinstance(self.tags, str) or any(
            isinstance(names, str) for by_tag in (self.attributes, self.classes)
            for names in by_tag.values()
        ):  # fmt: skip
            return ["give tags, attributes and classes as sets of names, not as one string"]
        tags = set(self.tags)
        for tag in sorted(tags):
            if not _TAG_NAME.match(tag):
                found.append(f"tag {tag!r} is not a lowercase HTML tag name")
            elif tag in _FORBIDDEN_TAGS:
                found.append(f"tag {tag!r} can run script or load a document")
        for kind, by_tag in (("attributes", self.attributes), ("classes", self.classes)):
            for tag in sorted(by_tag):
                if tag not in _TAGS and tag not in tags:
                    found.append(f"{kind} for tag {tag!r}, which it does not declare in tags")
        for tag, names in sorted(self.attributes.items()):
            for attribute in sorted(names):
                if attribute.startswith("on") or attribute in _FORBIDDEN_ATTRIBUTES:
                    found.append(f"attribute {attribute!r} of {tag!r} can run script")
                elif attribute == "class":
                    found.append(f"attribute 'class' of {tag!r}: declare its class names instead")
                elif not _ATTRIBUTE_NAME.match(attribute):
                    found.append(f"attribute {attribute!r} of {tag!r} is not a lowercase name")
        for tag, names in sorted(self.classes.items()):
            for name in sorted(names):
                if not _CLASS_NAME.match(name):
                    found.append(f"class {name!r} of {tag!r} is not a class name")
        return found


def _allowed(
    extensions: Iterable[MarkdownExtension],
) -> tuple[set[str], dict[str, set[str]], dict[str, set[str]]]:
    """The sanitiser's tags, attributes and classes: the core's and the extensions'."""
    tags = set(_TAGS)
    attributes = {tag: set(names) for tag, names in _ATTRIBUTES.items()}
    classes: dict[str, set[str]] = {}
    for extension in extensions:
        problems = extension.problems()
        if problems:
            raise ValueError(
                f"Markdown extension {extension.name}: {'; '.join(problems)}; "
                "script vectors are never allowed"
            )
        tags.update(extension.tags)
        for tag, names in extension.attributes.items():
            attributes.setdefault(tag, set()).update(names)
        for tag, names in extension.classes.items():
            # The core allows any class where it allows the attribute (code's
            # `language-*`); nh3 refuses to be given both for one tag.
            if "class" not in attributes.get(tag, ()):
                classes.setdefault(tag, set()).update(names)
    return tags, attributes, classes


def validate_link(url: str) -> bool:
    """Accept relative links, fragments and the safe schemes only."""
    match = _SCHEME_RE.match(url.strip())
    return match is None or match.group(1).lower() in SAFE_SCHEMES


class RenderRefused(Exception):
    """A body the renderer will not render: too long, or too costly; the message says which."""


@dataclass(frozen=True)
class RenderLimits:
    """What one body may cost (:meth:`Renderer.render_limited`)."""

    max_chars: int = MAX_BODY_CHARS
    """The longest body, in characters (``CMS_MAX_BODY_CHARS``); a longer one is
    refused unparsed."""
    max_seconds: float = MAX_RENDER_SECONDS
    """The CPU time one body may take to render (``CMS_MAX_RENDER_SECONDS``); then
    it is refused."""


class _CollectorPause:
    """Keeps the cyclic garbage collector off while any body renders in a worker thread.

    A costly body makes hundreds of thousands of tokens, which live until its
    rendering ends; the collections their allocations trigger scan them all,
    and on a busy machine a full one held the GIL, and with it the event
    loop, for 250 to 400 ms. The tokens hold no reference cycles: reference counting frees them
    when the rendering returns, and the collector, back on, finds anything else.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._renders = 0
        self._was_enabled = True

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._renders == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._renders += 1
        try:
            yield
        finally:
            with self._lock:
                self._renders -= 1
                if self._renders == 0 and self._was_enabled:
                    gc.enable()


_collector_paused = _CollectorPause()


class _Budget:
    """CPU time left to one rendering, looked at every :data:`_TICKS_PER_LOOK` rule calls.

    CPU time of the rendering thread, not wall time: a busy machine makes a
    body slower to render, not costlier, and must not get it refused.
    """

    __slots__ = ("deadline", "seconds", "ticks")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.thread_time() + seconds
        self.ticks = 0

    def tick(self) -> None:
        """Count a rule call; every so often, :meth:`check` the clock and yield the GIL.

        The interpreter hands the GIL to a waiting thread only every
        ``sys.getswitchinterval()`` (5 ms), and the event loop waits for it at
        every step of every request; ``sleep(0)`` hands it over at once, which
        took the loop's median lag during a costly rendering from 10 ms to 1.
        """
        self.ticks += 1
        if self.ticks % _TICKS_PER_LOOK == 0:
            self.check()
            time.sleep(0)

    def check(self) -> None:
        """Raise :class:`RenderRefused` once the time is spent."""
        if time.thread_time() > self.deadline:
            raise RenderRefused(
                f"takes more than {self.seconds:g} s to render; long runs of unmatched "
                "`[`, `*`, `_` or backticks are the usual cause"
            )


def _spend(env: MutableMapping[str, Any]) -> None:
    budget = env.get(_BUDGET)
    if budget is not None:
        budget.tick()


def _budget_block(state: StateBlock, _start: int, _end: int, _silent: bool) -> bool:
    """A block rule that matches nothing: it spends a tick of the budget, if any."""
    _spend(state.env)
    return False


def _budget_inline(state: StateInline, _silent: bool) -> bool:
    """An inline rule that matches nothing: it spends a tick of the budget, if any.

    Inline rules run at every position of the text, and again wherever a link
    label is scanned for its end (``skipToken``), which is where the costly
    bodies spend their time.
    """
    _spend(state.env)
    return False


def _heading_anchors(state: StateCore) -> None:
    """Give headings of levels 2 to 4 an id made from their text, unique in the body.

    The ids of ``mdit_py_plugins.anchors`` (``why-it-hurts``, then
    ``why-it-hurts-1``), in linear time: its ``unique_slug`` counts from 1
    again for every repeat, so 40,000 identical headings took minutes.
    """
    taken: set[str] = {
        str(token.attrs["id"])
        for token in state.tokens
        if token.type == "heading_open" and token.attrs.get("id")
    }
    next_suffix: dict[str, int] = {}
    for i, token in enumerate(state.tokens):
        if token.type != "heading_open" or token.tag not in _ANCHOR_LEVELS:
            continue
        _spend(state.env)
        if token.attrs.get("id"):
            continue
        title = _inline_text(state.tokens[i + 1], breaks=False)
        slug = unique = slugify(title)
        # Every suffix below the one remembered is taken already: start there.
        suffix = next_suffix.get(slug, 1)
        while unique in taken:
            unique = f"{slug}-{suffix}"
            suffix += 1
        next_suffix[slug] = suffix
        taken.add(unique)
        token.attrs["id"] = unique


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

    def __init__(
        self,
        extensions: Iterable[MarkdownExtension | Callable[[MarkdownIt], None]] = (),
        *,
        limits: RenderLimits | None = None,
    ) -> None:
        """Set up the parser and the sanitiser.

        Args:
            extensions: markdown-it-py plugins, plain or with the HTML they
                emit (:class:`MarkdownExtension`), applied in order.
            limits: what :meth:`render_limited` allows a body.

        Raises:
            ValueError: an extension declares a script vector.
        """
        self.limits = limits or RenderLimits()
        declared = [
            e if isinstance(e, MarkdownExtension) else MarkdownExtension(e) for e in extensions
        ]
        self.tags, self.attributes, self.classes = _allowed(declared)
        md = MarkdownIt("commonmark", {"html": False})
        md.enable(["table", "strikethrough"])
        md.validateLink = validate_link  # type: ignore[method-assign]
        md.core.ruler.push("anchor", _heading_anchors)
        for extension in declared:
            md.use(extension.use)
        # First of all, so that they run whatever the extensions added.
        # In every chain of block rules too: a paragraph asks the chain
        # "paragraph" whether each of its lines ends it.
        md.block.ruler.before(
            md.block.ruler.get_all_rules()[0],
            "cms_budget",
            _budget_block,
            {"alt": ["paragraph", "reference", "blockquote", "list"]},
        )
        md.inline.ruler.before(md.inline.ruler.get_all_rules()[0], "cms_budget", _budget_inline)
        self.md = md

    async def render_limited(self, source: str) -> Rendered:
        """Render ``source`` within :attr:`limits`, in a worker thread.

        Raises:
            RenderRefused: it is longer than ``max_chars``, or takes more than
                ``max_seconds`` of CPU to render.
        """
        if len(source) > self.limits.max_chars:
            raise RenderRefused(
                f"is {len(source)} characters long; at most {self.limits.max_chars} are allowed"
            )
        return await anyio.to_thread.run_sync(
            functools.partial(self._render_in_worker, source, self.limits.max_seconds)
        )

    def _render_in_worker(self, source: str, max_seconds: float) -> Rendered:
        with _collector_paused():
            return self.render(source, max_seconds=max_seconds)

    def render(self, source: str, *, max_seconds: float | None = None) -> Rendered:
        """Render ``source``; the HTML is sanitised whatever the extensions emitted.

        Args:
            max_seconds: the CPU time the rendering may take; no limit when None.

        Raises:
            RenderRefused: the rendering took longer than ``max_seconds``.
        """
        env: dict[str, object] = {}
        budget = None if max_seconds is None else _Budget(max_seconds)
        if budget is not None:
            env[_BUDGET] = budget
        tokens = self.md.parse(source, env)
        # The steps after parsing are linear in the tokens: a look between them
        # is enough to stop within one step of the budget.
        if budget is not None:
            budget.check()
        html = self.md.renderer.render(tokens, self.md.options, env)
        if budget is not None:
            budget.check()
        clean = nh3.clean(
            html,
            tags=self.tags,
            attributes=self.attributes,
            allowed_classes=self.classes,
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


def _inline_text(inline: Token, *, breaks: bool = True) -> str:
    """The words of an inline run; a line break (soft or hard) between two is a space.

    Without it, hard-wrapped Markdown (``walking\\nkeeps``) would be indexed as
    one word (``walkingkeeps``).

    Args:
        breaks: count line breaks as spaces; without, they are left out (as
            heading ids have always been made).
    """
    return "".join(
        " " if c.type in _LINE_BREAKS else c.content
        for c in inline.children or ()
        if c.type in {"text", "code_inline"} or (breaks and c.type in _LINE_BREAKS)
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
