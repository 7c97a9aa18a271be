"""Markdown rendering: fixture files of input and expected HTML, XSS cases among them."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from cms.app import create_app
from cms.markdown import Renderer
from cms.settings import Settings
from tests.conftest import load_folder

CASES = sorted((Path(__file__).parent / "markdown").glob("*.md"))
SAFE_TAGS = {"a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
             "hr", "img", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th",
             "thead", "tr", "ul"}  # fmt: skip
SAFE_URL = ("http://", "https://", "mailto:", "tel:", "cms:", "/", "#")


class _SafetyCheck(HTMLParser):
    """Fails on any tag, attribute or URL that could run script."""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in SAFE_TAGS, tag
        for name, value in attrs:
            assert not name.startswith("on"), name
            if name in {"href", "src"}:
                assert (value or "").startswith(SAFE_URL), value


def assert_safe(html: str) -> None:
    """Parse ``html`` as a browser would and check every element."""
    _SafetyCheck().feed(html)


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_rendering_matches_fixture(case: Path) -> None:
    rendered = Renderer().render(case.read_text(encoding="utf-8"))
    assert rendered.html == case.with_suffix(".html").read_text(encoding="utf-8")
    assert_safe(rendered.html)


def test_toc_lists_headings_from_level_two_with_unique_anchors() -> None:
    source = (Path(__file__).parent / "markdown" / "headings-and-toc.md").read_text()
    toc = Renderer().render(source).toc
    assert [(t.level, t.text, t.anchor) for t in toc] == [
        (2, "Why it hurts", "why-it-hurts"),
        (3, "Muscles and sinews", "muscles-and-sinews"),
        (2, "Why it hurts", "why-it-hurts-1"),
        (4, "Deep detail", "deep-detail"),
    ]


@pytest.mark.parametrize(("words", "minutes"), [(0, 0), (1, 1), (200, 1), (201, 2), (1000, 5)])
def test_reading_time_is_words_over_200_rounded_up(words: int, minutes: int) -> None:
    assert Renderer().render(" ".join(["word"] * words)).reading_time_minutes == minutes


def test_extensions_output_is_still_sanitised() -> None:
    def evil(md: Any) -> None:
        def render_em(*_args: Any) -> str:
            return '<em onclick="steal()"><script>alert(1)</script>'

        md.add_render_rule("em_open", render_em)

    html = Renderer([evil]).render("*hi*").html
    assert_safe(html)
    assert "<em>hi</em>" in html


def test_rendered_fields_are_stored_at_write_time_and_served(
    database_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "content" / "clinics"
    folder.mkdir(parents=True)
    (folder / "red-deer.md").write_text(
        "---\ntitle: Red Deer\nstatus: published\n---\n\n## Hours <script>x</script>\n\n"
        + "word " * 450
        + "\n\n[bad](javascript:alert(1))\n",
        encoding="utf-8",
    )
    load_folder(database_url, tmp_path / "content")
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        clinic = client.get("/api/v1/clinics/red-deer").json()
    assert clinic["toc"] == [
        {"level": 2, "text": "Hours <script>x</script>", "anchor": "hours-scriptxscript"}
    ]
    assert (
        '<h2 id="hours-scriptxscript">Hours &lt;script&gt;x&lt;/script&gt;</h2>'
        in (clinic["body_html"])
    )
    assert_safe(clinic["body_html"])
    assert "<p>[bad](javascript:alert(1))</p>" in clinic["body_html"]
    assert clinic["reading_time_minutes"] == 3


@pytest.mark.parametrize(
    "html",
    ['<a href="javascript:alert(1)">x</a>', "<script>x</script>", '<p onclick="x">y</p>',
     '<img src="data:image/png;base64,AA">'],
)  # fmt: skip
def test_the_safety_check_itself_rejects_unsafe_html(html: str) -> None:
    with pytest.raises(AssertionError):
        assert_safe(html)
