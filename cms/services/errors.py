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
