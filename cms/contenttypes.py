"""What a content type is, and the registry of the types a running app serves.

A content type is declared by a plugin (the core types included) through the
``register_content_types`` hook. The registry checks the declarations once, at
start-up, and every later layer (storage, API routes, content files) reads
them from here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec

from cms.jsonld import JsonLdMapping
from cms.schemas import COMMON_FIELDS, SLUG_RE


@dataclass(frozen=True)
class Relation:
    """A field of a type's Struct that references other entries by slug.

    Attributes:
        target: the content type name the slugs refer to.
        many: ``list[Slug]`` when true, ``Slug | None`` otherwise.
        optional_targets: further types the field may reference, whose plugins
            may be disabled (a series' parts are articles, and case stories when
            that plugin is on). When there are any, values name their type:
            ``case-story/after-the-accident`` (a :data:`cms.schemas.EntryKey`),
            so a reference never changes meaning when another type gains an
            entry with the same slug.
        has_part: the targets are parts of the source (a series and its
            articles): the source's JSON-LD lists them as ``hasPart`` and
            each target's JSON-LD names the source as ``isPartOf``.
    """

    target: str
    many: bool = False
    optional_targets: tuple[str, ...] = ()
    has_part: bool = False

    @property
    def targets(self) -> tuple[str, ...]:
        """Every type the field may reference, the required one first."""
        return (self.target, *self.optional_targets)

    @property
    def typed(self) -> bool:
        """Whether values are ``type/slug`` rather than bare slugs."""
        return bool(self.optional_targets)

    def split(self, value: str) -> tuple[str, str]:
        """The (type, slug) a stored value names."""
        if not self.typed:
            return self.target, value
        type_name, _, slug = value.partition("/")
        return type_name, slug

    def join(self, type_name: str, slug: str) -> str:
        """The value that names the entry ``type_name``/``slug`` in this field."""
        return f"{type_name}/{slug}" if self.typed else slug


@dataclass(frozen=True)
class ListFilter:
    """A list filter a type declares beside the common ones.

    ``?<name>=a,b`` keeps the entries whose ``field`` holds any of the slugs.
    A relation field is matched through the relations table; any other field
    (a slug or a list of slugs, such as ``modalities``) is indexed when the
    entry is saved.

    Attributes:
        field: the field of the type's Struct to match.
        description: one sentence for the API documentation.
    """

    field: str
    description: str


# Relations every type has, whatever its Struct: the clinic sites it appears on,
# and who reviewed it medically.
COMMON_RELATIONS: Mapping[str, Relation] = {
    "clinics": Relation(target="clinic", many=True),
    "reviewed_by": Relation(target="practitioner"),
}

SORT_FIELDS: tuple[str, ...] = ("published_at", "title", "created_at", "updated_at")

# Keys of every response object besides the common and type-specific fields:
# identity, bookkeeping and what is derived on save.
RESPONSE_KEYS: frozenset[str] = frozenset(
    {"id", "type", "slug", "created_at", "updated_at", "version", "body_html", "toc",
     "reading_time_minutes", "links", "canonical_url", "json_ld"}
)  # fmt: skip


@dataclass(frozen=True)
class ResponseField:
    """A field one plugin adds to the responses of other types.

    Its values are computed by the plugin when something it depends on is
    saved, and stored (:func:`cms.editorial.extras.set_extra`); a read fetches
    the values of a whole page in one query, never one per item.

    Attributes:
        name: the key in the response object (``series``).
        types: names of the content types whose responses carry it.
        schema: the type of the value for the API documentation, e.g.
            ``SeriesNavigation | None``; entries without a stored value show null.
        description: one sentence for the API documentation.
        plugin: the name of the plugin that registered it (set by the registry).
    """

    name: str
    types: tuple[str, ...]
    schema: Any
    description: str
    plugin: str = ""


# Query parameters every list already has: a type's own filter may not take them.
RESERVED_PARAMETERS = frozenset(
    {"limit", "cursor", "sort", "fields", "include", "q", "status", "clinic", "condition",
     "practitioner", "tag", "published_after", "published_before"}
)  # fmt: skip

# URL segments under /api/v1 that the core serves itself.
RESERVED_SEGMENTS = frozenset({"search", "links", "plugins", "tokens", "webhooks", "changes"})

_FILTER_NAME_RE = re.compile(r"^[a-z][a-z_]*$")


@dataclass(frozen=True)
class ContentType:
    """A kind of entry: its name, URL segment and type-specific fields.

    Attributes:
        name: singular name, stored on every entry (``article``).
        plural: the URL segment and content folder (``articles``).
        fields: the msgspec Struct of type-specific fields. It must forbid
            unknown fields and give every field a default or make it required.
        relations: which of ``fields`` hold slugs of other entries.
        label: a human name for documentation (``Article``).
        description: one sentence for the API documentation.
        default_sort: the list order when the caller names none.
        sort_fields: fields of the Struct the list may also sort by
            (``sort=order``, ``sort=-order``), beside the common ones. Each
            holds an integer, a number, a string or a date, never null: an
            entry saved before the field existed sorts as its default.
        filters: list filters of this type, by query parameter name.
        search_fields: fields of the Struct whose text is indexed for search
            beside the title, summary and body (symptoms, credentials, ...).
        json_ld_type: the schema.org type other entries' JSON-LD gives this
            type's entries when they refer to them (``Person``), and the
            type of the default mapping.
        json_ld: builds the schema.org nodes of an entry (see
            :mod:`cms.jsonld`); None gives a plain node of ``json_ld_type``.
        in_feeds: whether the clinics' feeds include published entries of this type.
        has_feed: whether each published entry of this type has feeds
            (``/{plural}/{slug}/feed.atom``, ``.rss``, ``.json``) of the
            in-feeds entries related to it: a clinic's, those that appear on
            it; a condition's or a series', those related to it either way.
        plugin: the name of the plugin that registered it (set by the registry).
        response_fields: fields other plugins add to its responses (set by the
            registry from ``register_response_fields``).
    """

    name: str
    plural: str
    fields: type[msgspec.Struct]
    label: str
    description: str
    relations: Mapping[str, Relation] = field(default_factory=dict)
    default_sort: str = "-published_at"
    sort_fields: tuple[str, ...] = ()
    filters: Mapping[str, ListFilter] = field(default_factory=dict)
    search_fields: tuple[str, ...] = ()
    json_ld_type: str = "WebPage"
    json_ld: JsonLdMapping | None = None
    in_feeds: bool = False
    has_feed: bool = False
    plugin: str = ""
    response_fields: tuple[ResponseField, ...] = ()

    def all_relations(self) -> Mapping[str, Relation]:
        """The common relations followed by this type's own."""
        return {**COMMON_RELATIONS, **self.relations}

    def sort_options(self) -> tuple[str, ...]:
        """Every accepted ``sort`` value: each sort field, ascending and descending."""
        return tuple(
            opt for name in (*SORT_FIELDS, *self.sort_fields) for opt in (name, f"-{name}")
        )

    def facet_fields(self) -> tuple[str, ...]:
        """Fields of :attr:`filters` that are not relations: indexed on save."""
        return tuple(
            dict.fromkeys(f.field for f in self.filters.values() if f.field not in self.relations)
        )

    def has_part_fields(self) -> tuple[str, ...]:
        """Relation fields whose targets are parts of this entry."""
        return tuple(name for name, rel in self.relations.items() if rel.has_part)


