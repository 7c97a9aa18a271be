"""The case-story type: one patient's course of treatment, told without names."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from cms.plugin import Base, ContentType, LdEntry, Node, Relation, Slug


class PatientProfile(Base):
    """Who the patient is, in terms that cannot identify them: never a name."""

    age_range: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^(\d0s|\d{1,3}-\d{1,3})?$",
            description="An age band, e.g. `40s` or `35-44`; never a birth date.",
        ),
    ] = ""
    sex: Literal["female", "male", "unspecified"] = "unspecified"
    occupation: Annotated[str, msgspec.Meta(description="e.g. `Office worker`.")] = ""
    lifestyle: Annotated[
        str, msgspec.Meta(description="Activity, habits and circumstances that matter here.")
    ] = ""


class Treatment(Base):
    """What was done, how often and with what."""

    sessions: Annotated[int, msgspec.Meta(ge=1, le=200, description="Sessions in all.")]
    sessions_per_week: Annotated[int, msgspec.Meta(ge=1, le=7)] = 1
    modalities: Annotated[
        list[Slug],
        msgspec.Meta(description="e.g. `acupuncture`, `electro-acupuncture`, `cupping`."),
    ] = msgspec.field(default_factory=list)
    points: Annotated[
        list[str], msgspec.Meta(description="Acupuncture points used, e.g. `BL23`.")
    ] = msgspec.field(default_factory=list)
    stimulation: Annotated[
        str, msgspec.Meta(description="How the points were stimulated, in a sentence.")
    ] = ""


class CaseStoryFields(Base):
    """Fields of a case story besides the common ones (the body tells the story)."""

    patient_profile: PatientProfile = msgspec.field(default_factory=PatientProfile)
    trigger: Annotated[str, msgspec.Meta(description="What set the problem off.")] = ""
    root_cause: Annotated[
        str, msgspec.Meta(description="What the first assessment found behind it.")
    ] = ""
    conditions: Annotated[
        list[Slug], msgspec.Meta(description="Conditions the story is about.")
    ] = msgspec.field(default_factory=list)
    practitioner: Annotated[
        Slug | None, msgspec.Meta(description="The practitioner who treated the patient.")
    ] = None
    clinic: Annotated[
        Slug | None, msgspec.Meta(description="The clinic where the treatment took place.")
    ] = None
    treatment: Treatment | None = None
    outcome: Annotated[str, msgspec.Meta(description="How things stood at the end.")] = ""
    consent_on_file: Annotated[
        bool,
        msgspec.Meta(description="The patient's written consent to publish is on file."),
    ] = False
    illustrative: Annotated[
        bool,
        msgspec.Meta(
            description="An illustrative example, not one real patient's record "
            "(no consent is needed)."
        ),
    ] = False


def case_story_json_ld(entry: LdEntry) -> list[Node]:
    """A case story as a schema.org ``Article`` in the section "Case stories"."""
    return [
        {
            "@type": "Article",
            "@id": entry.node_id,
            **entry.page(),
            "headline": entry.me.title[:110],
            "articleSection": "Case stories",
            "genre": "illustrative example" if entry.data.get("illustrative") else "case report",
            "about": entry.refs("conditions"),
            "author": entry.one("practitioner"),
            "publisher": entry.origin.ref() if entry.origin else None,
            "keywords": list(entry.tags),
        }
    ]


CASE_STORY = ContentType(
    name="case-story",
    plural="case-stories",
    fields=CaseStoryFields,
    label="Case story",
    description="One patient's course of treatment: the trigger, the root cause found at "
    "assessment, the treatment and the outcome, with no personal identifiers.",
    relations={
        "conditions": Relation(target="condition", many=True),
        "practitioner": Relation(target="practitioner"),
        "clinic": Relation(target="clinic"),
    },
    json_ld_type="Article",
    json_ld=case_story_json_ld,
    in_feeds=True,
)
