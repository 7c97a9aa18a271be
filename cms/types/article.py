"""The article type: an educational post written by a practitioner."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec

from cms.contenttypes import ContentType, Relation
from cms.jsonld import common, compact
from cms.schemas import Base, Reference, Slug


class ArticleFields(Base):
    """Fields of an article besides the common ones."""

    author: Annotated[Slug | None, msgspec.Meta(description="The practitioner who wrote it.")] = (
        None
    )
    conditions: Annotated[
        list[Slug], msgspec.Meta(description="Conditions the article is about.")
    ] = msgspec.field(default_factory=list)
    hero_image_url: Annotated[str, msgspec.Meta(pattern=r"^(https?://.*)?$")] = ""
    references: list[Reference] = msgspec.field(default_factory=list)


def article_json_ld(doc: Mapping[str, Any]) -> dict[str, Any]:
    """An article as a schema.org ``Article``."""
    return compact(
        {
            **common(doc, "Article", name_key="headline"),
            "keywords": doc.get("tags"),
            "image": doc.get("hero_image_url"),
            "citation": [
                {"@type": "CreativeWork", "name": r["title"], "url": r["url"]}
                for r in doc.get("references", [])
            ],
        }
    )


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
    json_ld=article_json_ld,
    in_feeds=True,
)
