"""Sparse fields and embedded related entries over HTTP, and what they cost in queries."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from cms.app import create_app
from cms.settings import Settings
from cms.syndication.purges import SqlitePurgeReader
from tests.conftest import (
    CONTENT,
    QUIET,
    Databases,
    counting,
    edit_entry,
    load_folder,
    write_entry,
)

ARTICLE = "/api/v1/articles/causes-of-low-back-pain-and-sciatica"
ALL_INCLUDES = "author,reviewed_by,conditions,clinics"


def test_fields_sends_only_those_fields(demo: TestClient[Any]) -> None:
    items = demo.get("/api/v1/articles?fields=title,slug,summary").json()["data"]
    assert items
    assert all(set(item) == {"title", "slug", "summary"} for item in items)
    detail = demo.get(f"{ARTICLE}?fields=title,body_html,json_ld").json()
    assert set(detail) == {"title", "body_html", "json_ld"}


def test_include_embeds_related_entries_as_list_items(demo: TestClient[Any]) -> None:
    plain = demo.get(ARTICLE).json()
    article = demo.get(f"{ARTICLE}?include=author,conditions").json()
    author = article["author"]
    practitioner = demo.get(f"/api/v1/practitioners/{plain['author']['slug']}").json()
    # The author as its list item: everything but the heavy detail-only fields.
    assert author == {k: v for k, v in practitioner.items()
                      if k not in {"body", "body_html", "toc", "json_ld"}}  # fmt: skip
    # One level deep: the embedded entry's own relations stay references.
    assert {"slug": "sciatica", "title": "Sciatica"} in author["specialties"]
    assert [c["slug"] for c in article["conditions"]] == [c["slug"] for c in plain["conditions"]]
    assert all(c["type"] == "condition" and "canonical_url" in c for c in article["conditions"])
    # What was not included stays a reference.
    assert article["reviewed_by"] == plain["reviewed_by"]


def test_embedded_entries_have_their_own_sparse_fields(demo: TestClient[Any]) -> None:
    url = (
        "/api/v1/articles?include=author,reviewed_by,conditions&fields=slug,author,"
        "reviewed_by,conditions&fields[practitioner]=slug,title,credentials"
        "&fields[condition]=slug,canonical_url"
    )
    items = demo.get(url).json()["data"]
    assert items
    for item in items:
        assert set(item) == {"slug", "author", "reviewed_by", "conditions"}
        for person in (item["author"], item["reviewed_by"]):
            assert person is None or set(person) == {"slug", "title", "credentials"}
        assert all(set(c) == {"slug", "canonical_url"} for c in item["conditions"])


def test_include_clinics_embeds_the_clinic_sites(demo: TestClient[Any]) -> None:
    article = demo.get(f"{ARTICLE}?include=clinics&fields[clinic]=slug,city").json()
    assert article["clinics"] == [
        {"slug": "calgary", "city": "Calgary"},
        {"slug": "edmonton", "city": "Edmonton"},
    ]


def test_only_published_entries_are_embedded(database_url: str, content_copy: Path) -> None:
    write_entry(content_copy, "practitioners", "new-hire", "Soon.", title="New Hire",
                status="draft")  # fmt: skip
    edit_entry(content_copy / "articles" / "opioids-and-back-pain.md", author="new-hire")
    load_folder(database_url, content_copy)
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        article = client.get("/api/v1/articles/opioids-and-back-pain?include=author").json()
        assert article["author"] is None
        listed = client.get("/api/v1/articles?include=author&fields=slug,author").json()["data"]
        assert {"slug": "opioids-and-back-pain", "author": None} in listed


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("fields=colour", "fields"),
        ("fields=", "fields"),
        ("fields=body_html", "fields"),  # list items leave the rendered body out
        ("include=colour", "include"),
        ("include=author.clinics", "include"),  # one level deep
        ("fields=title,,slug", "fields"),  # an empty name
        ("fields=title, slug", "fields"),  # a space: the document's pattern has none
        ("fields[practitioner]=body", "fields[practitioner]"),
        ("fields[recipe]=title", "fields[recipe]"),  # no such related type
    ],
)
def test_bad_shapes_are_400_problems_naming_the_parameter(
    demo: TestClient[Any], query: str, parameter: str
) -> None:
    response = demo.get(f"/api/v1/articles?{query}")
    assert response.status_code == 400, response.text
    assert [e["name"] for e in response.json()["errors"]] == [parameter]


def test_an_included_relation_is_sent_even_when_fields_leaves_it_out(
    demo: TestClient[Any],
) -> None:
    # The document can say which names `fields` and `include` take, not that one
    # must list what the other names: asking to embed a relation asks for it.
    response = demo.get("/api/v1/articles?fields=title&include=author&limit=1")
    assert response.status_code == 200, response.text
    (item,) = response.json()["data"]
    assert set(item) == {"title", "author"}
    assert item["author"] is None or "credentials" in item["author"]


# --- queries per request --------------------------------------------------------


@pytest.fixture(scope="module")
def hundred_url(databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database with the demo plus 100 articles, each with every kind of relation."""
    content_copy = tmp_path_factory.mktemp("hundred") / "content"
    shutil.copytree(CONTENT, content_copy)
    authors = ["lena-marchetti", "maren-holt", "daniel-okafor"]
    conditions = ["sciatica", "low-back-pain", "back-strain", "upper-back-pain"]
    for n in range(100):
        write_entry(
            content_copy, "articles", f"note-{n:03d}", f"Note {n}.", title=f"Note {n}",
            status="published", clinics=["calgary", "edmonton"][: 1 + n % 2],
            published_at=f"2024-01-01T00:{n // 60:02d}:{n % 60:02d}Z",
            author=authors[n % 3], reviewed_by=authors[(n + 1) % 3],
            conditions=[conditions[n % 4], conditions[(n + 1) % 4]],
        )  # fmt: skip
    url = databases.fresh()
    load_folder(url, content_copy)
    return url


