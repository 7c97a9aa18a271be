"""The two views of the content: working copies (editors) and published versions (public).

Both are the same shape: entries with pre-encoded documents and sort keys,
their relations, tags, internal links and facet values. Reads and lists take a :class:`View` and
never mix the two.
"""

from __future__ import annotations

from dataclasses import dataclass

from cms.storage.tables import (
    Entry,
    EntryFacet,
    EntryLink,
    EntryRelation,
    EntryTag,
    PublishedEntry,
    PublishedFacet,
    PublishedLink,
    PublishedRelation,
    PublishedTag,
)


@dataclass(frozen=True)
class View:
    """The tables of one view of the content."""

    entry: type[Entry] | type[PublishedEntry]
    relation: type[EntryRelation] | type[PublishedRelation]
    tag: type[EntryTag] | type[PublishedTag]
    link: type[EntryLink] | type[PublishedLink]
    facet: type[EntryFacet] | type[PublishedFacet]


WORKING = View(entry=Entry, relation=EntryRelation, tag=EntryTag, link=EntryLink, facet=EntryFacet)
PUBLISHED = View(
    entry=PublishedEntry,
    relation=PublishedRelation,
    tag=PublishedTag,
    link=PublishedLink,
    facet=PublishedFacet,
)
