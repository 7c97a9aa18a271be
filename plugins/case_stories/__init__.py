"""Case stories: one patient's course of treatment, published only with consent and no identifiers.

Registers the ``case-story`` type (``/api/v1/case-stories``, ``content/case-stories/``)
and refuses to publish a story when the patient's consent is not on file (for
a story that is not marked illustrative) or when its text contains personal
identifiers: e-mail addresses, phone numbers, dates of birth, health card
numbers, or a full name from the list in ``CMS_CASE_STORIES_NAMES_FILE``.

Enabled through the ``cms`` entry point ``case_stories``.
"""

from __future__ import annotations

from collections.abc import Sequence

from cms.plugin import ContentType, EntryInput, FieldError, hookimpl
from plugins.case_stories.rules import CaseStoriesSettings, blocked_names, case_story_problems
from plugins.case_stories.types import CASE_STORY


@hookimpl
def register_settings() -> type[CaseStoriesSettings]:
    """Its one setting, ``CMS_CASE_STORIES_NAMES_FILE``."""
    return CaseStoriesSettings


@hookimpl
def register_content_types() -> Sequence[ContentType]:
    """The case-story type."""
    return [CASE_STORY]


@hookimpl
def on_before_publish(entry: EntryInput, settings: CaseStoriesSettings) -> Sequence[FieldError]:
    """Consent on file (or illustrative), and no personal identifiers anywhere in the text."""
    if entry.ctype.name != CASE_STORY.name:
        return []
    return case_story_problems(entry, blocked_names(settings.names_file))
