"""Sparse fieldsets and embedded related entries: ``fields``, ``include``, ``fields[type]``.

``include=author,conditions`` replaces those references (``{slug, title}``)
by the related entries themselves, as list items: published ones only, one
level deep (their own relations stay references), each cut down to
``fields[<its type>]`` when given. ``fields=title,slug`` sends only those
fields of the requested entries.

Embedding costs two queries whatever the page size: the documents of every
related entry named by the page, then their own relations.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.contenttypes import ContentType, TypeRegistry
from cms.editorial.entries import RelatedRow, attach_relations, reference, related_rows
from cms.errors import InvalidParameter
from cms.storage.views import PUBLISHED, WORKING


@dataclass(frozen=True)
class Shape:
    """What to send of each entry.

    Attributes:
        fields: the fields of the requested entries, or None for all of them.
        include: relation fields whose references become embedded entries.
        nested: per type name, the fields of its embedded entries (all when absent).
    """

    fields: frozenset[str] | None = None
    include: tuple[str, ...] = ()
    nested: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def shows(self, name: str) -> bool:
        """Whether field ``name`` of a requested entry is sent."""
        return self.fields is None or name in self.fields


def _names(parameter: str, raw: str, allowed: Sequence[str]) -> list[str]:
    # As written: the document's pattern allows no space and no empty name.
    names = raw.split(",")
    for name in names:
        if name not in allowed:
            raise InvalidParameter(
                parameter, f"{name!r} is not a field here (fields: {', '.join(allowed)})"
            )
    return names


def parse_shape(
    ctype: ContentType,
    *,
    fields: str | None,
    include: str | None,
    nested: Mapping[str, str | None],
    allowed: Sequence[str],
    allowed_nested: Mapping[str, Sequence[str]],
) -> Shape:
    """Check ``fields``, ``include`` and ``fields[type]`` against what ``ctype`` has.

    Args:
        nested: raw ``fields[type]`` values by type name.
        allowed: the fields a requested entry has (list items have fewer than details).
        allowed_nested: the fields an embedded entry of each type has (its list item's).

    Raises:
        InvalidParameter: naming the parameter and the field it cannot have.
    """
    chosen = frozenset(_names("fields", fields, allowed)) if fields is not None else None
    relations = ctype.all_relations()
    included: list[str] = []
    if include is not None:
        for name in include.split(","):
            if "." in name:
                raise InvalidParameter("include", f"{name!r}: related entries embed one level deep")
            if name not in relations:
                raise InvalidParameter(
                    "include",
                    f"{name!r} is not a relation of {ctype.name} "
                    f"(relations: {', '.join(relations)})",
                )
            included.append(name)
    if chosen is not None:
        # An embedded relation is sent even when `fields` leaves it out: asking
        # for it is asking for the field.
        chosen |= frozenset(included)
    by_type = {
        type_name: frozenset(_names(f"fields[{type_name}]", raw, allowed_nested[type_name]))
        for type_name, raw in nested.items()
        if raw is not None
    }
    return Shape(fields=chosen, include=tuple(dict.fromkeys(included)), nested=by_type)


def project(doc: dict[str, Any], fields: frozenset[str] | None) -> dict[str, Any]:
    """``doc`` with only ``fields`` (all of them when None), in the document's order."""
    if fields is None:
        return doc
    return {k: v for k, v in doc.items() if k in fields}


@dataclass
class Embedded:
    """What embedding added: the related entries' ids and their own relation rows."""

    ids: list[str]
    related: list[RelatedRow]


async def embed(
    session: AsyncSession,
    types: TypeRegistry,
    ctype: ContentType,
    docs: list[dict[str, Any]],
    related: Sequence[RelatedRow],
    shape: Shape,
    *,
    published_only: bool = True,
    clinic_scope: frozenset[str] | None = None,
) -> Embedded:
    """Replace the references ``shape.include`` names in ``docs`` by the entries.

    ``related`` are the relation rows ``docs`` were given (from the same read,
    so with the same visibility). Unpublished targets were never referenced
    for anonymous callers, so they are not embedded either.

    Args:
        published_only: embed published versions (the public's read), else
            working copies (a token's).
        clinic_scope: the clinics of a token limited to some: a working copy
            on none of them is not the token's to read (its own read is a
            404), so its reference stays a reference.
    """
    if not shape.include or not docs:
        return Embedded(ids=[], related=[])
    wanted = set(shape.include)
    targets: dict[tuple[str, str], list[RelatedRow]] = defaultdict(list)
    for row in related:
        if row.field in wanted:
            targets[(row.source_id, row.field)].append(row)
    ids = list(dict.fromkeys(r.target_id for rows in targets.values() for r in rows))
    if not ids:
        return Embedded(ids=[], related=[])
    # The public embeds the published versions; editors the working copies.
    table = PUBLISHED.entry if published_only else WORKING.entry
    query = select(table.id, table.type, table.doc_item).where(col(table.id).in_(ids))
    rows = list((await session.exec(query)).all())
    nested_related = await related_rows(
        session, [r[0] for r in rows], published_only=published_only
    )
    entries = _attach_by_type(types, rows, nested_related)
    hidden = set()
    if clinic_scope is not None:
        hidden = {i for i, doc in entries.items() if clinic_scope.isdisjoint(doc["clinics"])}
        entries = {i: doc for i, doc in entries.items() if i not in hidden}
        nested_related = [r for r in nested_related if r.source_id in entries]
    projected = {i: project(doc, shape.nested.get(doc["type"])) for i, doc in entries.items()}
    relations = ctype.all_relations()
    for doc in docs:
        for name in shape.include:
            found = [
                _unembedded(name, row, relations[name].typed)
                if row.target_id in hidden
                else projected[row.target_id]
                for row in targets.get((doc["id"], name), [])
                if row.target_id in projected or row.target_id in hidden
            ]
            doc[name] = found if relations[name].many else next(iter(found), None)
    return Embedded(ids=list(entries), related=nested_related)


def _unembedded(name: str, row: RelatedRow, typed: bool) -> Any:
    """A relation as it shows when not embedded: a clinic's slug, else a reference."""
    return row.slug if name == "clinics" else reference(row, typed)


def _attach_by_type(
    types: TypeRegistry, rows: Iterable[tuple[str, str, bytes]], related: list[RelatedRow]
) -> dict[str, dict[str, Any]]:
    by_type: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    for entry_id, type_name, raw in rows:
        by_type[type_name].append((entry_id, raw))
    out: dict[str, dict[str, Any]] = {}
    for type_name, docs in by_type.items():
        target_type = types.get(type_name)
        if target_type is None:  # a disabled plugin's entry: shown as it was stored
            out.update({i: msgspec.json.decode(raw) for i, raw in docs})
            continue
        for doc in attach_relations(target_type, docs, related):
            out[doc["id"]] = doc
    return out


def surrogate_ids(
    docs: Sequence[dict[str, Any]],
    related: Sequence[RelatedRow],
    embedded: Embedded,
    shape: Shape,
) -> list[str]:
    """Every entry whose data is in the body: the entries, the ones they name, the embedded ones.

    Call it before :func:`project`, which may drop the ids.
    """
    ids = [d["id"] for d in docs]
    ids += [r.target_id for r in related if shape.shows(r.field)]
    ids += embedded.ids
    ids += [r.target_id for r in embedded.related]
    return list(dict.fromkeys(ids))
