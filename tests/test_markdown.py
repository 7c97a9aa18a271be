"""Markdown rendering: fixture files of input and expected HTML, XSS cases among them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from markdown_it import MarkdownIt
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.container import container_plugin

from cms.app import create_app
from cms.contenttypes import RegistrationError
from cms.hookspecs import hookimpl
from cms.markdown import MarkdownExtension, Renderer, RenderLimits, RenderRefused
from cms.settings import MAX_BODY_CHARS, Settings
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


def test_heading_ids_are_those_of_the_anchors_plugin() -> None:
    # Repeats, a literal "-1" heading taking a repeat's id, an explicit id and
    # levels outside 2-4: the ids must not change from what is stored.
    source = "".join(
        f"{'#' * level} {text}\n\n"
        for level, text in [(2, "Pain"), (2, "Pain"), (3, "Pain-1"), (2, "Pain"), (1, "Pain"),
                            (4, "Pain 2"), (2, "Pain-2"), (5, "Pain"), (2, "`code` and *em*"),
                            (2, "Pain"), (3, "Pain-4")]
    )  # fmt: skip
    plugin = MarkdownIt("commonmark").use(anchors_plugin, min_level=2, max_level=4)
    expected = [t.attrs.get("id") for t in plugin.parse(source) if t.type == "heading_open"]
    got = [t.attrs.get("id") for t in Renderer().md.parse(source) if t.type == "heading_open"]
    assert got == expected
    assert "pain-3" in got


# Bodies markdown-it-py finds costly, at the longest length allowed: unmatched
# brackets (each opens a link label scanned to the end), images, runs of
# emphasis and backticks, nested quotes, and identical headings (whose ids
# were quadratic: minutes at this length).
COSTLY = {
    "brackets": "[",
    "images": "![",
    "bracket-lines": "[\n",
    "emphasis": "*a ",
    "underscores": "**_",
    "backticks": "`a ",
    "quotes": "> > > > > > > > > > > > > > > > > > > > > > > > a\n",
    "headings": "## a\n",
    "empty-headings": "##\n",
}


def costly(pattern: str, length: int = MAX_BODY_CHARS) -> str:
    """``pattern`` repeated to exactly ``length`` characters."""
    return (pattern * (length // len(pattern) + 1))[:length]


@pytest.mark.parametrize("name", list(COSTLY))
def test_a_costly_body_renders_or_is_refused_within_its_budget(name: str) -> None:
    budget = 0.5
    started = time.thread_time()
    refused = ""
    try:
        Renderer().render(costly(COSTLY[name]), max_seconds=budget)
    except RenderRefused as exc:
        refused = str(exc)
    assert not refused or "takes more than 0.5 s to render" in refused
    # CPU time, not wall time. What runs after the last look at the clock
    # (inline post-processing, unwinding, sanitising, the plain text) is linear:
    # about 0.1 s here on a quiet machine, while a super-linear step at this
    # length takes minutes. The margin is wide because CPU time too grows on a
    # loaded machine (1.5 s in all was seen beside two other test runs).
    assert time.thread_time() - started < budget + 2.5


def test_render_limited_refuses_a_body_over_the_limit_unparsed() -> None:
    renderer = Renderer(limits=RenderLimits(max_chars=10))
    assert asyncio.run(renderer.render_limited("0123456789")).html == "<p>0123456789</p>\n"
    with pytest.raises(RenderRefused, match="is 11 characters long; at most 10 are allowed"):
        asyncio.run(renderer.render_limited("0123456789a"))


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


# --- A plugin's extension that declares the HTML it emits -----------------------

NOTE_CASES = sorted((Path(__file__).parent / "markdown" / "note").glob("*.md"))


def note_blocks(md: MarkdownIt) -> None:
    """``::: note`` blocks as ``<aside class="note">``.

    Deliberately naive, as a plugin may well be: whatever follows ``note`` on
    the opening line is written into the tag unescaped, so the sanitiser is
    all that stands between an author's text and the page.
    """

    def render(_self: Any, tokens: Any, idx: int, _options: Any, _env: Any) -> str:
        token = tokens[idx]
        if token.nesting != 1:
            return "</aside>\n"
        return f'<aside class="note"{token.info.strip()[len("note") :]}>\n'

    container_plugin(
        md, "note", validate=lambda params, *_: params.strip().startswith("note"), render=render
    )


NOTE = MarkdownExtension(
    note_blocks, tags={"aside"}, attributes={"aside": {"title"}}, classes={"aside": {"note"}}
)


class NotePlugin:
    """Adds ``::: note`` blocks, declaring the tag, attribute and class they emit."""

    name = "note"

    @hookimpl
    def register_markdown_extensions(self) -> Sequence[MarkdownExtension]:
        return [NOTE]


class _NoteSafetyCheck(_SafetyCheck):
    """The safety check, with the note's declared tag, attribute and class allowed."""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "aside":
            super().handle_starttag(tag, attrs)
            return
        assert dict(attrs).keys() <= {"class", "title"}, attrs
        assert dict(attrs)["class"] == "note", attrs


