"""Errors the services raise; the HTTP layer turns them into problem responses."""

from __future__ import annotations

from dataclasses import dataclass


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
