"""Errors the services raise; the HTTP layer turns them into problem responses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One invalid field: where it is and what is wrong."""

    field: str
    message: str


class InvalidEntry(Exception):
    """An entry failed validation; ``errors`` names every bad field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


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


class InvalidInput(Exception):
    """A request body (other than an entry) failed validation; ``errors`` names each field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


class Forbidden(Exception):
    """The caller's token may not do this to this entry (its clinic scope)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Conflict(Exception):
    """The entry's state does not allow this change (publishing a published entry)."""


class InvalidParameter(Exception):
    """Query parameters have values a read cannot use.

    ``errors`` holds one ``(name, message)`` pair per bad parameter; the
    first one is also available as ``name`` and ``message``.
    """

    def __init__(
        self, name: str, message: str, *, more: list[tuple[str, str]] | None = None
    ) -> None:
        self.errors = [(name, message), *(more or [])]
        super().__init__("; ".join(f"{n}: {m}" for n, m in self.errors))
        self.name = name
        self.message = message


class LinkedFromPublished(Exception):
    """Taking an entry down would break links in published entries (a 409).

    ``dependents`` are :class:`cms.reading.links.Dependent` values.
    """

    def __init__(self, target: str, dependents: Sequence[Any]) -> None:
        super().__init__(f"{target} is linked from published entries")
        self.target = target
        self.dependents = list(dependents)


class BrokenLinks(Exception):
    """An entry going live links to missing or unpublished entries (a 422).

    ``broken`` are :class:`cms.reading.links.BrokenLink` values.
    """

    def __init__(self, broken: Sequence[Any]) -> None:
        super().__init__("; ".join(f"links to {b.target} ({b.reason})" for b in broken))
        self.broken = list(broken)