@pytest.mark.parametrize("case", NOTE_CASES, ids=[c.stem for c in NOTE_CASES])
def test_declared_html_survives_sanitising_and_nothing_else_does(case: Path) -> None:
    html = Renderer([NOTE]).render(case.read_text(encoding="utf-8")).html
    assert html == case.with_suffix(".html").read_text(encoding="utf-8")
    _NoteSafetyCheck().feed(html)
    assert html.count('<aside class="note"') == html.count("</aside>") > 0


@pytest.mark.parametrize("case", NOTE_CASES, ids=[c.stem for c in NOTE_CASES])
def test_an_extension_that_declares_nothing_keeps_the_core_allow_list(case: Path) -> None:
    html = Renderer([note_blocks]).render(case.read_text(encoding="utf-8")).html
    assert "<aside" not in html
    assert_safe(html)


def test_a_plugins_note_block_is_stored_and_served(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "clinics").mkdir()
    (tmp_path / "clinics" / "banff.md").write_text(
        "---\ntitle: Banff\nstatus: published\n---\n\n"
        '::: note title="Winter hours"\nWe close at *four*.\n:::\n'
    )
    load_folder(database_url, tmp_path, plugins=[NotePlugin()])
    with TestClient(create_app(Settings(database_url=database_url), plugins=[NotePlugin()])) as c:
        html = c.get("/api/v1/clinics/banff").json()["body_html"]
        listed = {p["name"]: p for p in c.get("/api/v1/plugins").json()["data"]}
    assert html == (
        '<aside class="note" title="Winter hours">\n<p>We close at <em>four</em>.</p>\n</aside>\n'
    )
    assert listed["note"]["markdown_extensions"] == ["note_blocks"]


@pytest.mark.parametrize(
    ("declared", "reason"),
    [
        ({"tags": {"script"}}, "tag 'script' can run script"),
        ({"tags": {"style"}}, "tag 'style' can run script"),
        ({"tags": {"iframe"}}, "tag 'iframe' can run script"),
        ({"tags": {"svg"}}, "tag 'svg' can run script"),
        ({"tags": {"aside"}, "attributes": {"aside": {"onclick"}}}, "'onclick' of 'aside'"),
        ({"attributes": {"p": {"style"}}}, "attribute 'style' of 'p' can run script"),
        ({"attributes": {"img": {"srcset"}}}, "attribute 'srcset' of 'img' can run script"),
        ({"attributes": {"p": {"class"}}}, "declare its class names instead"),
        ({"classes": {"aside": {"note"}}}, "classes for tag 'aside', which it does not declare"),
        ({"tags": "aside"}, "as sets of names, not as one string"),
    ],
)  # fmt: skip
def test_a_declared_script_vector_fails_start_up_naming_the_plugin(
    declared: dict[str, Any], reason: str
) -> None:
    class Sneaky:
        name = "sneaky"

        @hookimpl
        def register_markdown_extensions(self) -> Sequence[MarkdownExtension]:
            return [MarkdownExtension(note_blocks, **declared)]

    with pytest.raises(
        RegistrationError, match="plugin 'sneaky': Markdown extension note_blocks"
    ) as e:
        # It fails before any database is opened: an in-memory one is enough.
        create_app(Settings(database_url="sqlite+aiosqlite://"), plugins=[Sneaky()])
    assert reason in str(e.value)
    with pytest.raises(ValueError, match="script vectors are never allowed"):
        Renderer([MarkdownExtension(note_blocks, **declared)])


def test_a_declared_href_keeps_to_the_safe_schemes() -> None:
    linked = MarkdownExtension(
        note_blocks, tags={"aside"}, attributes={"aside": {"href"}}, classes={"aside": {"note"}}
    )
    renderer = Renderer([linked])
    for url in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "vbscript:x"):
        html = renderer.render(f'::: note href="{url}"\nx\n:::\n').html
        assert html == '<aside class="note">\n<p>x</p>\n</aside>\n', url
    html = renderer.render('::: note href="https://example.com/a"\nx\n:::\n').html
    assert '<aside class="note" href="https://example.com/a">' in html
