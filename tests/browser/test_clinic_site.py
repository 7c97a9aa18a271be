"""The example clinic site (examples/clinic-site) in Chromium, on its own origin.

The site's static files are served by one loopback server, the API by another
(the demo, with the site's origin in ``CMS_CORS_ORIGINS``): the pages call the
API from the browser across origins, as a clinic's real website would.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from functools import partial
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.chromium import BrowserPage
from tests.conftest import REPO, serving
from tests.servers import HTTP_TIMEOUT

SITE = REPO / "examples" / "clinic-site"


class _SiteFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(name="site", scope="module")
def fixture_site() -> Iterator[str]:
    """The site's files, served as they are (no build step) on a free loopback port."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_SiteFiles, directory=str(SITE))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(20)
        server.server_close()


@pytest.fixture(name="api", scope="module")
def fixture_api(demo_url: str, site: str) -> Iterator[str]:
    """The demo's API, which lets the site's origin call it (CORS)."""
    with serving(demo_url, {"CMS_CORS_ORIGINS": site}) as base:
        yield base


def open_site(page: Page, site: str, api: str, path: str = "index.html") -> None:
    """Open the Calgary site, pointed at ``api`` (kept for the rest of the visit)."""
    page.goto(f"{site}/{path}?api={quote(api, safe='')}&clinic=calgary")


def json_ld_in_head(page: Page) -> Any:
    script = page.locator('head script[type="application/ld+json"]')
    expect(script).to_have_count(1)
    return json.loads(script.text_content() or "")


def assert_stayed_home(browser_page: BrowserPage, site: str, api: str) -> None:
    """No console error, and every request went to the site or the API, on loopback."""
    assert browser_page.console_errors == []
    assert browser_page.off_loopback() == []
    assert any(url.startswith(f"{api}/api/v1/") for url in browser_page.requests)
    assert all(url.startswith((site, api, "data:")) for url in browser_page.requests)


def test_home_page_to_a_patient_story_and_on_to_its_next_part(
    site: str, api: str, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    open_site(page, site, api)

    expect(page.locator("h1")).to_have_text("Calgary Acupuncture Clinic")
    expect(page.locator("#address")).to_contain_text("615 8 Avenue SW, Suite 410")
    expect(page.locator("#address")).to_contain_text("Calgary, AB T2P 1H7")
    expect(page.locator("#hours li")).to_have_text(
        ["Monday to Thursday: 09:00\u201318:00", "Friday: 09:00\u201317:00",
         "Saturday: 10:00\u201315:00"]
    )  # fmt: skip
    expect(page.locator("#practitioners")).to_contain_text("Lena Marchetti")
    expect(page.locator("header .brand")).to_have_text("Calgary Acupuncture Clinic")
    clinic = httpx.get(f"{api}/api/v1/clinics/calgary", timeout=HTTP_TIMEOUT).json()
    assert json_ld_in_head(page) == clinic["json_ld"]
    browser_page.screenshot("home")

    page.locator("#stories").get_by_role("link", name="Patient story, part one").click()
    expect(page).to_have_url(f"{site}/story.html?slug=back-pain-after-a-car-accident")
    expect(page.locator("h1")).to_have_text(
        "Patient story, part one: back pain that stayed after a car accident"
    )
    series = page.locator("nav.series")
    expect(series).to_contain_text("part 1 of 3")
    expect(series.locator(".previous")).to_have_count(0)
    story = httpx.get(
        f"{api}/api/v1/case-stories/back-pain-after-a-car-accident", timeout=HTTP_TIMEOUT
    ).json()
    assert json_ld_in_head(page) == story["json_ld"]
    expect(page.locator(".body h2")).to_have_text([t["text"] for t in story["toc"]])
    browser_page.screenshot("story-part-one")

    series.locator(".next a").click()
    expect(page).to_have_url(f"{site}/story.html?slug=a-marathon-runner-with-back-pain")
    expect(page.locator("h1")).to_have_text(
        "Patient story, part two: a marathon runner whose back gave out in training"
    )
    series = page.locator("nav.series")
    expect(series).to_contain_text("part 2 of 3")
    expect(series.locator(".previous a")).to_have_attribute(
        "href", "story.html?slug=back-pain-after-a-car-accident"
    )
    expect(series.locator(".next a")).to_have_attribute(
        "href", "story.html?slug=back-pain-that-flares-with-stress"
    )
    expect(page.locator(".facts-list")).to_contain_text("Lena Marchetti")
    browser_page.screenshot("story-part-two")

    assert_stayed_home(browser_page, site, api)


def test_articles_page_by_page_then_an_article_of_a_series_and_its_condition_and_author(
    site: str, api: str, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    everything = httpx.get(
        f"{api}/api/v1/articles?clinic=calgary&limit=100", timeout=HTTP_TIMEOUT
    ).json()["data"]
    titles = [a["title"] for a in everything]
    open_site(page, site, api, "articles.html")

    shown: list[str] = []
    while True:
        items = page.locator("#articles h2")
        expect(items.first).to_be_visible()
        on_page = items.all_text_contents()
        shown += on_page
        older = page.locator("#older")
        if older.count() == 0:
            break
        older.click()
        expect(page.locator("#articles h2").first).not_to_have_text(on_page[0])
    assert shown == titles  # every article once, newest first, over several pages
    assert len(titles) > 4

    page.goto(f"{site}/article.html?slug=opioids-and-back-pain")
    article = httpx.get(f"{api}/api/v1/articles/opioids-and-back-pain", timeout=HTTP_TIMEOUT).json()
    expect(page.locator("h1")).to_have_text(article["title"])
    series = page.locator("nav.series")
    expect(series).to_contain_text("Back pain and medicines")
    expect(series).to_contain_text("part 2 of 3")
    expect(series.locator(".previous a")).to_have_text(
        "Anti-inflammatory drugs and the healing of back pain"
    )
    assert json_ld_in_head(page) == article["json_ld"]
    # A link of the body to the condition's page on a clinic's site leads to this site's page.
    expect(page.locator(".body a", has_text="chronic low back pain")).to_have_attribute(
        "href", "condition.html?slug=chronic-low-back-pain"
    )
    browser_page.screenshot("article-in-a-series")

    page.locator("main .meta").get_by_role("link", name="Low back pain", exact=True).click()
    expect(page.locator("h1")).to_have_text("Low back pain")
    condition = httpx.get(f"{api}/api/v1/conditions/low-back-pain", timeout=HTTP_TIMEOUT).json()
    assert json_ld_in_head(page) == condition["json_ld"]
    page.locator("header").get_by_role("link", name="Home").click()
    page.locator("#practitioners").get_by_role("link", name="Lena Marchetti").click()
    expect(page.locator("h1")).to_contain_text("Lena Marchetti")
    expect(page.locator("#specialties")).to_contain_text("Sciatica")
    browser_page.screenshot("practitioner")

    assert_stayed_home(browser_page, site, api)