@pytest.fixture(name="hundred")
def fixture_hundred(hundred_url: str) -> Iterator[TestClient[Any]]:
    """A client of that database; tests must not write through it."""
    # No scheduler nor webhook delivery: their polls would be counted with the reads.
    app = create_app(Settings(database_url=hundred_url, **QUIET))
    with TestClient(app) as client:
        yield client


def _generation(client: TestClient[Any]) -> int:
    """Statements a read spends on the content generation: SQLite's is read outside the engine."""
    reader = client.app.state.services.cache.reader
    return 0 if isinstance(reader, SqlitePurgeReader) else 1


def _miss_then_hit(client: TestClient[Any], url: str) -> tuple[Any, int, int]:
    """The response and the statements of a first read (built) and a second (cached)."""
    with counting(client.app) as first:
        response = client.get(url)
    with counting(client.app) as again:
        assert client.get(url).status_code == response.status_code
    return response, len(first), len(again)


def test_includes_cost_the_same_queries_whatever_the_page_size(
    hundred: TestClient[Any],
) -> None:
    generation = _generation(hundred)
    counts = {}
    for limit in (1, 10, 100):
        response, built, cached = _miss_then_hit(
            hundred, f"/api/v1/articles?limit={limit}&include={ALL_INCLUDES}"
        )
        assert response.status_code == 200
        data = response.json()["data"]
        assert len(data) == limit
        assert all(isinstance(a["author"], dict) and a["clinics"] for a in data)
        counts[limit] = built
        assert cached == generation  # served from the response cache
    # The page, its relations, plugins' response fields, the embedded entries,
    # their relations (and the generation, where it is read through the engine).
    assert counts == {1: generation + 5, 10: generation + 5, 100: generation + 5}
    plain, built, cached = _miss_then_hit(hundred, "/api/v1/articles?limit=100")
    assert plain.status_code == 200
    assert (built, cached) == (generation + 3, generation)
    filtered, built, cached = _miss_then_hit(
        hundred, f"/api/v1/articles?limit=100&condition=sciatica&include={ALL_INCLUDES}"
    )
    assert filtered.status_code == 200
    # One more to resolve the filter's slug.
    assert (built, cached) == (generation + 6, generation)


def test_a_detail_with_includes_costs_a_fixed_number_of_queries(hundred: TestClient[Any]) -> None:
    generation = _generation(hundred)
    response, built, cached = _miss_then_hit(
        hundred, f"/api/v1/articles/note-042?include={ALL_INCLUDES}"
    )
    assert response.status_code == 200
    assert response.json()["author"]["slug"] == "lena-marchetti"
    # The document, its relations, plugins' response fields, the embedded
    # entries and their relations; then nothing but the generation.
    assert (built, cached) == (generation + 5, generation)
