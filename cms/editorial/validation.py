"""Turning a raw mapping into a validated entry input."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec

from cms.contenttypes import ContentType, Relation
from cms.errors import FieldError, InvalidEntry
from cms.schemas import (
    COMMON_FIELDS,
    SLUG_MAX_LENGTH,
    SLUG_RE,
    WEB_URL_OR_EMPTY_PATTERN,
    WEB_URL_PATTERN,
    WEB_URL_RULE,
    EntryCommon,
)

_PATH_RE = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_UNKNOWN_RE = re.compile(r"(?:unknown|missing required) field `(?P<name>[^`]+)`")
# What msgspec says of a URL field that breaks the rule: its regular expression,
# which tells an editor less than the rule in words.
_URL_MESSAGES = frozenset(
    f"Expected `str` matching regex {pattern!r}"
    for pattern in (WEB_URL_PATTERN, WEB_URL_OR_EMPTY_PATTERN)
)


def field_error(exc: msgspec.ValidationError, prefix: str = "") -> FieldError:
    """Name the field a msgspec validation error is about (``$.a.b[0]`` -> ``a.b[0]``)."""
    match = _PATH_RE.match(str(exc))
    assert match is not None  # the pattern matches any string
    message, path = match.group("msg"), (match.group("path") or "").lstrip(".")
    if message in _URL_MESSAGES:
        message = WEB_URL_RULE
    unknown = _UNKNOWN_RE.search(message)
    if unknown:
        path = f"{path}.{unknown.group('name')}" if path else unknown.group("name")
    name = ".".join(part for part in (prefix, path) if part)
    return FieldError(field=name or "(body)", message=message)


@dataclass(frozen=True)
class EntryInput:
    """A validated write: common fields and the type's own Struct."""

    ctype: ContentType
    slug: str
    common: EntryCommon
    fields: msgspec.Struct
    id: str | None = None

    def relation_slugs(self) -> dict[str, list[str]]:
        """Every relation field with the slugs it names, in order."""
        out: dict[str, list[str]] = {}
        for name, rel in self.ctype.all_relations().items():
            source = self.common if hasattr(self.common, name) else self.fields
            value = getattr(source, name)
            if rel.many:
                out[name] = list(value)
            else:
                out[name] = [] if value is None else [value]
        return out

    def effective_origin(self) -> str | None:
        """The canonical home: ``origin_clinic``, else the first of ``clinics``."""
        return self.common.origin_clinic or next(iter(self.common.clinics), None)

    def payload(self) -> dict[str, Any]:
        """The write-side document: what a content file or a revision holds."""
        data: dict[str, Any] = {"id": self.id, "slug": self.slug}
        data.update(msgspec.to_builtins(self.common))
        data.update(msgspec.to_builtins(self.fields))
        return data


def document_fields(ctype: ContentType, doc: dict[str, Any]) -> dict[str, Any]:
    """The write-side fields of an entry as the API shows it, to give :func:`parse_entry`.

    Relations shown as ``{slug, title}`` references become the slugs (or
    ``type/slug``) a write names them by; derived and read-only fields are
    left out. ``origin_clinic`` is kept only where it says more than
    ``clinics`` does (documents show the effective origin, else the first clinic).
    """
    raw = {k: doc[k] for k in (*COMMON_FIELDS, *ctype.fields.__struct_fields__) if k in doc}
    for name, rel in ctype.all_relations().items():
        values = [_relation_value(rel, ref) for ref in references(raw.get(name))]
        raw[name] = values if rel.many else (values[0] if values else None)
    clinics = raw.get("clinics") or []
    origin = raw.get("origin_clinic")
    raw["origin_clinic"] = origin if origin in clinics and origin != clinics[0] else None
    return raw


def references(value: Any) -> list[Any]:
    """A relation field's value as a list: one reference, several, or none."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _relation_value(rel: Relation, ref: Any) -> Any:
    """A ``{slug, title}`` reference as a write names it (a slug, or ``type/slug``)."""
    if isinstance(ref, dict) and "slug" in ref:
        return rel.join(str(ref.get("type") or rel.target), str(ref["slug"]))
    return ref  # a slug already, or something the validation will name


def parse_entry(
    ctype: ContentType, slug: str, raw: dict[str, Any], *, entry_id: str | None = None
) -> EntryInput:
    """Validate ``raw`` (common and type-specific fields side by side) for ``ctype``.

    Raises:
        InvalidEntry: naming the first bad field of each part.
    """
    errors: list[FieldError] = []
    if not SLUG_RE.match(slug):
        errors.append(FieldError("slug", f"{slug!r} is not a lowercase-hyphen slug"))
    elif len(slug) > SLUG_MAX_LENGTH:
        errors.append(FieldError("slug", f"is longer than {SLUG_MAX_LENGTH} characters"))
    common_raw = {k: v for k, v in raw.items() if k in COMMON_FIELDS}
    own_raw = {k: v for k, v in raw.items() if k not in COMMON_FIELDS}
    common: EntryCommon | None = None
    fields: msgspec.Struct | None = None
    try:
        common = msgspec.convert(common_raw, EntryCommon)
    except msgspec.ValidationError as exc:
        errors.append(field_error(exc))
    try:
        fields = msgspec.convert(own_raw, ctype.fields)
    except msgspec.ValidationError as exc:
        errors.append(field_error(exc))
    if common is not None:
        errors.extend(_check_common(common))
    if errors or common is None or fields is None:
        raise InvalidEntry(errors)
    return EntryInput(ctype=ctype, slug=slug, common=common, fields=fields, id=entry_id)


def _check_common(common: EntryCommon) -> list[FieldError]:
    errors = []
    if len(set(common.clinics)) != len(common.clinics):
        errors.append(FieldError("clinics", "lists a clinic twice"))
    if len(set(common.tags)) != len(common.tags):
        errors.append(FieldError("tags", "lists a tag twice"))
    if common.origin_clinic is not None and common.origin_clinic not in common.clinics:
        errors.append(
            FieldError(
                "origin_clinic", f"{common.origin_clinic!r} is not one of the entry's clinics"
            )
        )
    if common.published_at is not None and common.published_at.tzinfo is None:
        errors.append(FieldError("published_at", "needs a time zone, e.g. `Z` for UTC"))
    return errors
