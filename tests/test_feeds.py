"""Atom, RSS and JSON Feed 1.1 feeds of clinics, conditions and series, over HTTP.

Every feed is parsed with feedparser, as a feed reader would, and must parse
cleanly (``bozo == 0``); every JSON Feed is validated against the published
JSON Feed 1.1 schema (``tests/schemas/``). The expected items come from the
read API (the list filters and the details), never from the feed code.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import feedparser
import jsonschema
import pytest
from litestar.testing import TestClient

from cms.app import create_app
from cms.settings import Settings
from cms.syndication.purges import SqlitePurgeReader
from tests.conftest import (
    PUBLIC_BASE,
    QUIET,
    REPO,
    Editing,
    counting,
    create_article,
    load_folder,
    step,
    write_entry,
)

API = "/api/v1"
SCHEMA = json.loads((REPO / "tests" / "schemas" / "jsonfeed-1.1.schema.json").read_text())
MEDIA = {
    "atom": "application/atom+xml",
    "rss": "application/rss+xml",
    "json": "application/feed+json",
}
FORMATS = tuple(MEDIA)
IN_FEEDS = ("articles", "case-stories")
IDENTITY = {"Accept-Encoding": "identity"}


# --- Helpers ----------------------------------------------------------------------


def when(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def expected_items(client: TestClient[Any], **filters: str) -> list[dict[str, Any]]:
    """The published in-feeds entries the list API gives for ``filters``, newest first."""
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    items = [
        item
        for plural in IN_FEEDS
        for item in client.get(f"{API}/{plural}?limit=100&{query}").json()["data"]
    ]
    items.sort(key=lambda i: (when(i["published_at"]), i["id"]), reverse=True)
    return items


def detail(client: TestClient[Any], item: dict[str, Any]) -> dict[str, Any]:
    plural = {"article": "articles", "case-story": "case-stories"}[item["type"]]
    response = client.get(f"{API}/{plural}/{item['slug']}")
    assert response.status_code == 200
    return dict(response.json())


def parse(body: bytes) -> Any:
    """Parse a feed as a reader does, without rewriting its HTML, and insist it is well formed."""
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def check_json_feed(document: dict[str, Any]) -> None:
    """Valid against the JSON Feed 1.1 schema, with absolute URLs and RFC 3339 dates."""
    jsonschema.Draft7Validator(SCHEMA).validate(document)
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert next(iter(document)) == "version"  # "This should appear at the very top."
    urls = [document.get(k) for k in ("home_page_url", "feed_url", "next_url")]
    urls += [item.get("url") for item in document["items"]]
    for url in filter(None, urls):
        assert urlsplit(url).scheme in {"http", "https"}, url
    for item in document["items"]:
        for key in ("date_published", "date_modified"):
            assert when(item[key]).tzinfo is not None


def test_the_schema_refuses_what_the_specification_forbids() -> None:
    """The schema the feeds are checked against can fail: each case breaks one rule."""
    good = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "A feed",
        "items": [{"id": "urn:uuid:1", "content_html": "<p>Hi</p>"}],
    }
    jsonschema.Draft7Validator(SCHEMA).validate(good)
    item = good["items"][0]
    broken = [
        {k: v for k, v in good.items() if k != "items"},
        {**good, "version": "https://jsonfeed.org/version/1"},
        {**good, "items": [{"content_html": "<p>Hi</p>"}]},
        {**good, "items": [{"id": "urn:uuid:1", "title": "No content"}]},
        {**good, "items": [{**item, "authors": [{}]}]},
        {**good, "items": [{**item, "tags": "one,two"}]},
        {**good, "hubs": [{"type": "WebSub"}]},
    ]
    for document in broken:
        assert not jsonschema.Draft7Validator(SCHEMA).is_valid(document), document


def get_feed(client: TestClient[Any], url: str) -> Any:
    """Fetch a feed, check its media type, and parse it (JSON as a dict, XML with feedparser)."""
    response = client.get(url, headers=IDENTITY)
    assert response.status_code == 200, response.text
    fmt = url.split("?")[0].rsplit(".", 1)[1]
    assert response.headers["content-type"].startswith(MEDIA[fmt])
    if fmt == "json":
        document = response.json()
        check_json_feed(document)
        return document
    return parse(response.content)


def walk(client: TestClient[Any], url: str) -> list[Any]:
    """Every page of a feed, following its next links (``next_url`` in JSON Feed)."""
    pages = []
    next_url: str | None = url
    while next_url:
        page = get_feed(client, next_url)
        pages.append(page)
        if is_json(page):
            next_url = page.get("next_url")
        else:
            nexts = [link.href for link in page.feed.links if link.rel == "next"]
            assert len(nexts) <= 1
            next_url = nexts[0] if nexts else None
        assert len(pages) < 50, "the next links go round in circles"
    return pages


def is_json(page: Any) -> bool:
    """Whether ``page`` is a JSON Feed document (feedparser's results are dicts too)."""
    return not isinstance(page, feedparser.FeedParserDict)


def item_ids(page: Any) -> list[str]:
    if is_json(page):
        return [item["id"] for item in page["items"]]
    return [entry.id for entry in page.entries]


# --- Content --------------------------------------------------------------------


def test_clinic_atom_feed_has_the_clinics_entries_with_their_content(
    demo: TestClient[Any],
) -> None:
    expected = expected_items(demo, clinic="calgary")
    assert len(expected) > 5  # articles and case stories
    assert {i["type"] for i in expected} == {"article", "case-story"}
    clinic = demo.get(f"{API}/clinics/calgary").json()
    parsed = get_feed(demo, f"{API}/clinics/calgary/feed.atom?limit=100")
    feed = parsed.feed

    assert parsed.version == "atom10"
    assert feed.title == clinic["title"]
    assert feed.link == clinic["site_url"]  # the alternate link: the clinic's site
    assert feed.author_detail.name == clinic["title"]
    assert feed.id.startswith("urn:uuid:")
    assert when(feed.updated) == max(when(i["updated_at"]) for i in expected)
    assert [e.title for e in parsed.entries] == [i["title"] for i in expected]
    for entry, item in zip(parsed.entries, expected, strict=True):
        full = detail(demo, item)
        assert entry.id == f"urn:uuid:{item['id']}"
        assert entry.link == item["canonical_url"]
        assert [link.href for link in entry.links if link.rel == "alternate"] == [
            item["canonical_url"]
        ]
        assert entry.content[0].type == "text/html"
        # feedparser trims the trailing newline of element text
        assert entry.content[0].value == full["body_html"].strip()
        assert "<p>" in entry.content[0].value
        assert entry.summary == item["summary"]
        assert when(entry.updated) == when(item["updated_at"])
        assert when(entry.published) == when(item["published_at"])
        author = item.get("author") or item.get("practitioner")
        assert [a.name for a in entry.authors] == [author["title"]]
        terms = [(t.term, t.scheme) for t in entry.tags]
        assert terms == [
            *((tag, "urn:clinic-cms:tag") for tag in item["tags"]),
            *((c["slug"], "urn:clinic-cms:condition") for c in item["conditions"]),
        ]
        labels = [t.label for t in entry.tags if t.scheme == "urn:clinic-cms:condition"]
        assert labels == [c["title"] for c in item["conditions"]]


def test_clinic_rss_feed_has_the_same_items(demo: TestClient[Any]) -> None:
    expected = expected_items(demo, clinic="edmonton")
    clinic = demo.get(f"{API}/clinics/edmonton").json()
    parsed = get_feed(demo, f"{API}/clinics/edmonton/feed.rss?limit=100")

    assert parsed.version == "rss20"
    assert parsed.feed.title == clinic["title"]
    assert parsed.feed.link == clinic["site_url"]
    assert parsed.feed.description == clinic["summary"]
    assert [e.title for e in parsed.entries] == [i["title"] for i in expected]
    for entry, item in zip(parsed.entries, expected, strict=True):
        assert entry.id == f"urn:uuid:{item['id']}"
        assert entry.guidislink is False
        assert entry.link == item["canonical_url"]
        assert entry.content[0].value == detail(demo, item)["body_html"].strip()
        assert entry.summary == item["summary"]
        author = item.get("author") or item.get("practitioner")
        assert entry.author == author["title"]  # dc:creator: RSS <author> wants an email
        assert entry.published_parsed[:6] == when(item["published_at"]).utctimetuple()[:6]
        labels = [t.term for t in entry.tags]
        assert labels == [*item["tags"], *(c["title"] for c in item["conditions"])]


def test_clinic_json_feed_is_valid_json_feed_1_1(demo: TestClient[Any]) -> None:
    expected = expected_items(demo, clinic="calgary")
    clinic = demo.get(f"{API}/clinics/calgary").json()
    document = get_feed(demo, f"{API}/clinics/calgary/feed.json?limit=100")

    assert document["title"] == clinic["title"]
    assert document["home_page_url"] == clinic["site_url"]
    assert document["feed_url"] == f"{PUBLIC_BASE}{API}/clinics/calgary/feed.json?limit=100"
    assert "next_url" not in document  # everything fits on this page
    assert document["authors"] == [{"name": clinic["title"], "url": clinic["site_url"]}]
    items = document["items"]
    assert [i["title"] for i in items] == [i["title"] for i in expected]
    for got, item in zip(items, expected, strict=True):
        full = detail(demo, item)
        assert got["id"] == f"urn:uuid:{item['id']}"
        assert got["url"] == item["canonical_url"]
        assert got["content_html"] == full["body_html"]
        assert got["summary"] == item["summary"]
        assert when(got["date_published"]) == when(item["published_at"])
        assert when(got["date_modified"]) == when(item["updated_at"])
        author = item.get("author") or item.get("practitioner")
        practitioner = demo.get(f"{API}/practitioners/{author['slug']}").json()
        assert got["authors"] == [{"name": author["title"], "url": practitioner["canonical_url"]}]
        assert got["tags"] == [*item["tags"], *(c["title"] for c in item["conditions"])]


@pytest.mark.parametrize("fmt", FORMATS)
def test_entries_of_the_other_clinic_never_appear(demo: TestClient[Any], fmt: str) -> None:
    edmonton_only = {i["id"] for i in expected_items(demo, clinic="edmonton")} - {
        i["id"] for i in expected_items(demo, clinic="calgary")
    }
    assert edmonton_only  # the demo has an article shown on Edmonton's site only
    calgary = set(item_ids(get_feed(demo, f"{API}/clinics/calgary/feed.{fmt}?limit=100")))
    edmonton = set(item_ids(get_feed(demo, f"{API}/clinics/edmonton/feed.{fmt}?limit=100")))
    assert {f"urn:uuid:{i}" for i in edmonton_only} <= edmonton
    assert not {f"urn:uuid:{i}" for i in edmonton_only} & calgary
    clinics = {f"urn:uuid:{i['id']}": i["clinics"] for i in expected_items(demo, clinic="edmonton")}
    clinics |= {f"urn:uuid:{i['id']}": i["clinics"] for i in expected_items(demo, clinic="calgary")}
    assert all("calgary" in clinics[i] for i in calgary)


def test_a_case_story_treated_elsewhere_follows_its_clinics_not_its_clinic(
    database_url: str, content_copy: Path
) -> None:
    # `clinic` is where the treatment took place; `clinics` are the sites showing it.
    story = content_copy / "case-stories" / "a-marathon-runner-with-back-pain.md"
    text = story.read_text()
    assert "\nclinics:\n- calgary\n- edmonton\n" in text
    story.write_text(text.replace("\nclinics:\n- calgary\n- edmonton\n", "\nclinics:\n- calgary\n"))
    load_folder(database_url, content_copy)
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        edmonton = client.get(f"{API}/clinics/edmonton/feed.json?limit=100").json()
        calgary = client.get(f"{API}/clinics/calgary/feed.json?limit=100").json()
    slugs = {i["url"].rsplit("/", 1)[1] for i in edmonton["items"]}
    assert "a-marathon-runner-with-back-pain" not in slugs
    assert "a-marathon-runner-with-back-pain" in {
        i["url"].rsplit("/", 1)[1] for i in calgary["items"]
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_series_feed_lists_its_published_parts(demo: TestClient[Any], fmt: str) -> None:
    for slug in ("patient-stories", "back-pain-and-medicines"):
        series = demo.get(f"{API}/series/{slug}").json()
        parts = [detail(demo, {"type": p["type"], "slug": p["slug"]}) for p in series["parts"]]
        parts.sort(key=lambda i: (when(i["published_at"]), i["id"]), reverse=True)
        page = get_feed(demo, f"{API}/series/{slug}/feed.{fmt}")
        assert item_ids(page) == [f"urn:uuid:{p['id']}" for p in parts]
        home = page["home_page_url"] if fmt == "json" else page.feed.link
        assert home == series["canonical_url"]
        title = page["title"] if fmt == "json" else page.feed.title
        assert title == series["title"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_condition_feed_lists_what_relates_to_the_condition(
    demo: TestClient[Any], fmt: str
) -> None:
    for slug in ("sciatica", "chronic-low-back-pain"):
        expected = expected_items(demo, condition=slug)
        assert expected
        page = get_feed(demo, f"{API}/conditions/{slug}/feed.{fmt}?limit=100")
        assert item_ids(page) == [f"urn:uuid:{i['id']}" for i in expected]


def test_feeds_follow_the_enabled_plugins(demo_url: str) -> None:
    # Without the blog series plugin there are no series feeds; without the
    # case stories plugin, no case stories in any feed.
    settings = Settings(database_url=demo_url, plugins=("case_stories",))
    with TestClient(create_app(settings)) as client:
        for fmt in FORMATS:
            missing = client.get(f"{API}/series/patient-stories/feed.{fmt}")
            assert missing.status_code == 404
            assert missing.headers["content-type"].startswith("application/problem+json")
        assert client.get(f"{API}/clinics/calgary/feed.atom").status_code == 200
        paths = client.get("/schema/openapi.json").json()["paths"]
        assert f"{API}/clinics/{{slug}}/feed.atom" in paths
        assert not [p for p in paths if p.startswith(f"{API}/series")]
    settings = Settings(database_url=demo_url, plugins=("blog_series",))
    with TestClient(create_app(settings)) as client:
        document = client.get(f"{API}/clinics/calgary/feed.json?limit=100").json()
        urls = [i["url"] for i in document["items"]]
        assert urls
        assert all("/blog/" in u for u in urls)  # articles only
        # The patient stories series has only case stories: its feed is empty.
        empty = client.get(f"{API}/series/patient-stories/feed.json").json()
        check_json_feed(empty)
        assert empty["items"] == []
        plugins = {p["name"]: p for p in client.get(f"{API}/plugins").json()["data"]}
        assert "GET /api/v1/series/{slug}/feed.rss" in plugins["blog_series"]["routes"]


# --- Paging -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_pages_follow_each_other_without_gaps_or_repeats(demo: TestClient[Any], fmt: str) -> None:
    expected = [f"urn:uuid:{i['id']}" for i in expected_items(demo, clinic="calgary")]
    pages = walk(demo, f"{API}/clinics/calgary/feed.{fmt}?limit=5")
    assert [len(item_ids(p)) for p in pages] == [5, 5, len(expected) - 10]
    assert [i for p in pages for i in item_ids(p)] == expected
    if fmt == "json":
        assert pages[0]["feed_url"].endswith("/clinics/calgary/feed.json?limit=5")
        assert "next_url" not in pages[-1]
        return
    for number, page in enumerate(pages):
        links = {link.rel: link.href for link in page.feed.links}
        assert links["first"] == f"{PUBLIC_BASE}{API}/clinics/calgary/feed.{fmt}?limit=5"
        query = parse_qs(urlsplit(links["self"]).query)
        assert query["limit"] == ["5"]
        assert ("cursor" in query) == (number > 0)
        assert ("next" in links) == (number < len(pages) - 1)
        if fmt == "atom":
            assert page.feed.id == pages[0].feed.id  # one feed, whatever the page
            assert page.feed.updated == pages[0].feed.updated


def test_default_page_is_twenty_items(database_url: str, content_copy: Path) -> None:
    # Many articles, some published at the same moment: the cursor's id breaks ties.
    # Half of them signed by nobody: the clinic's site is their author.
    for n in range(30):
        write_entry(
            content_copy, "articles", f"note-{n:02d}", f"Note {n}.", title=f"Note {n:02d}",
            status="published", clinics=["edmonton"],
            **({"author": "maren-holt"} if n % 2 else {}),
            published_at=f"2024-0{1 + n % 3}-01T10:00:00Z",
        )  # fmt: skip
    load_folder(database_url, content_copy)
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        expected = expected_items(client, clinic="edmonton")
        assert len(expected) > 40
        pages = walk(client, f"{API}/clinics/edmonton/feed.json")
        assert [len(p["items"]) for p in pages[:-1]] == [20] * (len(pages) - 1)
        assert [i for p in pages for i in item_ids(p)] == [f"urn:uuid:{i['id']}" for i in expected]
        clinic = client.get(f"{API}/clinics/edmonton").json()
        maren = client.get(f"{API}/practitioners/maren-holt").json()
        site = {"name": clinic["title"], "url": clinic["site_url"]}
        person = {"name": maren["title"], "url": maren["canonical_url"]}
        authors = {i["title"]: i["authors"] for p in pages for i in p["items"]}
        for n in range(30):
            assert authors[f"Note {n:02d}"] == [person if n % 2 else site]
        atom = walk(client, f"{API}/clinics/edmonton/feed.atom?limit=100")
        assert len(atom) == 1
        assert item_ids(atom[0]) == [f"urn:uuid:{i['id']}" for i in expected]
        unsigned = next(e for e in atom[0].entries if e.title == "Note 00")
        assert unsigned.author_detail == {"name": clinic["title"], "href": clinic["site_url"]}


# --- Errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("page=2", "page"),
    ],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_parameters_are_400_problems_naming_them(
    demo: TestClient[Any], fmt: str, query: str, name: str
) -> None:
    response = demo.get(f"{API}/clinics/calgary/feed.{fmt}?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "urn:clinic-cms:problem:invalid-parameter"
    assert [e["name"] for e in problem["errors"]] == [name]


def test_a_cursor_of_another_feed_is_refused(demo: TestClient[Any]) -> None:
    page = demo.get(f"{API}/clinics/calgary/feed.json?limit=2").json()
    cursor = parse_qs(urlsplit(page["next_url"]).query)["cursor"][0]
    # The same cursor continues the same feed in another format...
    assert demo.get(f"{API}/clinics/calgary/feed.atom?limit=2&cursor={cursor}").status_code == 200
    # ...but not another feed, nor a list.
    other = demo.get(f"{API}/clinics/edmonton/feed.json?limit=2&cursor={cursor}")
    assert other.status_code == 400
    assert other.json()["errors"][0]["name"] == "cursor"


@pytest.mark.parametrize(
    "path", ["clinics/nowhere", "series/no-such-series", "conditions/no-such-condition"]
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_sources_are_404_problems(demo: TestClient[Any], path: str, fmt: str) -> None:
    response = demo.get(f"{API}/{path}/feed.{fmt}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "urn:clinic-cms:problem:not-found"


# --- Caching ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_feeds_have_strong_etags_cache_headers_and_surrogate_keys(
    demo: TestClient[Any], fmt: str
) -> None:
    url = f"{API}/conditions/sciatica/feed.{fmt}"
    first = demo.get(url, headers=IDENTITY)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert first.headers["cache-control"].startswith("public, max-age=")
    assert first.headers["vary"] == "Accept-Encoding, Origin"
    keys = first.headers["surrogate-key"].split()
    assert keys[:2] == ["list:article", "list:case-story"]
    condition = demo.get(f"{API}/conditions/sciatica").json()
    assert f"entry:{condition['id']}" in keys
    for item in expected_items(demo, condition="sciatica"):
        assert f"entry:{item['id']}" in keys
    again = demo.get(url, headers={**IDENTITY, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == first.headers["cache-control"]
    # The gzip representation has its own strong ETag, and the same body.
    packed = demo.get(url, headers={"Accept-Encoding": "gzip"})
    assert packed.headers["etag"] == etag[:-1] + '-gzip"'
    assert packed.content == first.content  # httpx decodes it
    raw = demo.get(
        url, headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["etag"]}
    )
    assert raw.status_code == 304


def test_a_feed_costs_a_fixed_number_of_queries_and_is_built_once(editing: Editing) -> None:
    app = create_app(editing.settings(**QUIET))
    generation = 0 if isinstance(app.state.services.cache.reader, SqlitePurgeReader) else 1
    counts = []
    with TestClient(app) as client:
        for url in (
            f"{API}/clinics/calgary/feed.atom?limit=1",
            f"{API}/clinics/calgary/feed.atom?limit=100",
            f"{API}/conditions/low-back-pain/feed.json?limit=100",
            f"{API}/series/patient-stories/feed.rss",
        ):
            with counting(app) as first:
                assert client.get(url).status_code == 200
            with counting(app) as again:
                assert client.get(url).status_code == 200
            counts.append(len(first) - generation)
            assert len(again) == generation, again  # served from the response cache
    # The source, the page, its relations, the people it names, the newest change.
    assert counts == [5, 5, 5, 5]


# --- Writes -----------------------------------------------------------------------


def test_publishing_and_unpublishing_change_the_feeds(
    client: TestClient[Any], editing: Editing
) -> None:
    url = f"{API}/clinics/calgary/feed.json"
    before = client.get(url)
    assert before.status_code == 200
    draft, etag = create_article(
        client, editing, "Feeds are fresh", summary="A new guide.", conditions=["sciatica"]
    )
    # A draft is not public: the feed, built again after the write, is as it was.
    assert client.get(url).json() == before.json()
    published, etag = step(client, editing, draft["slug"], "publish", etag)
    after = client.get(url)
    assert after.headers["etag"] != before.headers["etag"]
    first = after.json()["items"][0]
    assert first["id"] == f"urn:uuid:{published['id']}"
    assert first["title"] == "Feeds are fresh"
    assert first["summary"] == "A new guide."
    assert first["url"] == published["canonical_url"]
    assert first["authors"][0]["name"] == "Lena Marchetti"
    assert "<p>Feeds are fresh.</p>" in first["content_html"]
    assert f"entry:{published['id']}" in after.headers["surrogate-key"]
    sciatica = client.get(f"{API}/conditions/sciatica/feed.atom")
    assert parse(sciatica.content).entries[0].id == f"urn:uuid:{published['id']}"
    edmonton = client.get(f"{API}/clinics/edmonton/feed.json?limit=100").json()
    assert first["id"] not in {i["id"] for i in edmonton["items"]}

    # A change waiting for review leaves the published version in the feed.
    response = client.patch(
        f"{API}/articles/{draft['slug']}",
        json={"title": "Draft title"},
        headers={**editing.auth("editor"), "If-Match": etag},
    )
    assert response.status_code == 200, response.text
    etag = response.headers["etag"]
    assert client.get(url).json()["items"][0]["title"] == "Feeds are fresh"

    step(client, editing, draft["slug"], "unpublish", etag)
    gone = client.get(url).json()
    assert f"urn:uuid:{published['id']}" not in {i["id"] for i in gone["items"]}
    assert gone["items"] == before.json()["items"]


def test_control_characters_never_break_a_feed(editing: Editing) -> None:
    """XML cannot carry a vertical tab (Word pastes them): Atom and RSS leave it out."""
    with TestClient(create_app(editing.settings())) as client:
        title = "Back pain\x0bat the desk"
        draft, etag = create_article(client, editing, title, body="Sit\x0b up.\x01")
        step(client, editing, draft["slug"], "publish", etag)
        for fmt in ("atom", "rss"):
            response = client.get(f"/api/v1/clinics/calgary/feed.{fmt}", headers=IDENTITY)
            assert response.status_code == 200, response.text
            parsed = parse(response.content)
            assert parsed.entries[0].title == "Back painat the desk"
        document = client.get("/api/v1/clinics/calgary/feed.json").json()
        check_json_feed(document)
        assert document["items"][0]["title"] == title


# --- Text that looks like markup ----------------------------------------------------
# Issue 15, finding 4: an RSS `<description>` escaped once (as XML only) handed
# feed readers, which take it as HTML, a live `<img onerror>`. Titles and
# summaries are plain text and must reach a reader as that text, in every format.

HOSTILE = (
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(1)</script>",
    "Salt &amp; pepper: R&D <3",
)
RSS_CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"


class _Tags(HTMLParser):
    """The start tags of an HTML fragment, as a browser would find them."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _xml(body: bytes) -> ET.Element:
    """A feed's XML tree, as a reader's XML parser sees it."""
    return ET.fromstring(body)  # noqa: S314  (the app under test wrote it; no DTD in it)


def _as_html_text(markup: str) -> str:
    """What an HTML fragment says as text, once it has been checked to hold no element."""
    assert _Tags(markup).tags == [], markup
    return html.unescape(markup)


@pytest.mark.parametrize("text", HOSTILE)
def test_titles_and_summaries_reach_feed_readers_as_text(
    client: TestClient[Any], editing: Editing, text: str
) -> None:
    draft, etag = create_article(
        client, editing, f"{text} title", summary=f"{text} summary",
        body=f"## Heading\n\n{text} body <b>bold</b>",
    )  # fmt: skip
    published, _ = step(client, editing, draft["slug"], "publish", etag)
    feed = f"{API}/clinics/calgary/feed"
    title, summary = f"{text} title", f"{text} summary"

    # RSS: `title` and `description` are HTML to readers, so they carry the text
    # escaped as HTML (then as XML): once the XML is parsed, no element is left.
    rss = _xml(client.get(f"{feed}.rss", headers=IDENTITY).content)
    item = next(i for i in rss.iter("item") if i.findtext("guid") == f"urn:uuid:{draft['id']}")
    assert _as_html_text(item.findtext("title") or "") == title
    assert _as_html_text(item.findtext("description") or "") == summary
    encoded = item.findtext(RSS_CONTENT) or ""
    assert encoded == published["body_html"]  # the sanitised body, as HTML
    # ...and a feed reader (feedparser, sanitising nothing) says the same.
    entry = next(e for e in parse(client.get(f"{feed}.rss").content).entries
                 if e.id == f"urn:uuid:{draft['id']}")  # fmt: skip
    for detail, expected in ((entry.title_detail, title), (entry.summary_detail, summary)):
        shown = detail.value if detail.type == "text/plain" else _as_html_text(detail.value)
        assert shown == expected, detail

    # Atom: `type="text"` (the default) says what they are; XML escaping is all they need.
    atom = _xml(client.get(f"{feed}.atom", headers=IDENTITY).content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    node = next(
        e for e in atom.iterfind("a:entry", ns)
        if e.findtext("a:id", namespaces=ns) == f"urn:uuid:{draft['id']}"
    )  # fmt: skip
    for tag, expected in (("title", title), ("summary", summary)):
        element = node.find(f"a:{tag}", ns)
        assert element is not None
        assert element.get("type", "text") == "text"
        assert element.text == expected
    content = node.find("a:content", ns)
    assert content is not None
    assert content.get("type") == "html"
    assert content.text == published["body_html"]

    # JSON Feed: `title` and `summary` are plain text by definition.
    document = client.get(f"{feed}.json").json()
    check_json_feed(document)
    got = next(i for i in document["items"] if i["id"] == f"urn:uuid:{draft['id']}")
    assert (got["title"], got["summary"]) == (title, summary)
    assert got["content_html"] == published["body_html"]
    # The body's own markup-like text stays text: the sanitised body holds the
    # elements the Markdown made, and no attribute but the heading's anchor.
    tags = _Tags(published["body_html"]).tags
    assert {t for t, _ in tags} <= {"h2", "p", "a"}, tags
    assert all(name in {"id", "href", "class", "aria-hidden"} for _, a in tags for name, _ in a)
