"""The article type: an educational post written by a practitioner."""

from __future__ import annotations

from typing import Annotated

import msgspec

from cms.contenttypes import ContentType, Relation
from cms.dates import iso
from cms.jsonld import LdEntry, Node, citations
from cms.schemas import Base, Reference, Slug, WebUrlOrEmpty

# Google truncates longer headlines; schema.org itself sets no limit.
HEADLINE_LENGTH = 110


class ArticleFields(Base):
    """Fields of an article besides the common ones."""

    author: Annotated[Slug | None, msgspec.Meta(description="The practitioner who wrote it.")] = (
        None
    )
    conditions: Annotated[
        list[Slug], msgspec.Meta(description="Conditions the article is about.")
    ] = msgspec.field(default_factory=list)
    hero_image_url: Annotated[
        WebUrlOrEmpty,
        msgspec.Meta(description="The article's main image: an absolute http(s) URL, or empty."),
    ] = ""
    references: list[Reference] = msgspec.field(default_factory=list)


def article_json_ld(entry: LdEntry) -> list[Node]:
    """An ``Article`` that is also a ``MedicalWebPage``: author, topics, medical review."""
    data = entry.data
    return [
        {
            "@type": ["Article", "MedicalWebPage"],
            "@id": entry.node_id,
            **entry.page(),
            "headline": entry.me.title[:HEADLINE_LENGTH],
            "author": entry.one("author"),
            "about": entry.refs("conditions"),
            "lastReviewed": iso(entry.last_reviewed),
            "reviewedBy": entry.one("reviewed_by"),
            "publisher": entry.origin.ref() if entry.origin else None,
            "image": data.get("hero_image_url"),
            "keywords": list(entry.tags),
            "citation": citations(data.get("references", [])),
        }
    ]


ARTICLE = ContentType(
    name="article",
    plural="articles",
    fields=ArticleFields,
    label="Article",
    description="An educational article by a practitioner about one or more conditions.",
    relations={
        "author": Relation(target="practitioner"),
        "conditions": Relation(target="condition", many=True),
    },
    json_ld_type="Article",
    json_ld=article_json_ld,
    in_feeds=True,
)
