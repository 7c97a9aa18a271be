"""The headers every answer carries, as `curl -I` meets them (issue 15, findings 11 and 12).

- Every answer: `X-Content-Type-Options: nosniff`, a `Referrer-Policy`, a
  `Content-Security-Policy` that forbids framing (strict on the HTML docs
  page, "load nothing" on the rest), and no `Server` header.
- Every answer to a request carrying a token or writing: `Cache-Control:
  no-store`, errors included.

The demo with tokens is served by `cms serve` in a process of its own
(:mod:`tests.live`); what is checked is the headers on the wire. Two kinds of
answer a served demo cannot be made to give here (a 500, and a 429 that would
slow the other tests' failing tokens) are checked on an app of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest
from litestar import Response, get, post
from litestar.testing import TestClient

from cms.app import create_app
from cms.hookspecs import hookimpl
from tests.conftest import Editing
from tests.live import Live, fixture_live  # noqa: F401  (the `live` fixture)
from tests.servers import HTTP_TIMEOUT

ENTRY = "/api/v1/articles/causes-of-low-back-pain-and-sciatica"
CONDITION = "/api/v1/conditions/piriformis-syndrome"  # published articles link to it
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
BAD_TOKEN = "Bearer cms_0123456789abcdef_" + "A" * 43


@pytest.fixture(name="http", scope="module")
def fixture_http(live: Live) -> Iterator[httpx.Client]:
    """A plain HTTP client of the served demo (it follows no redirect)."""
    with httpx.Client(base_url=live.base, timeout=HTTP_TIMEOUT) as client:
        yield client


def auth(live: Live, token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {live.secrets[token]}"}


def assert_secured(response: httpx.Response, *, policy: str = API_POLICY) -> None:
    """``response`` carries the headers every answer must, and names no server."""
    assert "server" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["content-security-policy"] == policy


# --- security headers on every answer ---------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", ENTRY, 200),
        ("HEAD", ENTRY, 200),
        ("GET", "/api/v1/articles?limit=5", 200),
        ("GET", "/api/v1/clinics/calgary/feed.atom", 200),
        ("GET", "/health", 200),
        ("GET", "/schema/openapi.json", 200),
        ("GET", "/schema/assets/swagger-ui-bundle.js", 200),
        ("GET", "/api/v1/articles/no-such-article", 404),
        ("HEAD", "/api/v1/articles/no-such-article", 404),
        ("GET", "/no/such/path", 404),
        ("GET", "/api/v1/articles?limit=1000", 400),
        ("DELETE", "/health", 405),
        ("OPTIONS", ENTRY, 204),
    ],
)
def test_every_answer_carries_the_security_headers(
    http: httpx.Client, method: str, path: str, status: int
) -> None:
    response = http.request(method, path)
    assert response.status_code == status
    assert_secured(response)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_304_carries_the_security_headers(http: httpx.Client, method: str) -> None:
    etag = http.request(method, ENTRY).headers["etag"]
    response = http.request(method, ENTRY, headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert_secured(response)


def test_the_docs_page_has_a_strict_policy_and_no_inline_code(http: httpx.Client) -> None:
    # The page renders and its try-it works under this policy: see
    # tests/browser/test_docs_page.py, which runs it in Chromium.
    page = http.get("/schema")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert_secured(page, policy=policy)
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy
    # Nothing inline that the policy would refuse: every script has a src, no style.
    html = page.text
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "<style" not in html
    assert " style=" not in html
    for script in re.findall(r'<script[^>]*\bsrc="([^"]+)"', html):
        served = http.get(script)
        assert served.status_code == 200, script
        assert served.headers["content-type"].startswith("text/javascript")
    # Swagger UI's OAuth2 redirect page, all inline script, is not served.
    assert http.get("/schema/oauth2-redirect.html").status_code == 404


# --- no-store on every answer to a token or a write -----------------------------


def test_a_write_refused_for_its_body_is_not_stored(live: Live, http: httpx.Client) -> None:
    # The audit's case: the 400 of an unreadable body, with a token and without.
    for headers in ({}, auth(live, "admin")):
        response = http.post(
            "/api/v1/tokens", content=b"{bad",
            headers={**headers, "Content-Type": "application/json"},
        )  # fmt: skip
        assert response.status_code in {400, 401}
        assert response.headers["cache-control"] == "no-store"
        assert_secured(response)


def _etag(http: httpx.Client, live: Live, path: str) -> str:
    return http.get(path, headers=auth(live, "editor")).headers["etag"]


def test_every_answer_to_a_token_or_a_write_is_not_stored(live: Live, http: httpx.Client) -> None:
    unpublish = {**auth(live, "editor"), "If-Match": _etag(http, live, CONDITION)}
    article = {"title": "Never stored", "clinics": ["calgary"], "author": "lena-marchetti"}
    cases: list[tuple[int, str, str, dict[str, str], Any]] = [
        # (status, method, path, headers, JSON body)
        (400, "GET", "/api/v1/articles?limit=1000", auth(live, "editor"), None),
        (401, "GET", "/api/v1/articles", {"Authorization": BAD_TOKEN}, None),
        (401, "POST", "/api/v1/articles", {}, article),
        (403, "POST", "/api/v1/tokens", auth(live, "editor"), {"name": "x", "role": "viewer"}),
        (403, "POST", "/api/v1/articles", auth(live, "calgary-author"),
         {**article, "clinics": ["edmonton"]}),
        (404, "GET", "/api/v1/articles/no-such-article", auth(live, "editor"), None),
        (404, "DELETE", "/api/v1/articles/no-such-article",
         {**auth(live, "editor"), "If-Match": '"x"'}, None),
        (404, "POST", "/api/v1/no-such-type", {}, {}),
        (405, "PUT", ENTRY, {}, {}),
        (405, "POST", "/api/v1/search", auth(live, "editor"), {}),
        (409, "POST", f"{CONDITION}/unpublish", unpublish, None),
        (412, "PATCH", ENTRY, {**auth(live, "editor"), "If-Match": '"stale"'}, {"title": "T"}),
        (422, "POST", "/api/v1/articles", auth(live, "editor"), {"title": ""}),
        (428, "PATCH", ENTRY, auth(live, "editor"), {"title": "T"}),
        (200, "GET", "/api/v1/search?q=sciatica", auth(live, "editor"), None),
        (200, "GET", "/health", auth(live, "viewer"), None),
    ]  # fmt: skip
    for status, method, path, headers, body in cases:
        response = http.request(method, path, headers=headers, json=body)
        assert response.status_code == status, (method, path, response.text)
        assert "no-store" in response.headers["cache-control"], (method, path, status)
        assert_secured(response)
    # A HEAD is no write: only its token makes it private.
    assert "no-store" not in http.head(ENTRY).headers["cache-control"]
    assert "no-store" in http.head(ENTRY, headers=auth(live, "viewer")).headers["cache-control"]


class FailingRoutesPlugin:
    """Routes that fail unexpectedly: the 500 of a read and of a write."""

    name = "failing-routes"

    @hookimpl
    def register_routes(self) -> Sequence[Any]:
        @get("/api/v1/fails")
        async def fails_reading() -> Response[bytes]:
            raise RuntimeError("a bug")

        @post("/api/v1/fails")
        async def fails_writing() -> Response[bytes]:
            raise RuntimeError("a bug")

        return [fails_reading, fails_writing]


def test_unexpected_errors_and_the_limit_are_not_stored_either(editing: Editing) -> None:
    app = create_app(editing.settings(auth_failure_limit=1), plugins=[FailingRoutesPlugin()])
    with TestClient(app, raise_server_exceptions=False) as client:
        anonymous = client.get("/api/v1/fails")
        assert anonymous.status_code == 500
        assert anonymous.headers["x-content-type-options"] == "nosniff"
        for response in (
            client.post("/api/v1/fails"),
            client.get("/api/v1/fails", headers=editing.auth("viewer")),
        ):
            assert response.status_code == 500
            assert response.headers["cache-control"] == "no-store"
            assert response.headers["content-type"].startswith("application/problem+json")
        bad = {"Authorization": BAD_TOKEN}
        assert client.post("/api/v1/articles", headers=bad, json={}).status_code == 401
        limited = client.post("/api/v1/articles", headers=bad, json={})
        assert limited.status_code == 429
        assert limited.headers["cache-control"] == "no-store"
