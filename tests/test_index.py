"""`GET /` and `GET /api/v1`: links to everything the API serves, each of which answers."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.testing import TestClient

from cms.app import create_app
from cms.http.index import Index
from tests.conftest import Editing, counting


def test_root_and_api_base_answer_the_same_index(demo: TestClient[Any]) -> None:
    root = demo.get("/")
    base = demo.get("/api/v1")
    assert root.status_code == base.status_code == 200
    assert root.headers["content-type"] == "application/json"
    assert root.content == base.content
    index = msgspec.json.decode(root.content, type=Index)  # the documented schema, strictly
    assert index.search == "/api/v1/search"
    assert index.changes == "/api/v1/changes"
    assert index.openapi == "/schema/openapi.json"
    assert index.docs == "/schema"


def test_every_registered_type_is_listed_plugin_types_included(demo: TestClient[Any]) -> None:
    index = demo.get("/").json()
    registered = {t.name: t for t in demo.app.state.services.plugins.types}
    assert [t["type"] for t in index["types"]] == list(registered)
    assert {"series", "case-story"} <= set(registered)  # the first-party plugins' types
    for links in index["types"]:
        ctype = registered[links["type"]]
        assert links["list"] == f"/api/v1/{ctype.plural}"
        assert links["entry"] == f"/api/v1/{ctype.plural}/{{slug}}"
        assert links["label"] == ctype.label
        expected_feeds = {"atom", "rss", "json"} if ctype.has_feed else set()
        assert set(links["feeds"]) == expected_feeds
    clinic = next(t for t in index["types"] if t["type"] == "clinic")
    assert clinic["feeds"]["atom"] == "/api/v1/clinics/{slug}/feed.atom"


def test_every_link_answers(demo: TestClient[Any]) -> None:
    """Follow each link as a client would: lists, an entry of each, their feeds, the rest."""
    index = demo.get("/api/v1").json()
    for links in index["types"]:
        listed = demo.get(links["list"], params={"limit": 1})
        assert listed.status_code == 200, links["list"]
        slug = listed.json()["data"][0]["slug"]
        entry = links["entry"].replace("{slug}", slug)
        assert demo.get(entry).status_code == 200, entry
        for fmt, template in links["feeds"].items():
            feed = demo.get(template.replace("{slug}", slug))
            assert feed.status_code == 200, (fmt, template)
    assert demo.get(index["search"], params={"q": "sciatica"}).status_code == 200
    assert demo.get(index["changes"]).status_code == 200
    assert demo.get(index["openapi"]).json()["paths"]["/"]["get"]["operationId"] == "getIndex"
    docs = demo.get(index["docs"])
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]


def test_links_never_come_from_the_host_header(demo: TestClient[Any]) -> None:
    plain = demo.get("/")
    forged = demo.get("/", headers={"Host": "attacker.example", "X-Forwarded-Host": "x.example"})
    assert forged.content == plain.content
    assert b"attacker" not in forged.content
    assert b"http" not in forged.content  # paths only, no absolute URL


def test_index_is_cached_like_other_public_reads(demo: TestClient[Any]) -> None:
    first = demo.get("/", headers={"Accept-Encoding": "identity"})
    assert first.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=300"
    assert first.headers["vary"] == "Accept-Encoding, Origin"
    etag = first.headers["etag"]
    again = demo.get("/api/v1", headers={"Accept-Encoding": "identity", "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["cache-control"] == first.headers["cache-control"]
    head = demo.head("/", headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200
    assert head.headers["etag"] == etag
    assert head.headers["content-length"] == str(len(first.content))


def test_index_reads_nothing_from_the_database(editing: Editing) -> None:
    """It depends on the registered types only: built once, when the app is."""
    # Background tasks off: their polls would be counted too.
    app = create_app(editing.settings(scheduler_interval=0, webhook_delivery="worker"))
    with TestClient(app) as client, counting(app) as statements:
        for path in ("/", "/api/v1", "/"):
            assert client.get(path).status_code == 200
    assert statements == []