class RegistrationError(Exception):
    """A plugin's registration is invalid or clashes with another's."""


def _is_slug_field(kind: msgspec.inspect.Type) -> bool:
    """Whether values of ``kind`` are strings, optional strings or lists of strings."""
    while isinstance(kind, msgspec.inspect.Metadata):
        kind = kind.type
    if isinstance(kind, msgspec.inspect.UnionType):
        rest = [t for t in kind.types if not isinstance(t, msgspec.inspect.NoneType)]
        return len(rest) == 1 and _is_slug_field(rest[0])
    if isinstance(kind, msgspec.inspect.ListType):
        return _is_slug_field(kind.item_type)
    return isinstance(kind, msgspec.inspect.StrType)


# What a declared sort field may hold, and what its values are compared as.
SORTABLE_KINDS: Mapping[type, type] = {
    msgspec.inspect.IntType: int,
    msgspec.inspect.FloatType: float,
    msgspec.inspect.StrType: str,
    # Stored as ISO 8601 text (2025-03-01), which sorts as the dates do.
    msgspec.inspect.DateType: str,
}


def sort_kind(ctype: ContentType, name: str) -> type:
    """What values of sort field ``name`` of ``ctype`` compare as: int, float or str."""
    info = msgspec.inspect.type_info(ctype.fields)
    assert isinstance(info, msgspec.inspect.StructType)  # a Struct class describes a Struct
    kind = next(f.type for f in info.fields if f.name == name)
    while isinstance(kind, msgspec.inspect.Metadata):
        kind = kind.type
    return SORTABLE_KINDS[type(kind)]


