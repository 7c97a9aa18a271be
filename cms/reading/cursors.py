"""Opaque keyset cursors for the lists that are not entry lists (search, links).

A cursor is the sort key of the last item of a page, tagged with what the
list was (its query, its sort), so a cursor made for one list is refused by
another instead of silently skipping or repeating items.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec

from cms.errors import InvalidParameter


def pack(tag: str, *values: Any) -> str:
    """A cursor after the item whose sort key is ``values``, valid for ``tag`` only."""
    raw = msgspec.json.encode([tag, *values])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


BIGINT = 2**63
"""Integers a cursor may hold lie in a 64-bit column's range."""


def unpack(
    name: str, cursor: str | None, tag: str, kinds: tuple[type, ...]
) -> tuple[Any, ...] | None:
    """The sort key a cursor holds, or None for the first page.

    Args:
        name: the query parameter, for the error.
        kinds: the type of each value of the key, in order.

    Raises:
        InvalidParameter: the cursor is not one of ours, or belongs to another list.
    """
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        made_for, *values = msgspec.json.decode(raw, type=list[Any])
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise InvalidParameter(name, "is not a cursor this API issued") from exc
    if made_for != tag:
        raise InvalidParameter(name, "was issued for another query")
    if len(values) != len(kinds):
        raise InvalidParameter(name, "is not a cursor this API issued")
    out = []
    for value, kind in zip(values, kinds, strict=True):
        # JSON has one number type: an integral float comes back as an int.
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise InvalidParameter(name, "is not a cursor this API issued")
        if isinstance(value, int) and not -BIGINT <= value < BIGINT:  # no column holds it
            raise InvalidParameter(name, "is not a cursor this API issued")
        out.append(value)
    return tuple(out)
