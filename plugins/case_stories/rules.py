"""The rules a case story must pass before it is published."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from cms.plugin import EntryInput, FieldError, PluginSettings
from plugins.case_stories.identifiers import find_identifiers, name_pattern
from plugins.case_stories.types import CaseStoryFields

NAMES_FILE_VARIABLE = "CMS_CASE_STORIES_NAMES_FILE"


class CaseStoriesSettings(PluginSettings, frozen=True):
    """The plugin's settings, each read from ``CMS_CASE_STORIES_<NAME>``."""

    names_file: str | None = None
    """A file of full names a story may never contain (``CMS_CASE_STORIES_NAMES_FILE``)."""


def blocked_names(names_file: str | None) -> list[str]:
    """The full names a case story may never contain, from the file ``names_file``.

    The file holds one full name per line; blank lines and lines starting with
    ``#`` are skipped. It is read on every check, so an updated list applies
    at once. None: no names are checked (the other rules still apply).

    Raises:
        OSError: ``names_file`` cannot be read. Publishing then fails rather
            than skipping the check.
    """
    if not names_file:
        return []
    try:
        lines = Path(names_file).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise OSError(f"{NAMES_FILE_VARIABLE}={names_file}: {exc.strerror or exc}") from exc
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")


def texts(entry: EntryInput) -> list[tuple[str, str]]:
    """Every piece of free text of ``entry``, with the field it is in."""
    common = entry.common
    out = [
        ("title", common.title),
        ("summary", common.summary),
        ("body", common.body),
        ("seo.title", common.seo.title),
        ("seo.description", common.seo.description),
        *((f"tags[{i}]", tag) for i, tag in enumerate(common.tags)),
    ]
    own = msgspec.to_builtins(entry.fields)
    for name, value in own.items():
        if name not in entry.ctype.relations:  # slugs of other entries, checked there
            out.extend(_strings(value, name))
    return [(field, text) for field, text in out if text]


def case_story_problems(entry: EntryInput, names: list[str]) -> list[FieldError]:
    """Every reason ``entry`` (a case story) may not be published."""
    fields = entry.fields
    assert isinstance(fields, CaseStoryFields)
    problems = []
    if not fields.consent_on_file and not fields.illustrative:
        problems.append(
            FieldError(
                "consent_on_file",
                "the patient's consent is not on file; a story about a real patient needs it "
                "(or mark an invented example `illustrative: true`)",
            )
        )
    for finding, multiline in find_identifiers(texts(entry), name_pattern(names)):
        problems.append(FieldError(finding.field, finding.message(multiline)))
    return problems
