"""The practitioner type: a person who treats patients and writes articles."""

from __future__ import annotations

from typing import Annotated

import msgspec

from cms.contenttypes import ContentType, ListFilter, Relation
from cms.jsonld import LdEntry, Node
from cms.schemas import Base, Slug, WebUrlOrEmpty


class PractitionerFields(Base):
    """Fields of a practitioner besides the common ones (the body is the bio)."""

    role: Annotated[str, msgspec.Meta(description="Job title, e.g. `Licensed acupuncturist`.")] = ""
    credentials: Annotated[
        list[str], msgspec.Meta(description="Post-nominal credentials, e.g. `L.Ac.`.")
    ] = msgspec.field(default_factory=list)
    specialties: Annotated[
        list[Slug], msgspec.Meta(description="Conditions the practitioner focuses on.")
    ] = msgspec.field(default_factory=list)
    modalities: list[Slug] = msgspec.field(default_factory=list)
    languages: Annotated[
        list[str], msgspec.Meta(description="BCP 47 language tags, e.g. `en`.")
    ] = msgspec.field(default_factory=list)
    booking_url: Annotated[
        WebUrlOrEmpty,
        msgspec.Meta(
            description="Where patients book with this practitioner: an absolute http(s) "
            "URL, or empty."
        ),
    ] = ""
    example_profile: Annotated[
        bool, msgspec.Meta(description="True when the person is invented for demo data.")
    ] = False


def practitioner_json_ld(entry: LdEntry) -> list[Node]:
    """A schema.org ``Person`` with credentials, languages, clinics and specialties."""
    data = entry.data
    credentials = list(data.get("credentials", []))
    return [
        {
            "@type": "Person",
            "@id": entry.node_id,
            **entry.page(),
            "jobTitle": data.get("role"),
            "honorificSuffix": ", ".join(credentials),
            "hasCredential": [
                {"@type": "EducationalOccupationalCredential", "name": c} for c in credentials
            ],
            "knowsLanguage": list(data.get("languages", [])),
            "knowsAbout": entry.refs("specialties"),
            "worksFor": entry.refs("clinics"),
        }
    ]


PRACTITIONER = ContentType(
    name="practitioner",
    plural="practitioners",
    fields=PractitionerFields,
    label="Practitioner",
    description="A practitioner, the clinics they work at and the conditions they treat.",
    relations={"specialties": Relation(target="condition", many=True)},
    default_sort="title",
    filters={
        "modality": ListFilter(
            field="modalities", description="Modalities the practitioner offers, any of."
        )
    },
    search_fields=("role", "credentials", "modalities"),
    json_ld_type="Person",
    json_ld=practitioner_json_ld,
)
