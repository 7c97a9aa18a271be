"""Helpers for the schema.org (JSON-LD) mappings content types declare.

A type's mapping receives the entry's write-side document and returns a
schema.org object; the core adds ``@context`` and stores the result on save.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DAY_NAMES: Mapping[str, str] = {
    "Mo": "Monday", "Tu": "Tuesday", "We": "Wednesday", "Th": "Thursday",
    "Fr": "Friday", "Sa": "Saturday", "Su": "Sunday",
}  # fmt: skip


def compact(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``obj`` without empty values (None, "", [] and {}), nested objects too.

    schema.org consumers treat a missing property as unknown; an empty one
    would claim something ("no telephone").
    """
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if isinstance(value, Mapping):
            value = compact(value)
        if value is None or value == "" or value == [] or value == {}:
            continue
        out[key] = value
    return out


def common(doc: Mapping[str, Any], type_: str, name_key: str = "name") -> dict[str, Any]:
    """The properties every mapping starts from: type, name, description, dates."""
    return {
        "@type": type_,
        name_key: doc["title"],
        "description": doc.get("summary") or None,
        "datePublished": doc.get("published_at"),
        "dateModified": doc.get("updated_at"),
    }