def sort_default(ctype: ContentType, name: str) -> Any:
    """The value an entry stored without sort field ``name`` sorts as: the field's default."""
    info = next(f for f in msgspec.structs.fields(ctype.fields) if f.name == name)
    if info.default is not msgspec.NODEFAULT:
        default = info.default
    elif info.default_factory is not msgspec.NODEFAULT:
        default = info.default_factory()
    else:
        default = sort_kind(ctype, name)()  # required: every stored entry has a value
    return msgspec.to_builtins(default)


def _check_sort_fields(ctype: ContentType, who: str) -> None:
    info = msgspec.inspect.type_info(ctype.fields)
    assert isinstance(info, msgspec.inspect.StructType)  # a Struct class describes a Struct
    kinds = {f.name: f.type for f in info.fields}
    for name in ctype.sort_fields:
        kind = kinds.get(name)
        while isinstance(kind, msgspec.inspect.Metadata):
            kind = kind.type
        if kind is None or name in ctype.relations or type(kind) not in SORTABLE_KINDS:
            raise RegistrationError(
                f"plugin {who!r}: sort field {name!r} must be a field of "
                f"{ctype.fields.__name__} holding an int, a float, a str or a date (not "
                "null, not a relation)"
            )


def _check_filters(ctype: ContentType, who: str) -> None:
    info = msgspec.inspect.type_info(ctype.fields)
    assert isinstance(info, msgspec.inspect.StructType)  # a Struct class describes a Struct
    kinds = {f.name: f.type for f in info.fields}
    for name, spec in ctype.filters.items():
        # `fields_<type>` names the handler's `fields[<type>]` parameters.
        if (
            not _FILTER_NAME_RE.match(name)
            or name in RESERVED_PARAMETERS
            or (name.startswith("fields"))
        ):
            raise RegistrationError(
                f"plugin {who!r}: filter {name!r} must be a lowercase name that no list "
                "parameter already uses"
            )
        if spec.field not in kinds:
            raise RegistrationError(
                f"plugin {who!r}: filter {name!r} names {spec.field!r}, not a field of "
                f"{ctype.fields.__name__}"
            )
        if spec.field not in ctype.relations and not _is_slug_field(kinds[spec.field]):
            raise RegistrationError(
                f"plugin {who!r}: filter {name!r}: {spec.field!r} must hold a string or a "
                "list of strings"
            )


