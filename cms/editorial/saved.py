"""What plugins are told of a save: :class:`SavedEntry`, one per entry it changed.

It imports nothing of the services or the plugin machinery, so that the hook
specifications (:mod:`cms.hookspecs`) can name it without a cycle.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for the annotation of SavedEntry.of
    from cms.storage.tables import Entry


@dataclass(frozen=True)
class SavedEntry:
    """One entry a save created or changed, as hooks see it.

    Attributes:
        id: the entry's id.
        type: its content type name.
        slug: its slug.
        title: its title after the save.
        status: its status after the save.
        previous_status: its status before the save; None when it was created.
        published_at: when it was (or will be) published, if it is.
        was_live, live: whether it had a published version before the save and
            after it, when the caller knows (the editors' API: a published
            entry's working copy may be a draft while its published version
            stays live); None when its status says so (content files).
    """

    id: str
    type: str
    slug: str
    title: str
    status: str
    previous_status: str | None
    published_at: dt.datetime | None = None
    was_live: bool | None = None
    live: bool | None = None

    @classmethod
    def of(
        cls, entry: Entry, previous_status: str | None, *, was_live: bool | None = None
    ) -> SavedEntry:
        """The view of a saved row.

        Args:
            was_live: whether it had a published version before the save;
                given, ``live`` is read from the row too, and they decide
                :attr:`became_published` and :attr:`became_unpublished`.
        """
        return cls(
            id=entry.id,
            type=entry.type,
            slug=entry.slug,
            title=entry.title,
            status=entry.status,
            previous_status=previous_status,
            published_at=entry.published_at,
            was_live=was_live,
            live=None if was_live is None else entry.published_version is not None,
        )

    def _live(self) -> tuple[bool, bool]:
        if self.was_live is not None and self.live is not None:
            return self.was_live, self.live
        return self.previous_status == "published", self.status == "published"

    @property
    def became_published(self) -> bool:
        """Published now, and not before this save (readers had no version of it)."""
        before, after = self._live()
        return after and not before

    @property
    def became_unpublished(self) -> bool:
        """Published before this save, and not any more (readers have no version of it)."""
        before, after = self._live()
        return before and not after
