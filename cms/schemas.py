"""API schemas shared by every content type: the one msgspec base and common parts.

Every schema that crosses the HTTP boundary is a :class:`Base` subclass.
Tables never leave the storage layer; services convert rows to these.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

import msgspec

# `(?!\n)`: in Python, `$` also matches before a final newline ("low-back-pain\n").
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$(?!\n)"
SLUG_RE = re.compile(SLUG_PATTERN)
SLUG_MAX_LENGTH = 120

Slug = Annotated[
    str,
    msgspec.Meta(
        pattern=SLUG_PATTERN,
        min_length=1,
        max_length=SLUG_MAX_LENGTH,
        description="Lowercase letters, digits and single hyphens, e.g. `low-back-pain`.",
    ),
]

ENTRY_KEY_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*/[a-z0-9]+(?:-[a-z0-9]+)*$(?!\n)"

EntryKey = Annotated[
    str,
    msgspec.Meta(
        pattern=ENTRY_KEY_PATTERN,
        max_length=200,
        description="An entry of any type, as `type/slug`, e.g. `case-story/after-the-accident`.",
    ),
]

Moment = Annotated[
    dt.datetime, msgspec.Meta(tz=True, description="An RFC 3339 date-time with its zone.")
]
"""A date-time a client sends: with a time zone (``Z`` or an offset), else refused."""

# --- URLs -------------------------------------------------------------------------
# One rule for every URL an entry, a webhook or a setting holds: an absolute
# `http` or `https` URL with a host. What a field holds ends up in an `href`,
# a JSON-LD `urlTemplate` or an HTTP request, so `javascript:`, `data:`,
# relative and protocol-relative URLs are refused, and so is a user name
# before the host (`https://clinic.example@elsewhere.example/` leads
# elsewhere). Control characters and spaces are refused anywhere.
URL_MAX_LENGTH = 2000
_HOST = r"(?:[\w-]+(?:\.[\w-]+)*\.?|\[[0-9A-Fa-f:.]+\])"
# A port is 0 to 65535 (leading zeros allowed up to five digits, as `urlsplit` reads them).
_PORT = r"(?:\d{1,4}|[0-5]\d{4}|6[0-4]\d{3}|65[0-4]\d{2}|655[0-2]\d|6553[0-5])"
_WEB_URL = rf"https?://{_HOST}(?::{_PORT})?(?:[/?#][^\s\x00-\x1f\x7f]*)?"
# `(?!\n)`: in Python, `$` also matches before a final newline.
WEB_URL_PATTERN = f"^{_WEB_URL}$(?!\\n)"
WEB_URL_OR_EMPTY_PATTERN = f"^(?:{_WEB_URL})?$(?!\\n)"
WEB_URL_RE = re.compile(WEB_URL_PATTERN)
WEB_URL_RULE = "must be an absolute http or https URL with a host, e.g. https://clinic.example/"
"""What a field that breaks the rule is told (``javascript:`` URLs included)."""

WebUrl = Annotated[
    str,
    msgspec.Meta(
        pattern=WEB_URL_PATTERN,
        max_length=URL_MAX_LENGTH,
        description="An absolute `http` or `https` URL with a host, "
        "e.g. `https://clinic.example/book`.",
    ),
]
"""A URL field: an absolute ``http`` or ``https`` URL with a host, never empty."""

WebUrlOrEmpty = Annotated[
    str,
    msgspec.Meta(
        pattern=WEB_URL_OR_EMPTY_PATTERN,
        max_length=URL_MAX_LENGTH,
        description="An absolute `http` or `https` URL with a host, or empty for none.",
    ),
]
"""A URL field that may be left empty (``""``, its default): :data:`WebUrl` or nothing."""


def web_url_problem(url: str) -> str | None:
    """Why ``url`` breaks the rule of :data:`WebUrl`, or None when it keeps it."""
    if len(url) > URL_MAX_LENGTH:
        return f"is longer than {URL_MAX_LENGTH} characters"
    return None if WEB_URL_RE.match(url) else WEB_URL_RULE


Status = Literal["draft", "in_review", "scheduled", "published", "archived"]
STATUSES: tuple[str, ...] = ("draft", "in_review", "scheduled", "published", "archived")


class Base(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=False, kw_only=True):
    """Base of every API schema.

    - ``forbid_unknown_fields``: a misspelt field is an error, never silently dropped.
    - ``kw_only``: fields are named at every construction site, so adding a field
      (always with a default) never shifts a positional argument.
    """


class Seo(Base):
    """Search-engine overrides; empty means "use the title and summary"."""

    title: Annotated[str, msgspec.Meta(max_length=120)] = ""
    description: Annotated[str, msgspec.Meta(max_length=320)] = ""


class Reference(Base):
    """A published source an entry cites."""

    title: Annotated[str, msgspec.Meta(min_length=1)]
    url: WebUrl
    publisher: str = ""


class EntryRef(Base):
    """A reference to another entry, as it appears in responses."""

    slug: str
    title: str


class TypedEntryRef(Base):
    """A reference to an entry of one of several types, as it appears in responses."""

    type: str
    slug: str
    title: str


class TocItem(Base):
    """One heading of an entry's body."""

    level: int
    text: str
    anchor: str


class EntryCommon(Base):
    """Fields every entry has, whatever its type (the write side).

    ``slug`` comes from the URL or the file name, never from this struct.
    """

    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    summary: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    body: str = ""
    status: Status = "draft"
    clinics: Annotated[list[Slug], msgspec.Meta(extra_json_schema={"uniqueItems": True})] = (
        msgspec.field(default_factory=list)
    )
    origin_clinic: Annotated[
        Slug | None,
        msgspec.Meta(
            description="The canonical home: one of `clinics`; the first of them when null."
        ),
    ] = None
    tags: Annotated[list[Slug], msgspec.Meta(extra_json_schema={"uniqueItems": True})] = (
        msgspec.field(default_factory=list)
    )
    seo: Seo = msgspec.field(default_factory=Seo)
    published_at: Moment | None = None
    reviewed_by: Slug | None = None
    last_reviewed: dt.date | None = None


COMMON_FIELDS: tuple[str, ...] = tuple(EntryCommon.__struct_fields__)

# Fields computed at write time and stored on the entry.
DERIVED_FIELDS: tuple[str, ...] = (
    "body_html", "toc", "reading_time_minutes", "links", "canonical_url", "json_ld",
)  # fmt: skip

# Fields a list item leaves out: the heavy rendered body and the JSON-LD. A detail read has them.
DETAIL_ONLY_FIELDS: frozenset[str] = frozenset({"body", "body_html", "toc", "json_ld"})


class ListEnvelope(Base):
    """The envelope of every list response (documented; bodies are pre-encoded)."""

    data: list[dict[str, Any]]
    next_cursor: str | None = None
