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
