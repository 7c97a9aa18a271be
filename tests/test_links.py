"""Canonical URLs and internal links: rendered on write, kept true when their targets change.

Every check goes through the product's write path (`cms content load`) and
reads through the API.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import frontmatter
import pytest
from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.testing import TestClient
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.app import create_app
from cms.hookspecs import hookimpl
from cms.http.problems import broken_links_problem, linked_from_published
from cms.reading.links import broken_links, dependents_blocking
from cms.settings import Settings
from cms.storage.tables import Entry
from tests.conftest import CONTENT, edit_entry, run_cms, write_entry

# The core types and the first-party plugins' (installed and enabled in the demo).
TYPES = {"clinics": "clinic", "practitioners": "practitioner", "conditions": "condition",
         "articles": "article", "case-stories": "case-story", "series": "series"}  # fmt: skip
ARTICLE = "causes-of-low-back-pain-and-sciatica"


def _meta(plural: str, slug: str) -> dict[str, Any]:
    return dict(frontmatter.load(CONTENT / plural / f"{slug}.md").metadata)


def expected_canonical(plural: str, slug: str) -> str:
    """The canonical URL of a demo entry, worked out from the content files."""
    meta = _meta(plural, slug)
    clinic = _meta("clinics", meta.get("origin_clinic") or meta["clinics"][0])
    return clinic["site_url"] + clinic["url_patterns"][TYPES[plural]].replace("{slug}", slug)


def hrefs(html: str) -> list[str]:
    """Every link target in ``html``, in order."""
    return re.findall(r'<a href="([^"]*)"', html)


@pytest.fixture(name="client_for")
def fixture_client_for(database_url: str) -> Iterator[Any]:
    """Opens clients of the app on the test's database, closing them at the end."""
    clients: list[TestClient[Any]] = []

    def open_client() -> TestClient[Any]:
        client = TestClient(create_app(Settings(database_url=database_url)))
        client.__enter__()
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        client.__exit__(None, None, None)


# --- canonical URLs -----------------------------------------------------------


@pytest.mark.parametrize("plural", TYPES)
def test_every_entry_has_the_canonical_url_of_its_origin_clinic(
    demo: TestClient[Any], plural: str
) -> None:
    items = demo.get(f"/api/v1/{plural}?limit=100").json()["data"]
    assert items
    for item in items:
        expected = expected_canonical(plural, item["slug"])
        assert item["canonical_url"] == expected
        assert demo.get(f"/api/v1/{plural}/{item['slug']}").json()["canonical_url"] == expected


def test_a_list_filtered_by_clinic_shows_the_same_canonical_url(demo: TestClient[Any]) -> None:
    on_edmonton = demo.get("/api/v1/articles?clinic=edmonton&limit=100").json()["data"]
    shared = [a for a in on_edmonton if a["origin_clinic"] == "calgary"]
    assert shared, "the demo shares Calgary articles with Edmonton"
    on_calgary = {
        a["slug"]: a["canonical_url"]
        for a in demo.get("/api/v1/articles?clinic=calgary&limit=100").json()["data"]
    }
    for article in shared:
        assert article["canonical_url"].startswith("https://calgary.example.com/blog/")
        assert on_calgary[article["slug"]] == article["canonical_url"]


# --- links rendered on write --------------------------------------------------


def test_internal_links_point_at_their_targets_canonical_urls(demo: TestClient[Any]) -> None:
    article = demo.get(f"/api/v1/articles/{ARTICLE}").json()
    assert article["links"] == [
        "condition/low-back-pain", "condition/sciatica", "condition/back-strain",
        "condition/piriformis-syndrome", "article/our-approach-to-treating-back-pain",
        "clinic/calgary",
    ]  # fmt: skip
    expected = [
        expected_canonical(f"{link.split('/')[0]}s", link.split("/")[1])
        for link in article["links"]
    ]
    # Each target once, in order of first appearance; the text is kept.
    assert list(dict.fromkeys(hrefs(article["body_html"]))) == expected
    sciatica = demo.get("/api/v1/conditions/sciatica").json()["canonical_url"]
    assert f'<a href="{sciatica}">sciatica</a>' in article["body_html"]


@pytest.mark.parametrize("plural", TYPES)
def test_no_published_body_keeps_an_internal_href(demo: TestClient[Any], plural: str) -> None:
    for item in demo.get(f"/api/v1/{plural}?limit=100").json()["data"]:
        body = demo.get(f"/api/v1/{plural}/{item['slug']}").json()["body_html"]
        assert "cms:" not in body


