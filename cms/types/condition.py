"""The condition type: a health condition the clinics treat."""

from __future__ import annotations

from typing import Annotated

import msgspec

from cms.contenttypes import ContentType, ListFilter, Relation
from cms.dates import iso
from cms.jsonld import LdEntry, Node, citations, humanize
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


def condition_json_ld(entry: LdEntry) -> list[Node]:
    """A ``MedicalCondition``, the ``MedicalWebPage`` about it and its ``FAQPage``."""
    data = entry.data
    base = entry.base()
    condition = {"@id": entry.node_id}
    nodes: list[Node] = [
        {
            "@type": "MedicalCondition",
            "@id": entry.node_id,
            "name": entry.me.title,
            "alternateName": list(data.get("also_known_as", [])),
            "description": entry.summary,
            "url": entry.me.url,
            "signOrSymptom": [
                {"@type": "MedicalSignOrSymptom", "name": s} for s in data.get("symptoms", [])
            ],
            "cause": [{"@type": "MedicalCause", "name": c} for c in data.get("causes", [])],
            "possibleTreatment": [
                {"@type": "MedicalTherapy", "name": humanize(m)} for m in data.get("modalities", [])
            ],
            "primaryPrevention": [
                {"@type": "MedicalTherapy", "name": p} for p in data.get("prevention", [])
            ],
        },
        {
            "@type": "MedicalWebPage",
            "@id": f"{base}#page",
            **entry.page(),
            "about": condition,
            "mainEntity": condition,
            "lastReviewed": iso(entry.last_reviewed),
            "reviewedBy": entry.one("reviewed_by"),
            "citation": citations(data.get("references", [])),
        },
    ]
    if data.get("faq"):
        nodes.append(
            {
                "@type": "FAQPage",
                "@id": f"{base}#faq",
                "url": entry.me.url,
                "about": condition,
                "mainEntity": [
                    {
                        "@type": "Question",
                        "name": pair["question"],
                        "acceptedAnswer": {"@type": "Answer", "text": pair["answer"]},
                    }
                    for pair in data["faq"]
                ],
            }
        )
    return nodes


CONDITION = ContentType(
    name="condition",
    plural="conditions",
    fields=ConditionFields,
    label="Condition",
    description="A health condition: symptoms, causes, typical course and FAQs.",
    relations={"parent": Relation(target="condition")},
    default_sort="title",
    filters={
        "parent": ListFilter(field="parent", description="Slugs of broader conditions, any of."),
        "modality": ListFilter(
            field="modalities", description="Modalities that treat the condition, any of."
        ),
    },
    search_fields=("also_known_as", "symptoms", "causes", "faq"),
    json_ld_type="MedicalCondition",
    json_ld=condition_json_ld,
    has_feed=True,
)