class TypeRegistry:
    """The content types of one app, by name and by URL segment."""

    def __init__(self) -> None:
        self._by_name: dict[str, ContentType] = {}
        self._by_plural: dict[str, ContentType] = {}

    def add(self, ctype: ContentType) -> None:
        """Add a type, failing loudly on a clash or a malformed declaration."""
        who = ctype.plugin or "unknown plugin"
        if not SLUG_RE.match(ctype.name) or not SLUG_RE.match(ctype.plural):
            raise RegistrationError(
                f"plugin {who!r}: type name {ctype.name!r} and URL segment {ctype.plural!r} "
                "must be lowercase-hyphen slugs"
            )
        for key, index in ((ctype.name, self._by_name), (ctype.plural, self._by_plural)):
            if key in index:
                raise RegistrationError(
                    f"content type {key!r} is registered twice: by plugin "
                    f"{index[key].plugin!r} and by plugin {who!r}"
                )
        config = ctype.fields.__struct_config__
        if not config.forbid_unknown_fields:
            raise RegistrationError(
                f"plugin {who!r}: {ctype.fields.__name__} must set forbid_unknown_fields=True"
            )
        own = set(ctype.fields.__struct_fields__)
        for name in ctype.relations:
            if name not in own:
                raise RegistrationError(
                    f"plugin {who!r}: relation {name!r} is not a field of {ctype.fields.__name__}"
                )
        clash = sorted(own & (set(COMMON_FIELDS) | RESPONSE_KEYS))
        if clash:
            raise RegistrationError(
                f"plugin {who!r}: {ctype.fields.__name__} redefines the common field(s) "
                f"{', '.join(clash)}"
            )
        _check_sort_fields(ctype, who)
        if ctype.default_sort not in ctype.sort_options():
            raise RegistrationError(
                f"plugin {who!r}: default_sort {ctype.default_sort!r} is not a sort option"
            )
        if ctype.plural in RESERVED_SEGMENTS:
            raise RegistrationError(
                f"plugin {who!r}: URL segment {ctype.plural!r} is served by the core API"
            )
        _check_filters(ctype, who)
        for name in ctype.search_fields:
            if name not in own:
                raise RegistrationError(
                    f"plugin {who!r}: search field {name!r} is not a field of "
                    f"{ctype.fields.__name__}"
                )
        self._by_name[ctype.name] = ctype
        self._by_plural[ctype.plural] = ctype

    def check_relations(self) -> None:
        """Check that every relation targets a registered type (after all are added).

        Optional targets may be missing: their plugin may be disabled.
        """
        for ctype in self:
            for fname, rel in ctype.all_relations().items():
                if rel.target not in self._by_name:
                    raise RegistrationError(
                        f"plugin {ctype.plugin!r}: {ctype.name}.{fname} targets unknown "
                        f"type {rel.target!r}"
                    )

    def add_response_field(self, rfield: ResponseField) -> None:
        """Add a field to the responses of ``rfield.types``, failing loudly on a clash."""
        who = rfield.plugin or "unknown plugin"
        if not rfield.types:
            raise RegistrationError(f"plugin {who!r}: response field {rfield.name!r} names no type")
        for type_name in rfield.types:
            ctype = self._by_name.get(type_name)
            if ctype is None:
                raise RegistrationError(
                    f"plugin {who!r}: response field {rfield.name!r} is for unknown type "
                    f"{type_name!r}"
                )
            taken = {*COMMON_FIELDS, *RESPONSE_KEYS, *ctype.fields.__struct_fields__}
            if rfield.name in taken:
                raise RegistrationError(
                    f"plugin {who!r}: response field {rfield.name!r} is already a field of "
                    f"{type_name} (from plugin {ctype.plugin!r})"
                )
            for other in ctype.response_fields:
                if other.name == rfield.name:
                    raise RegistrationError(
                        f"response field {type_name}.{rfield.name} is registered twice: by "
                        f"plugin {other.plugin!r} and by plugin {who!r}"
                    )
            updated = replace(ctype, response_fields=(*ctype.response_fields, rfield))
            self._by_name[ctype.name] = updated
            self._by_plural[ctype.plural] = updated

    def enabled(self, type_name: str) -> bool:
        """Whether a type called ``type_name`` is registered."""
        return type_name in self._by_name

    def get(self, name: str) -> ContentType | None:
        """The type called ``name``, or None."""
        return self._by_name.get(name)

    def by_plural(self, plural: str) -> ContentType | None:
        """The type whose URL segment is ``plural``, or None."""
        return self._by_plural.get(plural)

    def __getitem__(self, name: str) -> ContentType:
        return self._by_name[name]

    def __iter__(self) -> Iterator[ContentType]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)
