"""Surrogate keys: the names a CDN purges cached responses by, built in one place.

A public read carries a ``Surrogate-Key`` header naming what its body shows;
after a published change, the ``cache.purge`` webhook event names the keys of
every response the change can alter. A CDN purges a response only when the two
spell a key the same way, so both are built here and nowhere else:

- ``entry:<id>``: every response that shows the entry's data;
- ``list:<type>``: a type's list, and the feeds that list its entries;
- ``backlinks:<id>``: the entry's backlinks;
- ``links:broken``, ``search``, ``changes``, ``backlinks``: the broken-links
  report, every search, the change feed and every entry's backlinks, which
  any published change can alter (a newly published link shows in the
  backlinks of the entry it points to, which the change does not name).
"""

from __future__ import annotations

from collections.abc import Iterable

BROKEN_LINKS = "links:broken"
"""The key of the broken-links report."""
SEARCH = "search"
"""The key of every search."""
CHANGES = "changes"
"""The key of the change feed."""
BACKLINKS = "backlinks"
"""The key of every entry's backlinks."""


def entry_key(entry_id: str) -> str:
    """The key of every response that shows entry ``entry_id``."""
    return f"entry:{entry_id}"


def list_key(type_name: str) -> str:
    """The key of the list of a type (and of the feeds that list its entries)."""
    return f"list:{type_name}"


def backlinks_key(entry_id: str) -> str:
    """The key of the backlinks of entry ``entry_id``."""
    return f"backlinks:{entry_id}"


def entry_keys(entry_ids: Iterable[str]) -> list[str]:
    """The keys of the entries a body shows, once each, in order."""
    return [entry_key(i) for i in dict.fromkeys(entry_ids)]


# --- What a response carries in Surrogate-Key ---------------------------------------


def list_page_keys(type_name: str, entry_ids: Iterable[str]) -> list[str]:
    """A page of a type's list: the list, then every entry it shows."""
    return [list_key(type_name), *entry_keys(entry_ids)]


def detail_keys(entry_ids: Iterable[str]) -> list[str]:
    """One entry: the entry, then every entry it shows beside it."""
    return entry_keys(entry_ids)


def search_keys(entry_ids: Iterable[str]) -> list[str]:
    """A page of search hits: every search, then every entry it shows."""
    return [SEARCH, *entry_keys(entry_ids)]


def feed_keys(type_names: Iterable[str], entry_ids: Iterable[str]) -> list[str]:
    """A feed: the lists of the types it takes items from, then every entry it shows."""
    return [*(list_key(t) for t in type_names), *entry_keys(entry_ids)]


def backlinks_page_keys(target_id: str, entry_ids: Iterable[str]) -> list[str]:
    """A page of the backlinks of ``target_id``: every entry's backlinks, its own, then
    every entry linking."""
    return [BACKLINKS, backlinks_key(target_id), *entry_keys(entry_ids)]


def broken_links_keys(source_ids: Iterable[str]) -> list[str]:
    """A page of the broken-links report: the report, then every entry the links are in."""
    return [BROKEN_LINKS, *entry_keys(source_ids)]


def change_feed_keys() -> list[str]:
    """A page of the change feed: the feed (its pages change with every published change)."""
    return [CHANGES]


# --- What a cache.purge event names -------------------------------------------------


def published_change_keys(entry_id: str, type_name: str) -> list[str]:
    """What a CDN purges after a published change to an entry: the responses that show it,
    its type's lists, its backlinks, and the responses any published change can alter
    (the broken-links report, search, the change feed, every backlinks page)."""
    return [
        entry_key(entry_id),
        list_key(type_name),
        backlinks_key(entry_id),
        BROKEN_LINKS,
        SEARCH,
        CHANGES,
        BACKLINKS,
    ]
