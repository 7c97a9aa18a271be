"""Canonical URLs and internal links: rendered on write, kept true when their targets change.

Every check goes through the product's write path (`cms content load`) and
reads through the API.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import frontmatter
import pytest
from litestar.testing import TestClient

from cms.app import create_app
from cms.settings import Settings
from tests.conftest import CONTENT, edit_entry, run_cms, write_entry

TYPES = {"clinics": "clinic", "practitioners": "practitioner", "conditions": "condition",
         "articles": "article"}  # fmt: skip
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
                       "condition/sciatica"}  # fmt: skip
    client = client_for()
    assert client.get("/api/v1/conditions/piriformis-syndrome").status_code == 200

    forced = run_cms(database_url, "content", "load", "--force", str(content_copy))
    assert forced.exit_code == 0, forced.output
    assert "3 broken internal link(s), loaded anyway" in forced.output
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
