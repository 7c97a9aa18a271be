"""Headless Chromium for the browser tests: Debian's build, driven by Playwright.

Playwright drives the system's ``chromium`` through ``executable_path``; it
never downloads a browser. Every request a page makes is recorded, and any
that would leave the loopback interface is aborted, so a test can assert
where a page went without the page ever going there. Screenshots are kept in
``test-artifacts/`` at the top of the repository (git-ignored).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Locator, Page, Request, Route

from tests.conftest import REPO

ARTIFACTS = REPO / "test-artifacts"
"""Where screenshots go; the folder is git-ignored."""

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""How this project starts Chromium: no sandbox (tests run as root in CI), and no
traffic of the browser's own (updates, sync, field trials)."""

LOOPBACK = "127.0.0.1"
# What a page may load without a network: its own documents, and data: or blob: URLs.
_LOCAL_SCHEMES = {"data", "blob", "about"}


def unavailable(reason: str) -> NoReturn:
    """Skip the test, except under CI (``CI`` set), where a missing tool fails it.

    CI must never pass by skipping them: `.ci/run` installs Chromium, and CI has npm.
    """
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: these tests may not be skipped)")
    pytest.skip(reason)


def find_chromium() -> str:
    """The path of Debian's Chromium, or skip (fail under CI) when it is not installed."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        unavailable("Chromium is not installed (apt-get install chromium)")
    return path


def is_loopback(url: str) -> bool:
    """Whether ``url`` stays on this machine's loopback address (or needs no network)."""
    parts = urlsplit(url)
    return parts.scheme in _LOCAL_SCHEMES or parts.hostname == LOOPBACK


def artifact_name(text: str) -> str:
    """``text`` as a file name: letters, digits, dots and dashes."""
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")


@dataclass
class BrowserPage:
    """A Chromium page whose every request and console error is recorded."""

    page: Page
    test_name: str
    screenshots: list[Path]
    """Shared with the test session, which lists every screenshot at its end."""
    requests: list[str] = field(default_factory=list)
    """The URL of every request the page made (or tried to make), in order."""
    console_errors: list[str] = field(default_factory=list)
    """Console errors and uncaught exceptions of the page."""

    def attach(self, context: BrowserContext) -> None:
        """Record every request of ``context`` and abort those that leave loopback."""
        context.on("request", self._record)
        context.route("**/*", _loopback_only)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.console_errors.append(str(error)))

    def _record(self, request: Request) -> None:
        self.requests.append(request.url)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location.get('url')})")

    def off_loopback(self) -> list[str]:
        """The recorded requests that were not to 127.0.0.1."""
        return [url for url in self.requests if not is_loopback(url)]

    def screenshot(self, step: str, element: Locator | None = None) -> Path:
        """Save a screenshot as ``test-artifacts/<test>-<step>.png``; its path.

        Args:
            element: take only this element (scrolled into view), not the viewport.
        """
        ARTIFACTS.mkdir(exist_ok=True)
        name = artifact_name(self.test_name.removeprefix("test_"))
        path = ARTIFACTS / f"{name}-{artifact_name(step)}.png"
        (element or self.page).screenshot(path=str(path))
        self.screenshots.append(path)
        print(f"screenshot: {path.relative_to(REPO)}")
        return path


def _loopback_only(route: Route) -> None:
    if is_loopback(route.request.url):
        route.continue_()
    else:
        route.abort("blockedbyclient")
