"""The plugin hooks around a save: checks before publishing, reactions after saving.

Every path that saves entries calls these in its transaction, in this order:
save the entries and their relations, :func:`check_publish` for each entry
the save leaves published or scheduled, then :func:`entries_saved`. Today
that path is ``cms content load``; the editors' API calls the same functions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pluggy
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.plugins import PluginError, acall_hook
from cms.services.errors import FieldError, InvalidEntry
from cms.services.validation import EntryInput
from cms.storage.tables import Entry

# Statuses that put an entry in front of readers, now or at a set time
# without anyone looking again: both must pass the publish checks.
PUBLISHING_STATUSES: frozenset[str] = frozenset({"published", "scheduled"})


class PublishRefused(InvalidEntry):
    """Plugins refused to publish an entry; ``errors`` lists every reason."""


class SaveRefused(InvalidEntry):
    """A plugin refuses a save from ``on_entries_saved``, naming the entry at fault.

    Args:
        entry_type: the content type of the entry whose save is refused.
        slug: its slug.
        errors: what is wrong, field by field.
    """

    def __init__(self, entry_type: str, slug: str, errors: list[FieldError]) -> None:
        super().__init__(errors)
        self.entry_type = entry_type
        self.slug = slug


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


def needs_publish_check(inp: EntryInput) -> bool:
    """Whether saving ``inp`` puts content in front of readers."""
    return inp.common.status in PUBLISHING_STATUSES


async def publish_problems(
    manager: pluggy.PluginManager, session: AsyncSession, inp: EntryInput
) -> list[FieldError]:
    """Every reason the plugins give why ``inp`` may not be published (empty: it may).

    Raises:
        PluginError: a hook failed, or returned something other than FieldErrors.
    """
    problems: list[FieldError] = []
    for name, result in await acall_hook(manager, "on_before_publish", session=session, entry=inp):
        for problem in result:
            if not isinstance(problem, FieldError):
                raise PluginError(
                    f"plugin {name!r}: on_before_publish returned {problem!r}, not a FieldError"
                )
            problems.append(problem)
    return problems


async def check_publish(
    manager: pluggy.PluginManager, session: AsyncSession, inp: EntryInput
) -> None:
    """Refuse to publish ``inp`` when any plugin gives a reason.

    Raises:
        PublishRefused: listing every reason from every plugin.
    """
    problems = await publish_problems(manager, session, inp)
    if problems:
        raise PublishRefused(problems)


async def entries_saved(
    manager: pluggy.PluginManager, session: AsyncSession, saved: Sequence[SavedEntry]
) -> None:
    """Tell plugins which entries changed, then which of them became published.

    Raises:
        InvalidEntry: a plugin refused the save.
        PluginError: a hook failed otherwise, naming the plugin.
    """
    if not saved:
        return
    await acall_hook(manager, "on_entries_saved", session=session, saved=list(saved))
    for entry in saved:
        if entry.became_published:
            await acall_hook(manager, "on_after_publish", session=session, entry=entry)