def test_a_new_url_pattern_moves_canonical_urls_and_the_links_to_them(
    database_url: str, content_copy: Path, client_for: Any
) -> None:
    assert run_cms(database_url, "content", "load", str(content_copy)).exit_code == 0
    calgary = content_copy / "clinics" / "calgary.md"
    patterns = dict(frontmatter.load(calgary).metadata["url_patterns"])
    edit_entry(calgary, url_patterns={**patterns, "condition": "/health/{slug}"})
    result = run_cms(database_url, "content", "load", str(content_copy))
    assert "0 created, 1 updated" in result.output, result.output
    client = client_for()
    sciatica = client.get("/api/v1/conditions/sciatica").json()
    assert sciatica["canonical_url"] == "https://calgary.example.com/health/sciatica"
    # The article did not change, but what it shows of sciatica did.
    article = client.get(f"/api/v1/articles/{ARTICLE}").json()
    assert article["version"] == 1
    assert "https://calgary.example.com/health/sciatica" in hrefs(article["body_html"])
    about = {c["name"]: c["url"] for c in article["json_ld"]["@graph"][0]["about"]}
    assert about["Sciatica"] == "https://calgary.example.com/health/sciatica"
    # An entry whose origin is Edmonton keeps its URL.
    low_back = client.get("/api/v1/conditions/low-back-pain").json()["canonical_url"]
    assert low_back == "https://edmonton.example.com/conditions/low-back-pain"


def test_documents_show_the_current_name_of_what_they_reference(
    database_url: str, content_copy: Path, client_for: Any
) -> None:
    assert run_cms(database_url, "content", "load", str(content_copy)).exit_code == 0
    edit_entry(content_copy / "practitioners" / "lena-marchetti.md", title="Lena M. Marchetti")
    assert run_cms(database_url, "content", "load", str(content_copy)).exit_code == 0
    article = client_for().get(f"/api/v1/articles/{ARTICLE}").json()
    assert article["author"]["title"] == "Lena M. Marchetti"
    assert article["json_ld"]["@graph"][0]["author"]["name"] == "Lena M. Marchetti"


# --- what a load may not break ------------------------------------------------


def test_unpublishing_an_entry_that_published_entries_link_to_is_refused(
    database_url: str, content_copy: Path, client_for: Any
) -> None:
    assert run_cms(database_url, "content", "load", str(content_copy)).exit_code == 0
    edit_entry(content_copy / "conditions" / "piriformis-syndrome.md", status="archived")
    refused = run_cms(database_url, "content", "load", str(content_copy))
    assert refused.exit_code == 1
    assert "nothing was written" in refused.output
    assert "--force" in refused.output
    linking = {
        line.split("published ")[-1].split(" links")[0]
        for line in refused.output.splitlines()
        if "condition/piriformis-syndrome: would no longer be published" in line
    }
    assert linking == {"article/causes-of-low-back-pain-and-sciatica", "clinic/calgary",
                       "condition/sciatica",
                       "case-story/a-marathon-runner-with-back-pain"}  # fmt: skip
    client = client_for()
    assert client.get("/api/v1/conditions/piriformis-syndrome").status_code == 200

    forced = run_cms(database_url, "content", "load", "--force", str(content_copy))
    assert forced.exit_code == 0, forced.output
    assert "4 broken internal link(s), loaded anyway" in forced.output
    assert "condition/sciatica -> condition/piriformis-syndrome (not published)" in forced.output
    assert client.get("/api/v1/conditions/piriformis-syndrome").status_code == 404
    # The link is gone from the page, its text stays.
    sciatica = client.get("/api/v1/conditions/sciatica").json()["body_html"]
    assert "piriformis-syndrome" not in sciatica
    assert "In one form, piriformis syndrome, a muscle" in sciatica


def test_publishing_an_entry_with_a_link_to_a_missing_entry_is_refused(
    database_url: str, content_copy: Path, client_for: Any
) -> None:
    path = write_entry(
        content_copy, "articles", "gout-and-the-back", "See [gout](cms:condition/gout).",
        title="Gout and the back", status="published", clinics=["calgary"],
    )  # fmt: skip
    refused = run_cms(database_url, "content", "load", str(content_copy))
    assert refused.exit_code == 1
    assert f"{path}: body: links to condition/gout, which does not exist" in refused.output
    assert client_for().get("/api/v1/articles").json()["data"] == []
    # A draft may link to what does not exist yet.
    edit_entry(path, status="draft")
    assert run_cms(database_url, "content", "load", str(content_copy)).exit_code == 0


