"""The API docs page at /schema, as a person meets it in Chromium: offline, and working.

Swagger UI 5 (vendored by swagger-ui-py, served from /schema/assets) renders
the OpenAPI 3.1 document; "Try it out" calls the API on the page's own origin.
The page's Content-Security-Policy runs scripts of its own origin only: the
page must work under it (cms/http/docs_page.py).
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.chromium import BrowserPage
from tests.conftest import REPO
from tests.servers import HTTP_TIMEOUT

DOCUMENT = json.loads((REPO / "openapi" / "openapi.json").read_text())
OPERATIONS = sum(len(item) for item in DOCUMENT["paths"].values())
RENDER_TIMEOUT_MS = 90_000
"""Swagger UI 5 reads an OpenAPI 3.1 document of 110 operations in seconds, or in tens of
seconds on a loaded 2-core machine: the first look waits that long, the rest as usual."""


# The page is the same whatever database serves the demo: SQLite alone.
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_docs_page_renders_every_operation_and_tries_one_on_its_own_origin(
    live_demo: str, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    served = page.goto(f"{live_demo}/schema")
    # The page works under its strict policy: scripts of its own origin only, no
    # inline code (a refusal would be a console error, asserted at the end).
    assert served is not None
    assert "script-src 'self'" in served.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in served.headers["content-security-policy"]
    assert "server" not in served.headers

    list_articles = page.locator("#operations-Article-listArticles")
    expect(list_articles).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(page.locator("#operations-Article-createArticle")).to_be_visible()
    expect(page.get_by_text("Unable to render this definition")).to_have_count(0)
    expect(page.locator(".info .title")).to_contain_text("Clinic CMS")
    expect(page.locator(".info .title")).to_contain_text("OAS 3.1")
    # Every operation of the document is on the page, tags expanded.
    expect(page.locator(".opblock")).to_have_count(OPERATIONS)
    browser_page.screenshot("overview")

    list_articles.locator(".opblock-summary").click()
    expect(list_articles.locator("tr[data-param-name='cursor']")).to_be_visible()
    list_articles.get_by_role("button", name="Try it out").click()
    list_articles.get_by_role("button", name="Execute").click()
    live = list_articles.locator(".live-responses-table")
    expect(live.locator("tr.response .response-col_status")).to_have_text("200")
    expect(list_articles.locator(".request-url")).to_contain_text(f"{live_demo}/api/v1/articles")
    expect(live.locator("tr.response .response-col_description")).to_contain_text('"next_cursor"')
    list_articles.locator(".responses-inner").first.scroll_into_view_if_needed()
    browser_page.screenshot("try-it")

    assert browser_page.requests, "the page made no request"
    assert browser_page.off_loopback() == []
    requested = {r.removeprefix(live_demo).split("?")[0] for r in browser_page.requests}
    assert {"/schema", "/schema/assets/swagger-ui-bundle.js", "/api/v1/articles"} <= requested
    assert browser_page.console_errors == []

    # The favicon is ours too (headless Chromium does not fetch it: fetch it here).
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon is not None
    assert re.fullmatch(r"/schema/assets/[\w.-]+\.png", icon), icon
    fetched = httpx.get(f"{live_demo}{icon}", timeout=HTTP_TIMEOUT)
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "image/png"
