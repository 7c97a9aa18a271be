"""schema.org JSON-LD of entries, built when they are saved.

Each content type may declare a mapping (:attr:`ContentType.json_ld`): a
function from an :class:`LdEntry` to a list of schema.org nodes, the node
describing the entry first. The core wraps them in one document::

    {"@context": "https://schema.org", "@graph": [main node, ...]}

adds ``hasPart`` / ``isPartOf`` for relations declared ``has_part``, and
drops empty values. Mappings are plain functions of their input, so the
document can be stored with the entry and served as it is.

Node identifiers: an entry's node is ``<canonical URL>#<type>`` (or
``urn:uuid:<id>#<type>`` when it has no canonical URL), so that a reference
from another page (an article's author) names the same node as the
practitioner's own page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from html.parser import HTMLParser
from typing import Any

from cms.dates import iso

SCHEMA_CONTEXT = "https://schema.org"
DAYS = {
    "Mo": "Monday", "Tu": "Tuesday", "We": "Wednesday", "Th": "Thursday",
    "Fr": "Friday", "Sa": "Saturday", "Su": "Sunday",
}  # fmt: skip

Node = dict[str, Any]


@dataclass(frozen=True)
class LdRef:
    """Another entry as a JSON-LD document names it.

    Attributes:
        id: the entry's UUID.
        type: its content type name (``practitioner``).
        title: its title, the node's ``name``.
        url: its canonical URL, when it has one.
        schema_type: the schema.org type its content type declares.
    """

    id: str
    type: str
    title: str
    url: str | None
    schema_type: str

    @property
    def node_id(self) -> str:
        """The ``@id`` of the entry's node, the same on every page that names it."""
        return f"{self.url or f'urn:uuid:{self.id}'}#{self.type}"

    def ref(self) -> Node:
        """A node that names the entry: type, id, name and URL."""
        return compact(
            {"@type": self.schema_type, "@id": self.node_id, "name": self.title, "url": self.url}
        )


@dataclass(frozen=True)
class LdEntry:
    """What a mapping may use: the entry and the published entries around it.

    Attributes:
        me: the entry itself, as others name it.
        summary: its summary (the ``description``).
        published_at / updated_at / last_reviewed: its dates.
        tags: its tags.
        data: its own fields (not relations), as stored.
        related: published targets of each relation field, in order.
        origin: its origin clinic, when published.
        containers: published entries that list this one in a ``has_part`` relation.
        body_html: its body rendered and sanitised, internal links resolved,
            as readers get it (``articleBody`` may want :attr:`text` instead).
    """

    me: LdRef
    summary: str = ""
    published_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    last_reviewed: dt.date | None = None
    tags: Sequence[str] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
    related: Mapping[str, Sequence[LdRef]] = field(default_factory=dict)
    origin: LdRef | None = None
    containers: Sequence[LdRef] = ()
    body_html: str = ""

    @cached_property
    def text(self) -> str:
        """The body as plain text, one line per block: for ``articleBody`` or ``wordCount``."""
        return html_text(self.body_html)

    @property
    def word_count(self) -> int:
        """The words of the body."""
        return len(self.text.split())

    @property
    def node_id(self) -> str:
        """The ``@id`` of the entry's node."""
        return self.me.node_id

    def base(self) -> str:
        """The IRI that secondary nodes (``#page``, ``#faq``) hang off."""
        return self.me.url or f"urn:uuid:{self.me.id}"

    def refs(self, relation: str) -> list[Node]:
        """Reference nodes of the published targets of ``relation``."""
        return [r.ref() for r in self.related.get(relation, ())]

    def one(self, relation: str) -> Node | None:
        """The reference node of a single-valued relation, when published."""
        refs = self.refs(relation)
        return refs[0] if refs else None

    def page(self) -> Node:
        """Properties of the web page every entry is: name, description, URL, dates."""
        return {
            "name": self.me.title,
            "description": self.summary,
            "url": self.me.url,
            "datePublished": iso(self.published_at),
            "dateModified": iso(self.updated_at),
        }


JsonLdMapping = Callable[[LdEntry], list[Node]]


# Elements that end a line of text: a block (paragraph, heading, list item,
# table cell, code block) never runs into the next one's first word.
_BLOCKS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "pre", "blockquote", "td", "th", "tr",
     "div", "section", "aside", "figcaption", "dt", "dd", "br", "hr"}
)  # fmt: skip


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(html: str) -> str:
    """The text of rendered ``html``: one line per block, blank lines dropped."""
    parser = _TextOf()
    parser.feed(html)
    parser.close()
    lines = (line.strip() for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def compact(node: Node) -> Node:
    """``node`` without None, empty strings and empty lists (schema.org has no nulls)."""
    return {k: v for k, v in node.items() if v is not None and v != "" and v != []}


def humanize(slug: str) -> str:
    """``electro-acupuncture`` -> ``Electro-acupuncture``: a readable name for a slug value."""
    return slug[:1].upper() + slug[1:]


def citations(references: Sequence[Mapping[str, Any]]) -> list[Node]:
    """Cited works (``references`` of conditions and articles) as CreativeWork nodes."""
    return [
        compact(
            {
                "@type": "CreativeWork",
                "name": ref.get("title"),
                "url": ref.get("url"),
                "publisher": (
                    {"@type": "Organization", "name": ref["publisher"]}
                    if ref.get("publisher")
                    else None
                ),
            }
        )
        for ref in references
    ]


def default_mapping(schema_type: str) -> JsonLdMapping:
    """The mapping of a type that declares none: one page node of ``schema_type``."""

    def mapping(entry: LdEntry) -> list[Node]:
        return [{"@type": schema_type, "@id": entry.node_id, **entry.page()}]

    return mapping


def build(
    entry: LdEntry, mapping: JsonLdMapping | None, schema_type: str, parts: Sequence[LdRef]
) -> Node:
    """The JSON-LD document of ``entry``.

    Args:
        mapping: the type's mapping, or None for the default.
        schema_type: the type's ``json_ld_type``.
        parts: published targets of the type's ``has_part`` relations.
    """
    nodes = (mapping or default_mapping(schema_type))(entry)
    main = dict(nodes[0])
    if parts:
        main["hasPart"] = [p.ref() for p in parts]
    if entry.containers:
        main["isPartOf"] = [c.ref() for c in entry.containers]
    graph = [_compact_deep(n) for n in (main, *nodes[1:])]
    return {"@context": SCHEMA_CONTEXT, "@graph": graph}


def _compact_deep(value: Any) -> Any:
    if isinstance(value, dict):
        return compact({k: _compact_deep(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_compact_deep(v) for v in value]
    return value