def test_a_link_comes_alive_when_its_target_is_created(
    database_url: str, content_copy: Path, client_for: Any
) -> None:
    write_entry(
        content_copy, "articles", "gout-and-the-back", "See [gout](cms:condition/gout).",
        title="Gout and the back", status="published", clinics=["calgary"],
    )  # fmt: skip
    forced = run_cms(database_url, "content", "load", "--force", str(content_copy))
    assert forced.exit_code == 0, forced.output
    assert "article/gout-and-the-back -> condition/gout (missing)" in forced.output
    client = client_for()
    assert client.get("/api/v1/articles/gout-and-the-back").json()["body_html"] == (
        "<p>See gout.</p>\n"
    )
    write_entry(content_copy, "conditions", "gout", "Joints.", title="Gout",
                status="published", clinics=["calgary"])  # fmt: skip
    assert run_cms(database_url, "content", "load", str(content_copy)).exit_code == 0
    body = client.get("/api/v1/articles/gout-and-the-back").json()["body_html"]
    assert body == '<p>See <a href="https://calgary.example.com/conditions/gout">gout</a>.</p>\n'


def test_rebuild_derives_everything_again_without_new_versions(
    database_url: str, client_for: Any
) -> None:
    assert run_cms(database_url, "content", "load", str(CONTENT)).exit_code == 0
    client = client_for()
    before = client.get(f"/api/v1/articles/{ARTICLE}").json()
    result = run_cms(database_url, "content", "rebuild")
    assert result.exit_code == 0, result.output
    assert f"{sum(1 for _ in CONTENT.glob('*/*.md'))} entries rebuilt" in result.output
    assert client.get(f"/api/v1/articles/{ARTICLE}").json() == before


# --- what links here, what is broken --------------------------------------------


def linking_to(target: str) -> set[str]:
    """Demo entries (``type/slug``) whose body links to ``target``, from the files."""
    return {
        f"{TYPES[path.parent.name]}/{path.stem}"
        for path in CONTENT.glob("*/*.md")
        if f"](cms:{target})" in path.read_text(encoding="utf-8")
    }


@pytest.mark.parametrize("target", ["condition/sciatica", "clinic/calgary", "article/" + ARTICLE])
def test_backlinks_list_what_links_here_by_title(demo: TestClient[Any], target: str) -> None:
    kind, slug = target.split("/")
    url = f"/api/v1/{kind}s/{slug}/backlinks"
    whole = demo.get(url + "?limit=100").json()
    assert whole["next_cursor"] is None
    assert {f"{e['type']}/{e['slug']}" for e in whole["data"]} == linking_to(target)
    titles = [e["title"] for e in whole["data"]]
    assert titles == sorted(titles)
    assert all(e["canonical_url"] for e in whole["data"])
    paged, cursor = [], None
    while True:
        body = demo.get(url + "?limit=1" + (f"&cursor={cursor}" if cursor else "")).json()
        paged += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert paged == whole["data"]


@pytest.mark.parametrize(
    ("url", "status", "name"),
    [
        ("/api/v1/conditions/gout/backlinks", 404, None),
        ("/api/v1/conditions/sciatica/backlinks?sort=title", 400, "sort"),
        ("/api/v1/conditions/sciatica/backlinks?cursor=x", 400, "cursor"),
        ("/api/v1/links/broken?limit=101", 400, "limit"),
        ("/api/v1/links/broken?cursor=WyJicm9rZW4iXQ", 400, "cursor"),
    ],
)
def test_bad_link_requests_are_problems(
    demo: TestClient[Any], url: str, status: int, name: str | None
) -> None:
    response = demo.get(url)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    if name:
        assert [e["name"] for e in response.json()["errors"]] == [name]


def test_the_demo_has_no_broken_links(demo: TestClient[Any]) -> None:
    assert demo.get("/api/v1/links/broken").json() == {"data": [], "next_cursor": None}


