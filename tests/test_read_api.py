"""The public read API over HTTP: lists, details, pagination, filters, relations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from cms.app import create_app
from cms.settings import Settings
from tests.conftest import CONTENT, load_folder

TYPES = ("clinics", "practitioners", "conditions", "articles")


def _demo_slugs(plural: str) -> set[str]:
    return {p.stem for p in (CONTENT / plural).glob("*.md")}


def _all_pages(client: TestClient[Any], url: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        sep = "&" if "?" in url else "?"
        response = client.get(url + (f"{sep}cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"data", "next_cursor"}
        items.extend(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


@pytest.mark.parametrize("plural", TYPES)
def test_list_shows_every_published_entry(demo: TestClient[Any], plural: str) -> None:
    items = _all_pages(demo, f"/api/v1/{plural}?limit=100")
    assert {i["slug"] for i in items} == _demo_slugs(plural)
    assert all(i["status"] == "published" for i in items)
    # List items leave out the heavy rendered body; details have it.
    assert all("body_html" not in i and "body" not in i for i in items)


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_keyset_pages_cover_the_list_once_in_order(demo: TestClient[Any], limit: int) -> None:
    whole = demo.get("/api/v1/articles?limit=100").json()["data"]
    paged = _all_pages(demo, f"/api/v1/articles?limit={limit}")
    assert [i["slug"] for i in paged] == [i["slug"] for i in whole]
    dates = [i["published_at"] for i in whole]
    assert dates == sorted(dates, reverse=True)  # default: newest first


@pytest.mark.parametrize(
    ("sort", "key", "reverse"),
    [("title", "title", False), ("-title", "title", True),
     ("published_at", "published_at", False), ("-updated_at", "updated_at", True)],
)  # fmt: skip
def test_sort_orders(demo: TestClient[Any], sort: str, key: str, reverse: bool) -> None:
    paged = _all_pages(demo, f"/api/v1/articles?limit=4&sort={sort}")
    values = [i[key] for i in paged]
    assert values == sorted(values, reverse=reverse)
    assert len(paged) == len(_demo_slugs("articles"))


def test_default_sort_of_clinics_is_by_title(demo: TestClient[Any]) -> None:
    titles = [c["title"] for c in demo.get("/api/v1/clinics").json()["data"]]
    assert titles == sorted(titles)


def test_detail_is_the_flat_entry_with_relations_as_references(demo: TestClient[Any]) -> None:
    response = demo.get("/api/v1/articles/causes-of-low-back-pain-and-sciatica")
    assert response.status_code == 200
    article = response.json()
    assert article["type"] == "article"
    assert article["author"] == {"slug": "lena-marchetti", "title": "Lena Marchetti"}
    assert {"slug": "sciatica", "title": "Sciatica"} in article["conditions"]
    assert article["clinics"] == ["calgary", "edmonton"]
    # Derived at write time and stored: rendered HTML, anchors, toc, reading time, links.
    assert article["body_html"].startswith("<")
    assert article["toc"]
    assert all(t["anchor"] in article["body_html"] for t in article["toc"])
    assert article["reading_time_minutes"] >= 1
    assert "condition/sciatica" in article["links"]


def test_type_specific_fields_sit_beside_common_ones(demo: TestClient[Any]) -> None:
    clinic = demo.get("/api/v1/clinics/calgary").json()
    assert clinic["city"] == "Calgary"
    assert clinic["province"] == "AB"
    assert clinic["geo"]["latitude"] == pytest.approx(51.05, abs=0.2)
    child = demo.get("/api/v1/conditions/piriformis-syndrome").json()
    assert child["parent"] == {"slug": "sciatica", "title": "Sciatica"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("condition=piriformis-syndrome", {"causes-of-low-back-pain-and-sciatica"}),
        ("author=x", None),  # unknown parameter: see the bad-query test
    ],
)
def test_condition_filter(demo: TestClient[Any], query: str, expected: set[str] | None) -> None:
    if expected is None:
        assert demo.get(f"/api/v1/articles?{query}").status_code == 400
        return
    items = demo.get(f"/api/v1/articles?{query}&limit=100").json()["data"]
    assert {i["slug"] for i in items} == expected


def _expected(plural: str, predicate: Any) -> set[str]:
    import frontmatter

    out = set()
    for path in (CONTENT / plural).glob("*.md"):
        if predicate(frontmatter.load(path).metadata):
            out.add(path.stem)
    return out


@pytest.mark.parametrize(
    ("query", "predicate"),
    [
        ("clinic=edmonton", lambda m: "edmonton" in m.get("clinics", [])),
        ("clinic=calgary", lambda m: "calgary" in m.get("clinics", [])),
        ("condition=sciatica", lambda m: "sciatica" in m.get("conditions", [])),
        ("condition=sciatica,back-strain",
         lambda m: {"sciatica", "back-strain"} & set(m.get("conditions", []))),
        # Any relation counts: written by or medically reviewed by.
        ("practitioner=lena-marchetti",
         lambda m: "lena-marchetti" in (m.get("author"), m.get("reviewed_by"))),
        ("tag=research", lambda m: "research" in m.get("tags", [])),
        ("clinic=calgary&condition=low-back-pain",
         lambda m: "calgary" in m["clinics"] and "low-back-pain" in m.get("conditions", [])),
        ("clinic=nowhere", lambda m: False),
    ],
)  # fmt: skip
def test_article_filters_match_the_content(
    demo: TestClient[Any], query: str, predicate: Any
) -> None:
    items = _all_pages(demo, f"/api/v1/articles?limit=3&{query}")
    assert {i["slug"] for i in items} == _expected("articles", predicate)


def test_filters_follow_relations_both_ways(demo: TestClient[Any]) -> None:
    # Practitioners who treat sciatica (practitioner -> condition).
    items = demo.get("/api/v1/practitioners?condition=sciatica").json()["data"]
    assert {i["slug"] for i in items} == _expected(
        "practitioners", lambda m: "sciatica" in m.get("specialties", [])
    )
    # Clinics a practitioner works at (practitioner -> clinic, read backwards).
    items = demo.get("/api/v1/clinics?practitioner=lena-marchetti").json()["data"]
    assert {i["slug"] for i in items} == {"calgary", "edmonton"}


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=1000", "limit"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=%FF%FE", "cursor"),
        ("cursor=WyJ0aXRsZSIsMSwiYSJd", "cursor"),  # a cursor made for another sort
        ("sort=colour", "sort"),
        ("sort=", "sort"),
        ("clinic=Not%20A%20Slug", "clinic"),
        ("tag=", "tag"),
        ("colour=blue", "colour"),
    ],
)
def test_bad_query_parameters_are_400_problems_naming_them(
    demo: TestClient[Any], query: str, parameter: str
) -> None:
    response = demo.get(f"/api/v1/articles?{query}")
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 400
    assert problem["title"]
    assert [e["name"] for e in problem["errors"]] == [parameter]
    assert "Traceback" not in response.text


def test_unknown_slug_is_a_404_problem(demo: TestClient[Any]) -> None:
    response = demo.get("/api/v1/conditions/no-such-condition")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "no-such-condition" in response.json()["detail"]


def test_unknown_type_is_a_404_problem(demo: TestClient[Any]) -> None:
    response = demo.get("/api/v1/recipes")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "url", ["/api/v1/articles", "/api/v1/articles/opioids-and-back-pain", "/api/v1/clinics"]
)
def test_strong_etag_and_conditional_get(demo: TestClient[Any], url: str) -> None:
    first = demo.get(url)
    etag = first.headers["etag"]
    assert etag.startswith('"')
    assert not etag.startswith("W/")
    assert first.headers["cache-control"].startswith("public")
    again = demo.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert demo.get(url, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert demo.get(url, headers={"If-None-Match": '"other"'}).status_code == 200


def test_surrogate_keys_name_the_entries_in_the_body(demo: TestClient[Any]) -> None:
    response = demo.get("/api/v1/articles?limit=3")
    keys = response.headers["surrogate-key"].split()
    assert keys[0] == "list:article"
    items = [f"entry:{i['id']}" for i in response.json()["data"]]
    # The items first; then the entries they name (see test_caching.py).
    assert keys[1 : 1 + len(items)] == items


@pytest.fixture(name="with_drafts")
def fixture_with_drafts(database_url: str, content_copy: Path) -> Any:
    draft = content_copy / "articles" / "a-draft-on-neck-pain.md"
    draft.write_text(
        "---\ntitle: A draft on neck pain\nstatus: draft\nclinics:\n- calgary\n"
        "author: lena-marchetti\n---\n\nNot ready.\n",
        encoding="utf-8",
    )
    # A published article whose author is still a draft: the reference is hidden.
    hidden = content_copy / "practitioners" / "new-hire.md"
    hidden.write_text("---\ntitle: New Hire\nstatus: draft\n---\n\nSoon.\n", encoding="utf-8")
    article = content_copy / "articles" / "opioids-and-back-pain.md"
    text = article.read_text(encoding="utf-8")
    article.write_text(
        "\n".join(
            "author: new-hire" if line.startswith("author:") else line for line in text.split("\n")
        ),
        encoding="utf-8",
    )
    load_folder(database_url, content_copy)
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        yield client


def test_anonymous_callers_never_see_drafts(with_drafts: TestClient[Any]) -> None:
    slugs = {i["slug"] for i in with_drafts.get("/api/v1/articles?limit=100").json()["data"]}
    assert "a-draft-on-neck-pain" not in slugs
    assert with_drafts.get("/api/v1/articles/a-draft-on-neck-pain").status_code == 404
    assert with_drafts.get("/api/v1/practitioners/new-hire").status_code == 404
    article = with_drafts.get("/api/v1/articles/opioids-and-back-pain").json()
    assert article["author"] is None
    assert with_drafts.get("/api/v1/articles?practitioner=new-hire").json()["data"] == []


def test_a_write_elsewhere_is_seen_on_the_next_read(database_url: str, content_copy: Path) -> None:
    load_folder(database_url, content_copy)
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        before = client.get("/api/v1/clinics/calgary")
        listed = client.get("/api/v1/clinics")
        assert client.get("/api/v1/clinics/calgary").headers["etag"] == before.headers["etag"]
        # Another process (its own engine) changes the clinic...
        path = content_copy / "clinics" / "calgary.md"
        path.write_text(path.read_text().replace("title: ", "title: Renamed ", 1))
        load_folder(database_url, content_copy)
        # ...and this app's next reads show it, with new ETags.
        after = client.get(
            "/api/v1/clinics/calgary", headers={"If-None-Match": before.headers["etag"]}
        )
        assert after.status_code == 200
        assert after.json()["title"].startswith("Renamed ")
        relisted = client.get("/api/v1/clinics")
        assert relisted.headers["etag"] != listed.headers["etag"]
        assert any(c["title"].startswith("Renamed ") for c in relisted.json()["data"])
        # References to a renamed entry show its new title at once.
        url = "/api/v1/articles/causes-of-low-back-pain-and-sciatica"
        assert client.get(url).json()["author"]["title"] == "Lena Marchetti"
        lena = content_copy / "practitioners" / "lena-marchetti.md"
        lena.write_text(lena.read_text().replace("title: Lena Marchetti", "title: Dr Lena M."))
        load_folder(database_url, content_copy)
        assert client.get(url).json()["author"] == {"slug": "lena-marchetti", "title": "Dr Lena M."}
