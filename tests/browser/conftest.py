"""Fixtures of the browser tests: the demo served over HTTP, and headless Chromium.

Without Chromium these tests skip, saying why; under CI (``CI`` set) they fail
instead, since `.ci/run` installs it. Every screenshot a test saves is listed
at the end of the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.browser.chromium import CHROMIUM_ARGS, REPO, BrowserPage, find_chromium
from tests.conftest import serving

SCREENSHOTS = pytest.StashKey[list[Path]]()


@pytest.fixture(name="live_demo", scope="module")
def fixture_live_demo(demo_url: str) -> Iterator[str]:
    """The demo content served by uvicorn on a free loopback port: its base URL.

    Shared by the tests of a module: they only read.
    """
    with serving(demo_url) as base:
        yield base


@pytest.fixture(name="chromium", scope="module")
def fixture_chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, with a fresh profile; one per test module."""
    executable = find_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=list(CHROMIUM_ARGS), headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(name="browser_page")
def fixture_browser_page(
    chromium: Browser, request: pytest.FixtureRequest
) -> Iterator[BrowserPage]:
    """A page in a fresh browser context (no cookies, no cache) whose requests are recorded."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = BrowserPage(
        page=context.new_page(),
        test_name=request.node.name,
        screenshots=request.config.stash.setdefault(SCREENSHOTS, []),
    )
    page.attach(context)
    try:
        yield page
    finally:
        context.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """List the screenshots the browser tests saved, to look at after the run."""
    saved = terminalreporter.config.stash.get(SCREENSHOTS, [])
    if saved:
        terminalreporter.section("browser screenshots")
        for path in saved:
            terminalreporter.write_line(str(path.relative_to(REPO)))
