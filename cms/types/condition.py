"""The condition type: a health condition the clinics treat."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec

from cms.contenttypes import ContentType, Relation
from cms.jsonld import common, compact
from cms.schemas import Base, Reference, Slug


class Course(Base):
    """The usual course of treatment, as ranges."""

    min_sessions: Annotated[int, msgspec.Meta(ge=1)]
    max_sessions: Annotated[int, msgspec.Meta(ge=1)]
    min_sessions_per_week: Annotated[int, msgspec.Meta(ge=1)] = 1
    max_sessions_per_week: Annotated[int, msgspec.Meta(ge=1)] = 1


class Faq(Base):
    """A question patients ask, with its answer (plain text)."""

    question: Annotated[str, msgspec.Meta(min_length=1)]
    answer: Annotated[str, msgspec.Meta(min_length=1)]


class ConditionFields(Base):
    """Fields of a condition besides the common ones."""

    also_known_as: list[str] = msgspec.field(default_factory=list)
    parent: Annotated[
        Slug | None, msgspec.Meta(description="The broader condition this is a kind of.")
    ] = None
    symptoms: list[str] = msgspec.field(default_factory=list)
    causes: list[str] = msgspec.field(default_factory=list)
    prevention: list[str] = msgspec.field(default_factory=list)
    typical_course: Course | None = None
    acute_notes: str = ""
    chronic_notes: str = ""
    modalities: list[Slug] = msgspec.field(default_factory=list)
    faq: list[Faq] = msgspec.field(default_factory=list)
    references: list[Reference] = msgspec.field(default_factory=list)


def condition_json_ld(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A condition as a schema.org ``MedicalCondition``."""
    return compact(
        {
            **common(doc, "MedicalCondition"),
            "alternateName": doc.get("also_known_as"),
            "signOrSymptom": [
                {"@type": "MedicalSymptom", "name": s} for s in doc.get("symptoms", [])
            ],
        }
    )


CONDITION = ContentType(
    name="condition",
    plural="conditions",
    fields=ConditionFields,
    label="Condition",
    description="A health condition: symptoms, causes, typical course and FAQs.",
    relations={"parent": Relation(target="condition")},
    default_sort="title",
    json_ld=condition_json_ld,
)
