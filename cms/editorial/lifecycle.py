"""The plugin hooks around a save: checks before publishing, reactions after saving.

The save pipeline (:mod:`cms.editorial.pipeline`) calls these in every
write's transaction: :func:`publish_problems` for each entry the save leaves
published or scheduled, then :func:`entries_saved`. :func:`check_publish` is
the same check for a caller that wants it raised (a plugin's own route).

:class:`SavedEntry`, :class:`SaveRefused` and :class:`PublishRefused` live
below the plugin machinery (:mod:`cms.editorial.saved`,
:mod:`cms.errors`), so that the hook specifications can name them;
they are importable from here as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import pluggy
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.editorial.saved import SavedEntry
from cms.editorial.validation import EntryInput
from cms.errors import FieldError, PublishRefused, SaveRefused
from cms.plugin_manager import PluginError, acall_hook

__all__ = [
    "PUBLISHING_STATUSES",
    "PublishRefused",
    "SaveRefused",
    "SavedEntry",
    "check_publish",
    "entries_saved",
    "needs_publish_check",
    "publish_problems",
]

# Statuses that put an entry in front of readers, now or at a set time
# without anyone looking again: both must pass the publish checks.
PUBLISHING_STATUSES: frozenset[str] = frozenset({"published", "scheduled"})


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
