"""The core content types, registered through the same hooks as any plugin."""

from __future__ import annotations

from collections.abc import Sequence

from cms.contenttypes import ContentType
from cms.hookspecs import hookimpl
from cms.types.article import ARTICLE
from cms.types.clinic import CLINIC
from cms.types.condition import CONDITION
from cms.types.practitioner import PRACTITIONER


@hookimpl
def register_content_types() -> Sequence[ContentType]:
    """The four core types."""
    return [CLINIC, PRACTITIONER, CONDITION, ARTICLE]
