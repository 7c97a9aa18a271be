"""The practitioner type: a person who treats patients and writes articles."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec

from cms.contenttypes import ContentType, Relation
from cms.jsonld import common, compact
from cms.schemas import Base, Slug


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
    booking_url: str = ""
    example_profile: Annotated[
        bool, msgspec.Meta(description="True when the person is invented for demo data.")
    ] = False


def practitioner_json_ld(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A practitioner as a schema.org ``Person``."""
    return compact(
        {
            **common(doc, "Person"),
            "jobTitle": doc.get("role"),
            "honorificSuffix": ", ".join(doc.get("credentials", [])),
            "knowsLanguage": doc.get("languages"),
        }
    )


PRACTITIONER = ContentType(
    name="practitioner",
    plural="practitioners",
    fields=PractitionerFields,
    label="Practitioner",
    description="A practitioner, the clinics they work at and the conditions they treat.",
    relations={"specialties": Relation(target="condition", many=True)},
    default_sort="title",
    json_ld=practitioner_json_ld,
)
