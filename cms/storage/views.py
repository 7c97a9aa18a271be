"""The two views of the content: working copies (editors) and published versions (public).

Both are the same shape: entries with pre-encoded documents and sort keys,
their relations and their tags. Reads and lists take a :class:`View` and
never mix the two.
"""

from __future__ import annotations

from dataclasses import dataclass

from cms.storage.tables import (
    Entry,
    EntryRelation,
    EntryTag,
    PublishedEntry,
    PublishedRelation,
    PublishedTag,
)


@dataclass(frozen=True)
class View:
    """The tables of one view of the content."""

    entry: type[Entry] | type[PublishedEntry]
    relation: type[EntryRelation] | type[PublishedRelation]
    tag: type[EntryTag] | type[PublishedTag]


WORKING = View(entry=Entry, relation=EntryRelation, tag=EntryTag)
PUBLISHED = View(entry=PublishedEntry, relation=PublishedRelation, tag=PublishedTag)