def test_broken_links_are_listed_after_a_forced_load(
    database_url: str, content_copy: Path, client_for: Any
) -> None:
    edit_entry(content_copy / "conditions" / "piriformis-syndrome.md", status="draft")
    write_entry(
        content_copy, "articles", "gout-and-the-back", "See [gout](cms:condition/gout).",
        title="Gout and the back", status="published", clinics=["calgary"],
    )  # fmt: skip
    assert run_cms(database_url, "content", "load", "--force", str(content_copy)).exit_code == 0
    client = client_for()
    whole = client.get("/api/v1/links/broken?limit=100").json()["data"]
    found = [(b["source"]["type"], b["source"]["slug"], b["target"], b["reason"]) for b in whole]
    assert found == [
        ("article", "causes-of-low-back-pain-and-sciatica", "condition/piriformis-syndrome",
         "not_published"),
        ("article", "gout-and-the-back", "condition/gout", "missing"),
        ("case-story", "a-marathon-runner-with-back-pain", "condition/piriformis-syndrome",
         "not_published"),
        ("clinic", "calgary", "condition/piriformis-syndrome", "not_published"),
        ("condition", "sciatica", "condition/piriformis-syndrome", "not_published"),
    ]  # fmt: skip
    paged, cursor = [], None
    while True:
        body = client.get("/api/v1/links/broken?limit=1" + (f"&cursor={cursor}" if cursor else ""))
        paged += body.json()["data"]
        cursor = body.json()["next_cursor"]
        if cursor is None:
            break
    assert paged == whole


# --- the problems the editors' API raises -----------------------------------------


class WriteChecksPlugin:
    """Routes doing what the editors' write routes do before unpublishing or publishing."""

    name = "write-checks"

    @hookimpl
    def register_routes(self) -> Sequence[Any]:
        @get("/api/v1/try-unpublish/{kind:str}/{slug:str}")
        async def try_unpublish(
            session: NamedDependency[AsyncSession],
            kind: FromPath[str],
            slug: FromPath[str],
            force: FromQuery[bool] = False,
        ) -> dict[str, str]:
            dependents = await dependents_blocking(session, [(kind, slug)])
            if dependents and not force:
                raise linked_from_published(f"{kind}/{slug}", dependents)
            return {"unpublished": f"{kind}/{slug}"}

        @get("/api/v1/try-publish/{kind:str}/{slug:str}")
        async def try_publish(
            session: NamedDependency[AsyncSession], kind: FromPath[str], slug: FromPath[str]
        ) -> dict[str, str]:
            entry = (await session.exec(select(Entry.id).where(
                Entry.type == kind, Entry.slug == slug))).one()  # fmt: skip
            broken, _ = await broken_links(session, source_ids=[entry])
            if broken:
                raise broken_links_problem(broken)
            return {"published": f"{kind}/{slug}"}

        return [try_unpublish, try_publish]


def test_unpublishing_a_linked_entry_is_a_409_listing_the_dependents(demo_url: str) -> None:
    with TestClient(
        create_app(Settings(database_url=demo_url), plugins=[WriteChecksPlugin()])
    ) as c:
        response = c.get("/api/v1/try-unpublish/condition/piriformis-syndrome")
        assert response.status_code == 409
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["type"] == "urn:clinic-cms:problem:linked-from-published"
        assert {f"{d['source']['type']}/{d['source']['slug']}" for d in problem["dependents"]} == (
            linking_to("condition/piriformis-syndrome")
        )
        assert all(d["target"] == "condition/piriformis-syndrome" for d in problem["dependents"])
        assert "force=true" in problem["detail"]
        forced = c.get("/api/v1/try-unpublish/condition/piriformis-syndrome?force=true")
        assert forced.status_code == 200
        # No body links to a practitioner's page.
        assert linking_to("practitioner/maren-holt") == set()
        assert c.get("/api/v1/try-unpublish/practitioner/maren-holt").status_code == 200


def test_publishing_with_a_broken_link_is_a_422_naming_it(
    database_url: str, content_copy: Path
) -> None:
    write_entry(
        content_copy, "articles", "gout-and-the-back", "See [gout](cms:condition/gout).",
        title="Gout and the back", status="draft", clinics=["calgary"],
    )  # fmt: skip
    assert run_cms(database_url, "content", "load", str(content_copy)).exit_code == 0
    # Broken links are a publishing matter: a draft's are reported once it is published.
    edit_entry(content_copy / "articles" / "gout-and-the-back.md", status="published")
    assert run_cms(database_url, "content", "load", "--force", str(content_copy)).exit_code == 0
    settings = Settings(database_url=database_url)
    with TestClient(create_app(settings, plugins=[WriteChecksPlugin()])) as client:
        response = client.get("/api/v1/try-publish/article/gout-and-the-back")
        assert response.status_code == 422
        problem = response.json()
        assert problem["type"] == "urn:clinic-cms:problem:broken-links"
        reason = "links to condition/gout, which does not exist"
        assert problem["errors"] == [{"name": "body", "location": "body", "reason": reason}]
        assert client.get(f"/api/v1/try-publish/article/{ARTICLE}").status_code == 200
