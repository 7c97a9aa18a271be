"""HEAD on every GET route, OPTIONS and 405 naming every method a path takes, over the app."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import TestClient

ARTICLE = "/api/v1/articles/causes-of-low-back-pain-and-sciatica"
# One route of each kind that answers GET: probes, lists, entries, feeds of
# each format, search, the change feed, links, plugins, the index, the
# OpenAPI document and the docs' static files.
GET_ROUTES = (
    "/health",
    "/ready",
    "/",
    "/api/v1",
    "/api/v1/articles",
    "/api/v1/articles?limit=2&sort=title",
    ARTICLE,
    "/api/v1/series/patient-stories",
    "/api/v1/clinics/calgary/feed.atom",
    "/api/v1/clinics/calgary/feed.rss",
    "/api/v1/clinics/calgary/feed.json",
    "/api/v1/search?q=sciatica",
    "/api/v1/changes",
    "/api/v1/links/broken",
    "/api/v1/plugins",
    "/schema/openapi.json",
    "/schema",
    "/schema/assets/swagger-ui.css",
)
# What a HEAD must say exactly as its GET does.
SAME = ("etag", "content-type", "content-length", "cache-control", "vary", "content-encoding")


def methods(allow: str) -> set[str]:
    return {m.strip() for m in allow.split(",")}


@pytest.mark.parametrize("path", GET_ROUTES)
def test_head_answers_the_get_status_and_headers_without_a_body(
    demo: TestClient[Any], path: str
) -> None:
    got = demo.get(path)
    head = demo.head(path)
    assert got.status_code == 200, got.text
    assert head.status_code == 200
    assert head.content == b""
    assert "etag" in head.headers
    for name in SAME:
        assert head.headers.get(name) == got.headers.get(name), name
    # And uncompressed: Content-Length is the length of the body a GET gets.
    plain = {"Accept-Encoding": "identity"}
    body = demo.get(path, headers=plain).content
    assert demo.head(path, headers=plain).headers["content-length"] == str(len(body))


@pytest.mark.parametrize("path", GET_ROUTES)
def test_head_with_a_current_etag_is_304(demo: TestClient[Any], path: str) -> None:
    etag = demo.get(path).headers["etag"]
    head = demo.head(path, headers={"If-None-Match": etag})
    assert head.status_code == 304
    assert head.headers["etag"] == etag
    assert head.content == b""


def test_head_of_an_entry_as_an_editor_is_the_private_get(
    client: TestClient[Any], editing: Any
) -> None:
    auth = editing.auth("editor")
    got = client.get(ARTICLE, headers=auth)
    head = client.head(ARTICLE, headers=auth)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == got.headers["etag"]
    assert head.headers["cache-control"] == "private, no-store"


def test_head_of_what_is_missing_is_the_get_status(demo: TestClient[Any]) -> None:
    missing = demo.head("/api/v1/articles/no-such-article")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.content == b""
    bad_query = demo.head("/api/v1/articles?limit=0")
    assert bad_query.status_code == 400
    assert bad_query.content == b""


def test_head_of_a_path_without_get_is_405_naming_its_methods(demo: TestClient[Any]) -> None:
    response = demo.head(f"{ARTICLE}/publish")
    assert response.status_code == 405
    assert methods(response.headers["allow"]) == {"OPTIONS", "POST"}
    assert response.content == b""


def test_options_lists_every_method_of_the_entry_path(demo: TestClient[Any]) -> None:
    """The regression: PATCH and DELETE are registered apart from GET (Litestar 2 kept
    the first handler's OPTIONS, which listed GET alone)."""
    for path, expected in (
        (ARTICLE, {"GET", "HEAD", "OPTIONS", "PATCH", "DELETE"}),
        ("/api/v1/articles", {"GET", "HEAD", "OPTIONS", "POST"}),
        ("/api/v1/tokens", {"GET", "HEAD", "OPTIONS", "POST"}),
        (f"{ARTICLE}/publish", {"OPTIONS", "POST"}),
        ("/schema/openapi.json", {"GET", "HEAD", "OPTIONS"}),
    ):
        response = demo.options(path)
        assert response.status_code == 204, path
        assert methods(response.headers["allow"]) == expected, path
        assert response.content == b""


def test_options_and_405_agree_with_the_openapi_document(demo: TestClient[Any]) -> None:
    """Every documented path: OPTIONS and a 405 name exactly its documented methods,
    with HEAD beside GET and OPTIONS."""
    document = demo.get("/schema/openapi.json").json()
    for template, operations in document["paths"].items():
        path = re.sub(r"\{[^}]+\}", "1", template)  # "1" fits str and int parameters
        documented = {m.upper() for m in operations if m != "parameters"}
        expected = documented | {"OPTIONS"} | ({"HEAD"} if "GET" in documented else set())
        allowed = demo.options(path)
        assert allowed.status_code == 204, template
        assert methods(allowed.headers["allow"]) == expected, template
        refused = demo.request("PUT", path)
        assert refused.status_code == 405, template
        assert methods(refused.headers["allow"]) == expected, template


def test_405_is_a_problem_naming_the_methods(demo: TestClient[Any]) -> None:
    response = demo.put(ARTICLE, json={})
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 405
    assert problem["title"] == "Method not allowed"
    assert problem["detail"] == (
        "PUT is not allowed here; this path takes DELETE, GET, HEAD, OPTIONS, PATCH."
    )
    assert response.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH"
