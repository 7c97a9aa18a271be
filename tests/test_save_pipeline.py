"""Every write goes through the save pipeline: no module writes a save sequence by hand.

The steps of a save (the entry row, its relations, the documents, the
published copies, the dependents, the change records, the content
generation, the plugin hooks) are called from :mod:`cms.editorial.pipeline`
only, and from the module that defines each (one step may call another of
its own module). A new write path that calls them itself, instead of
``pipeline.save``, fails here: leaving one step out is how an entry's
documents stayed empty.

It also holds the cases where the paths used to differ and now share a step.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import frontmatter
import pytest
from litestar.testing import TestClient

from cms.app import create_app
from cms.settings import Settings
from tests.conftest import QUIET, edit_entry, load_folder

REPO = Path(__file__).resolve().parent.parent
PIPELINE = "cms.editorial.pipeline"

# Each step, by its qualified name, and the modules besides the pipeline and its
# own that may call it.
STEPS: dict[str, frozenset[str]] = {
    "cms.editorial.entries.save_entry": frozenset(),
    "cms.editorial.entries.index_own_content": frozenset(
        # `rebuild_all` derives every entry's indexes again; it is itself a
        # step, called by the pipeline's `rebuild`.
        {"cms.editorial.documents"}
    ),
    "cms.editorial.entries.save_relations": frozenset(),
    "cms.editorial.documents.finish_writes": frozenset(),
    "cms.editorial.documents.rebuild_documents": frozenset(),
    "cms.editorial.documents.refresh_dependents": frozenset(),
    "cms.editorial.documents.rebuild_all": frozenset(),
    "cms.editorial.published.write_published": frozenset(),
    "cms.editorial.published.remove_published": frozenset(),
    "cms.editorial.published.drop_published": frozenset(),
    "cms.editorial.published.follow_status": frozenset(),
    "cms.editorial.lifecycle.publish_problems": frozenset(),
    "cms.editorial.lifecycle.entries_saved": frozenset(),
    "cms.syndication.changes.record": frozenset(),
    "cms.syndication.generation.bump": frozenset(),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _dotted(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; None for anything but names and attributes."""
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    names.append(node.id)
    return names[::-1]


def step_uses(module: str, source: str) -> list[tuple[int, str]]:
    """Where ``source`` (the text of ``module``) imports or names a save step it may not use.

    Returns:
        (line, qualified name of the step) for each.
    """
    tree = ast.parse(source)
    aliases: dict[str, str] = {}
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for name in node.names:
                if name.asname:
                    aliases[name.asname] = name.name
                else:
                    top = name.name.split(".")[0]
                    aliases[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for name in node.names:
                qualified = f"{node.module}.{name.name}"
                aliases[name.asname or name.name] = qualified
                if qualified in STEPS:
                    found.append((node.lineno, qualified))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute | ast.Name):
            continue
        names = _dotted(node)
        if names is None or names[0] not in aliases:
            continue
        qualified = ".".join([aliases[names[0]], *names[1:]])
        if qualified in STEPS and isinstance(node, ast.Attribute):
            found.append((node.lineno, qualified))
    return sorted(
        (line, step)
        for line, step in set(found)
        if module not in {PIPELINE, step.rsplit(".", 1)[0], *STEPS[step]}
    )


def _sources() -> list[Path]:
    return sorted(p for folder in ("cms", "plugins") for p in (REPO / folder).rglob("*.py"))


def test_the_save_steps_are_called_from_the_pipeline_only() -> None:
    outside = [
        f"{path.relative_to(REPO)}:{line}: {step}"
        for path in _sources()
        for line, step in step_uses(_module_name(path), path.read_text(encoding="utf-8"))
    ]
    assert outside == [], "save through cms.editorial.pipeline.save instead:\n" + "\n".join(outside)


def test_the_check_catches_a_hand_written_save() -> None:
    source = (
        "from cms.editorial import documents\n"
        "from cms.editorial.entries import save_entry as write\n"
        "import cms.editorial.lifecycle\n"
        "async def create(session, renderer, types, inp, outbox, manager):\n"
        "    entry, _ = await write(session, renderer, inp, outbox)\n"
        "    await documents.finish_writes(session, types, {entry.id: None}, outbox)\n"
        "    await cms.editorial.lifecycle.entries_saved(manager, session, [])\n"
    )
    assert step_uses("cms.reading.somewhere", source) == [
        (2, "cms.editorial.entries.save_entry"),
        (6, "cms.editorial.documents.finish_writes"),
        (7, "cms.editorial.lifecycle.entries_saved"),
    ]
    # The pipeline, and a step's own module, may.
    assert step_uses(PIPELINE, source) == []
    assert step_uses("cms.editorial.documents", "finish_writes(1)\n") == []


def test_every_guarded_step_is_one_the_pipeline_runs() -> None:
    source = (REPO / "cms" / "editorial" / "pipeline.py").read_text(encoding="utf-8")
    assert {step for _line, step in step_uses("cms.elsewhere", source)} == set(STEPS)


@pytest.mark.parametrize("step", sorted(STEPS))
def test_every_guarded_step_exists(step: str) -> None:
    # A renamed step would leave the check above guarding nothing.
    module, _, name = step.rpartition(".")
    assert callable(getattr(importlib.import_module(module), name, None)), step


def test_a_load_builds_an_entry_again_when_another_of_the_load_is_renamed(
    database_url: str, content_copy: Path
) -> None:
    # The article is built while its author's published face still has the old
    # title; publishing the author moves it, and the article (of the same load,
    # so not one of the author's other dependents) is built again.
    load_folder(database_url, content_copy)
    edit_entry(content_copy / "practitioners" / "daniel-okafor.md", title="Daniel Okafor-Smith")
    article = content_copy / "articles" / "opioids-and-back-pain.md"
    edit_entry(article, body=frontmatter.load(article).content + "\n\nOne more paragraph.")
    load_folder(database_url, content_copy)
    with TestClient(create_app(Settings(database_url=database_url, **QUIET))) as client:
        doc = client.get("/api/v1/articles/opioids-and-back-pain").json()
    assert doc["author"]["title"] == "Daniel Okafor-Smith"
    assert doc["json_ld"]["@graph"][0]["author"]["name"] == "Daniel Okafor-Smith"
