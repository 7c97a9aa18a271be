"""How this CMS writes a date or a time: ISO 8601, times in UTC with ``Z``.

Entry documents, change events, content files and JSON-LD all write times
this way (``2025-03-01T09:00:00Z``), so one instant reads the same wherever
it appears; dates are written as they are (``2025-03-01``).
"""

from __future__ import annotations

import datetime as dt
from typing import overload


@overload
def iso(value: dt.datetime | dt.date) -> str: ...
@overload
def iso(value: None) -> None: ...
@overload
def iso(value: dt.datetime | dt.date | None) -> str | None: ...
def iso(value: dt.datetime | dt.date | None) -> str | None:
    """``value`` in ISO 8601: a datetime in UTC with ``Z``, a date as it is, None as None."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()
