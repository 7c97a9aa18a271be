"""The series type, and the shapes of what the plugin adds to responses."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

from cms.plugin import Base, ContentType, EntryKey, LdEntry, Node, Relation

# The types a series' parts may be; case stories only while their plugin is on.
PART_TYPE = "article"
OPTIONAL_PART_TYPES = ("case-story",)


class PlannedPart(Base):
    """A part announced before it is written: a title, and when it should appear."""

    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    summary: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    release: Annotated[
        dt.date | None, msgspec.Meta(description="The planned release date, shown to readers.")
    ] = None


class SeriesFields(Base):
    """Fields of a series besides the common ones.

    The series' description is its ``summary`` (plain text) and ``body``
    (Markdown), as for every type.
    """

    parts: Annotated[
        list[EntryKey],
        msgspec.Meta(
            description="The written parts in reading order, as `type/slug` "
            "(`article/...` or `case-story/...`)."
        ),
    ] = msgspec.field(default_factory=list)
    planned_parts: Annotated[
        list[PlannedPart],
        msgspec.Meta(description="Parts announced but not written yet; they follow the parts."),
    ] = msgspec.field(default_factory=list)


class PartRef(Base):
    """A neighbouring part in a series' navigation."""

    type: str
    slug: str
    title: str


class SeriesNavigation(Base):
    """Where an entry sits in the published series it is a part of."""

    slug: str
    """The series' slug."""
    title: str
    """The series' title."""
    part: int
    """This entry's number in the series, from 1."""
    total: int
    """Parts in the series, the scheduled and planned ones included."""
    previous: PartRef | None
    """The nearest published part before this one."""
    next: PartRef | None
    """The nearest published part after this one."""


class OutlinePart(Base):
    """One part of a series as readers see it: published, or planned."""

    part: int
    status: Literal["published", "planned"]
    title: str
    type: str | None = None
    """The part's content type; null for a planned part."""
    slug: str | None = None
    """The part's slug; null for a planned part."""
    summary: str = ""
    release: dt.date | None = None
    """When a planned part should appear, if known."""


def series_json_ld(entry: LdEntry) -> list[Node]:
    """A series as a schema.org ``CreativeWorkSeries``; the core adds its parts as ``hasPart``."""
    return [
        {
            "@type": "CreativeWorkSeries",
            "@id": entry.node_id,
            **entry.page(),
            "keywords": list(entry.tags),
        }
    ]


SERIES = ContentType(
    name="series",
    plural="series",
    fields=SeriesFields,
    label="Series",
    description="A blog series: its parts in reading order, published ones and planned ones.",
    relations={
        "parts": Relation(
            target=PART_TYPE, many=True, optional_targets=OPTIONAL_PART_TYPES, has_part=True
        )
    },
    json_ld_type="CreativeWorkSeries",
    json_ld=series_json_ld,
    has_feed=True,
)
