"""`GET /api/v1/search` over HTTP: ranking, snippets, syntax, filters, and an index kept in step."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from cms.app import create_app
from cms.contenttypes import ContentType
from cms.hookspecs import hookimpl
from cms.schemas import Base
from cms.settings import Settings
from tests.conftest import (
    Editing,
    create_article,
    edit_entry,
    load_folder,
    run_cms,
    step,
    write_entry,
)


def search(client: TestClient[Any], **params: Any) -> list[dict[str, Any]]:
    """The hits of one search (first page)."""
    response = client.get("/api/v1/search", params=params)
    assert response.status_code == 200, response.text
    hits: list[dict[str, Any]] = response.json()["data"]
    return hits


def found(client: TestClient[Any], q: str, **params: Any) -> list[str]:
    """``type/slug`` of every hit, best first."""
    return [f"{h['type']}/{h['slug']}" for h in search(client, q=q, limit=100, **params)]


def test_sciatic_nerve_finds_the_sciatica_condition_first(demo: TestClient[Any]) -> None:
    assert found(demo, "sciatic nerve")[0] == "condition/sciatica"


def test_hits_carry_what_a_results_page_shows(demo: TestClient[Any]) -> None:
    hit = search(demo, q="sciatic nerve", limit=1)[0]
    sciatica = demo.get("/api/v1/conditions/sciatica").json()
    assert {k: hit[k] for k in ("id", "title", "summary", "canonical_url", "published_at")} == {
        k: sciatica[k] for k in ("id", "title", "summary", "canonical_url", "published_at")
    }
    assert "<mark>" in hit["snippet"]
    marked = [part.split("</mark>")[0].lower() for part in hit["snippet"].split("<mark>")[1:]]
    assert marked
    assert all(word.startswith(("sciatic", "nerve")) for word in marked)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # Words match as prefixes, after stemming.
        ("acupunct", "article/how-acupuncture-may-ease-back-pain"),
        ("sciatic", "condition/sciatica"),
        ("opioid", "article/opioids-and-back-pain"),
        # Type-specific fields are searchable: a condition's symptoms, an FAQ.
        ("buttock numbness", "condition/sciatica"),
        ("both legs", "condition/sciatica"),
        # A practitioner's modalities and credentials.
        ("moxibustion", "practitioner/daniel-okafor"),
    ],
)
def test_words_match_the_start_of_words(demo: TestClient[Any], q: str, expected: str) -> None:
    assert expected in found(demo, q)


def test_quoted_phrases_match_words_in_that_order(demo: TestClient[Any]) -> None:
    in_order = found(demo, '"sciatic nerve"')
    assert "condition/sciatica" in in_order
    assert found(demo, '"nerve sciatic"') == []
    # A phrase narrows: every hit of the phrase is a hit of the words.
    assert set(in_order) <= set(found(demo, "sciatic nerve"))


@pytest.mark.parametrize(
    "q",
    ["!!!", '"', '""', "*", "()", "-", "—", "   ", "'", "%", "\\", ":", "^", "&|!<->"],
)
def test_a_query_of_only_punctuation_finds_nothing(demo: TestClient[Any], q: str) -> None:
    response = demo.get("/api/v1/search", params={"q": q})
    assert response.status_code == 200
    assert response.json() == {"data": [], "next_cursor": None}


@pytest.mark.parametrize(
    "q",
    ['NEAR(back pain)', "title:sciatica", '"unclosed phrase', "back OR pain", "sciatica AND",
     "-pain", "pain*", "col:x ^y", "'back' & 'pain'", "pain:*", "a''b"],
)  # fmt: skip
def test_engine_syntax_is_plain_text_never_an_error(demo: TestClient[Any], q: str) -> None:
    assert demo.get("/api/v1/search", params={"q": q}).status_code == 200


def test_a_nul_character_is_a_400_naming_q(demo: TestClient[Any]) -> None:
    # No text holds U+0000 (the document says so): PostgreSQL's text cannot.
    response = demo.get("/api/v1/search", params={"q": "x\x00y"})
    assert response.status_code == 400
    assert [e["name"] for e in response.json()["errors"]] == ["q"]


def test_filters_by_type_and_clinic(demo: TestClient[Any]) -> None:
    everything = found(demo, "back")
    assert {h.split("/")[0] for h in everything} >= {"article", "condition", "clinic"}
    articles = found(demo, "back", type="article")
    assert articles == [h for h in everything if h.startswith("article/")]
    two = found(demo, "back", type="article,condition")
    assert two == [h for h in everything if h.split("/")[0] in {"article", "condition"}]
    on_edmonton = found(demo, "back", clinic="edmonton")
    plural = {"article": "articles", "condition": "conditions", "clinic": "clinics",
              "practitioner": "practitioners", "case-story": "case-stories",
              "series": "series"}  # fmt: skip
    shown = {
        hit: "edmonton"
        in demo.get(f"/api/v1/{plural[hit.split('/')[0]]}/{hit.split('/')[1]}").json()["clinics"]
        for hit in everything
    }
    assert on_edmonton == [hit for hit in everything if shown[hit]]
    assert not all(shown.values()), "some hits are Calgary's alone"


def test_pages_cover_every_hit_once_in_rank_order(demo: TestClient[Any]) -> None:
    whole = found(demo, "pain")
    assert len(whole) > 5
    paged: list[str] = []
    cursor = None
    while True:
        params = {"q": "pain", "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = demo.get("/api/v1/search", params=params).json()
        paged += [f"{h['type']}/{h['slug']}" for h in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert paged == whole


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "pain", "type": "recipe"}, "type"),
        ({"q": "pain", "type": ""}, "type"),
        ({"q": "pain", "clinic": "Not A Slug"}, "clinic"),
        ({"q": "pain", "limit": "0"}, "limit"),
        ({"q": "pain", "cursor": "nonsense"}, "cursor"),
        ({"q": "pain", "sort": "title"}, "sort"),
    ],
)
def test_bad_parameters_are_400_problems_naming_them(
    demo: TestClient[Any], params: dict[str, str], name: str
) -> None:
    response = demo.get("/api/v1/search", params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["name"] for e in response.json()["errors"]] == [name]


def test_a_cursor_only_continues_its_own_search(demo: TestClient[Any]) -> None:
    cursor = demo.get("/api/v1/search", params={"q": "pain", "limit": 1}).json()["next_cursor"]
    assert cursor
    other = demo.get("/api/v1/search", params={"q": "back", "limit": 1, "cursor": cursor})
    assert other.status_code == 400
    assert other.json()["errors"][0]["name"] == "cursor"


def test_snippets_are_escaped_html(database_url: str, tmp_path: Path) -> None:
    root = tmp_path / "content"
    write_entry(root, "clinics", "red-deer", "If 5 < 6 & <b>zanzibar</b> > 7, write `<i>`.",
                title="Red Deer", status="published")  # fmt: skip
    load_folder(database_url, root)
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        snippet = search(client, q="zanzibar")[0]["snippet"]
    # Text that looks like markup arrives escaped (PostgreSQL's headline drops
    # tag-like words instead); only <mark> is markup.
    assert snippet.replace("<mark>", "").replace("</mark>", "").count("<") == 0
    assert "&gt; 7" in snippet
    assert "<mark>zanzibar</mark>" in snippet


def test_the_index_follows_every_write(database_url: str, content_copy: Path) -> None:
    article = content_copy / "articles" / "opioids-and-back-pain.md"
    assert run_cms(database_url, "content", "load", str(content_copy)).exit_code == 0
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        assert found(client, "zanzibar") == []
        edit_entry(article, body="Opioids and the island of Zanzibar.")
        assert run_cms(database_url, "content", "load", str(content_copy)).exit_code == 0
        assert found(client, "zanzibar") == ["article/opioids-and-back-pain"]
        # A load that fails writes nothing, the index included.
        edit_entry(article, body="Now about Madagascar.")
        (content_copy / "articles" / "broken.md").write_text("---\ntitle: ''\n---\n")
        assert run_cms(database_url, "content", "load", str(content_copy)).exit_code == 1
        assert found(client, "madagascar") == []
        assert found(client, "zanzibar") == ["article/opioids-and-back-pain"]
        (content_copy / "articles" / "broken.md").unlink()
        # Unpublished entries are not found by anonymous callers.
        edit_entry(article, status="draft")
        assert run_cms(database_url, "content", "load", "--force", str(content_copy)).exit_code == 0
        assert found(client, "madagascar") == []
        assert "article/opioids-and-back-pain" not in found(client, "opioid")


# Hard-wrapped Markdown, as editors write it: every line break, list item,
# table cell and heading ends a word.
WRAPPED = """\
## Kettlebell
swings

Morning kettlebell
swings keep the back strong,\x20\x20
farmer carries
help too.

- zumba
- aquafit

| Exercise | Minutes |
|----------|---------|
| rowing | thirty |

> tai
> chi
"""


def test_line_breaks_lists_cells_and_headings_separate_words(
    editing: Editing, client: TestClient[Any]
) -> None:
    draft, etag = create_article(client, editing, "Strength at home", body=WRAPPED)
    slug = f"article/{draft['slug']}"
    step(client, editing, draft["slug"], "publish", etag)
    # A word after a soft break, after a hard break, in a list item, a table
    # cell, a heading, a quote's second line: each is a word of its own.
    for word in ("swings", "keep", "farmer", "carries", "help", "zumba", "aquafit",
                 "minutes", "rowing", "thirty", "chi", "kettlebell"):  # fmt: skip
        assert slug in found(client, word), word
    # A phrase runs on across a soft break, as the reader reads it.
    assert slug in found(client, '"kettlebell swings keep"')
    assert slug in found(client, '"strong farmer carries help"')
    # No word is glued to the next line's first word.
    for glued in ("kettlebellswings", "swingskeep", "strongfarmer", "zumbaaquafit",
                  "minutesrowing", "taichi"):  # fmt: skip
        assert found(client, glued) == [], glued
    # The list filter reads the same index.
    listed = client.get("/api/v1/articles", params={"q": "aquafit"}).json()["data"]
    assert [a["slug"] for a in listed] == [draft["slug"]]
    # Snippets show the line break as a space.
    hit = search(client, q="farmer")[0]
    assert "strong, <mark>farmer</mark> carries" in hit["snippet"]


def test_rebuild_separates_the_words_of_older_search_text(
    database_url: str, tmp_path: Path
) -> None:
    root = tmp_path / "content"
    write_entry(root, "clinics", "red-deer", "Open for walking\nkeeps clinics.",
                title="Red Deer", status="published")  # fmt: skip
    load_folder(database_url, root)

    # What an older release stored: the body's words run together at the break.
    async def store_old_text() -> None:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    text("UPDATE search_documents SET body = 'Open for walkingkeeps clinics.'")
                )
        finally:
            await engine.dispose()

    asyncio.run(store_old_text())
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        assert found(client, "keeps") == []
        assert run_cms(database_url, "content", "rebuild").exit_code == 0
        assert found(client, "keeps") == ["clinic/red-deer"]


class NoteFields(Base):
    """A throwaway plugin type's own fields."""

    mood: str = ""


class NotesPlugin:
    """Registers a content type whose entries must be searchable like any other."""

    name = "notes"

    @hookimpl
    def register_content_types(self) -> Sequence[ContentType]:
        return [ContentType(name="note", plural="notes", fields=NoteFields, label="Note",
                            description="A note.", search_fields=("mood",))]  # fmt: skip


def test_plugin_types_are_searched_too(database_url: str, tmp_path: Path) -> None:
    root = tmp_path / "content"
    write_entry(root, "notes", "tuesday", "Nothing much.", title="Tuesday", mood="serendipitous",
                status="published")  # fmt: skip
    load_folder(database_url, root, plugins=[NotesPlugin()])
    settings = Settings(database_url=database_url)
    with TestClient(create_app(settings, plugins=[NotesPlugin()])) as client:
        assert found(client, "serendip") == ["note/tuesday"]
        assert found(client, "serendip", type="note") == ["note/tuesday"]
