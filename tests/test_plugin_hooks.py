"""One test per hook (``test_hook_<name>``), and the meta-tests that keep it so.

Throwaway plugins are classes defined here, registered with
``create_app(plugins=[...])`` or ``load_folder(..., plugins=[...])``. The
meta-tests fail when a hook in ``cms/hookspecs.py`` has no ``test_hook_<name>``
test anywhere under ``tests/`` or no entry in ``docs/plugins.md``.
"""

from __future__ import annotations

import ast
import inspect
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from litestar import Controller, Request, Router, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.testing import TestClient
from markdown_it import MarkdownIt
from sqlmodel.ext.asyncio.session import AsyncSession

import plugins.blog_series
import plugins.case_stories
from cms import hookspecs
from cms.app import create_app
from cms.contenttypes import ContentType, RegistrationError, ResponseField, TypeRegistry
from cms.editorial.content_files import ContentError
from cms.editorial.extras import set_extra
from cms.editorial.lifecycle import SavedEntry, SaveRefused, check_publish
from cms.editorial.validation import parse_entry
from cms.errors import FieldError
from cms.hookspecs import hookimpl
from cms.jsonld import LdEntry, Node
from cms.plugin_manager import PluginError, load_plugins
from cms.schemas import Base
from cms.settings import Settings
from tests.conftest import (
    CONTENT,
    QUIET,
    REPO,
    Editing,
    counting,
    create_article,
    load_folder,
    read_entry_as,
    step,
)

DOCS = REPO / "docs" / "plugins.md"
TESTS = Path(__file__).parent
HOOKS = sorted(
    name
    for name, fn in vars(hookspecs).items()
    if inspect.isfunction(fn) and hasattr(fn, "cms_spec")
)


def _client(url: str, *plugins: object) -> TestClient[Any]:
    return TestClient(create_app(Settings(database_url=url), plugins=list(plugins)))


def _core_files(folder: Path) -> list[Path]:
    """The content files of the core types (plugin types' folders are skipped without them)."""
    plurals = ("clinics", "practitioners", "conditions", "articles")
    return [p for plural in plurals for p in (folder / plural).glob("*.md")]


def _set_front_matter(path: Path, key: str, value: str) -> None:
    """Replace (or add) one top-level front-matter line of a content file."""
    lines = path.read_text(encoding="utf-8").split("\n")
    closing = lines.index("---", 1)
    for i in range(1, closing):
        if lines[i].startswith(f"{key}:"):
            lines[i] = f"{key}: {value}"
            break
    else:
        lines.insert(closing, f"{key}: {value}")
    path.write_text("\n".join(lines), encoding="utf-8")


# --- Start-up ---------------------------------------------------------------


class NoteFields(Base):
    """A throwaway type's own fields."""

    mood: str = "calm"


def _note_json_ld(entry: LdEntry) -> list[Node]:
    return [{"@type": "Comment", "@id": entry.node_id, "text": entry.me.title,
             "mood": entry.data["mood"]}]  # fmt: skip


class NotesPlugin:
    """Registers a type with a JSON-LD mapping and a feed opt-in."""

    name = "notes"

    @hookimpl
    def register_content_types(self) -> Sequence[ContentType]:
        return [
            ContentType(
                name="note", plural="notes", fields=NoteFields, label="Note",
                description="Short notes.", json_ld=_note_json_ld, in_feeds=True,
            )
        ]  # fmt: skip


def test_hook_register_content_types(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "hello.md").write_text(
        "---\ntitle: Hello\nstatus: published\nmood: sunny\n---\n\nHi.\n"
    )
    load_folder(database_url, tmp_path, plugins=[NotesPlugin()])
    loaded = load_plugins(plugins=[NotesPlugin()])
    assert loaded.types["note"].plugin == "notes"
    assert loaded.types["note"].in_feeds
    with _client(database_url, NotesPlugin()) as client:
        note = client.get("/api/v1/notes/hello").json()
        assert note["mood"] == "sunny"
        # The JSON-LD mapping ran on save; the core wraps its nodes with the context.
        assert note["json_ld"] == {
            "@context": "https://schema.org",
            "@graph": [{"@type": "Comment", "@id": f"urn:uuid:{note['id']}#note",
                        "text": "Hello", "mood": "sunny"}],
        }  # fmt: skip
        # Structured data is for a page, not a list: items leave it out.
        assert "json_ld" not in client.get("/api/v1/notes").json()["data"][0]
    with _client(database_url) as client:
        assert client.get("/api/v1/notes/hello").status_code == 404


class TitleWordsPlugin:
    """Adds ``title_words`` to articles, computed when an article is saved."""

    name = "title-words"

    @hookimpl
    def register_response_fields(self, types: TypeRegistry) -> Sequence[ResponseField]:
        return [
            ResponseField(
                name="title_words",
                types=tuple(t for t in ("article", "recipe") if types.enabled(t)),
                schema=int | None,
                description="Words in the title.",
            )
        ]

    @hookimpl
    async def on_entries_saved(self, session: AsyncSession, saved: Sequence[SavedEntry]) -> None:
        for entry in saved:
            if entry.type == "article":
                await set_extra(session, entry.id, "title_words", len(entry.title.split()))


@pytest.fixture(name="title_words")
def fixture_title_words(database_url: str) -> Iterator[TestClient[Any]]:
    load_folder(database_url, CONTENT, plugins=[TitleWordsPlugin()])
    # No background task: its polls would be counted with the reads.
    app = create_app(Settings(database_url=database_url, **QUIET), plugins=[TitleWordsPlugin()])
    with TestClient(app) as client:
        yield client


def _count_queries(client: TestClient[Any], url: str) -> int:
    with counting(client.app) as statements:
        assert client.get(url).status_code == 200
    return len(statements)


def test_hook_register_response_fields(title_words: TestClient[Any]) -> None:
    items = title_words.get("/api/v1/articles?limit=100").json()["data"]
    assert items
    for item in items:
        assert item["title_words"] == len(item["title"].split())
    detail = title_words.get(f"/api/v1/articles/{items[0]['slug']}").json()
    assert detail["title_words"] == len(detail["title"].split())
    # Only the types it was registered for carry it.
    assert "title_words" not in title_words.get("/api/v1/clinics/calgary").json()
    schema = title_words.get("/schema/openapi.json").json()["components"]["schemas"]
    assert schema["Article"]["properties"]["title_words"]["description"] == "Words in the title."
    assert "title_words" in schema["ArticleListItem"]["properties"]
    # Stored values are fetched for the whole page at once: a page of nine
    # costs what a page of two does.
    small = _count_queries(title_words, "/api/v1/articles?limit=2")
    large = _count_queries(title_words, "/api/v1/articles?limit=9")
    assert small == large <= 4  # documents, relations, stored fields; purge number on PostgreSQL


def test_a_response_field_a_draft_changes_reaches_public_readers_at_once(
    editing: Editing,
) -> None:
    """A plugin may store a value on any save, a draft's included (this one counts the
    working title's words): when a stored value changes, the cached public answers
    go, though nothing was published."""
    path = "/api/v1/articles/causes-of-low-back-pain-and-sciatica"
    app = create_app(editing.settings(**QUIET), plugins=[TitleWordsPlugin()])
    with TestClient(app) as client:
        assert client.get(path).json()["title_words"] is None  # none stored yet: now cached
        auth = editing.auth("editor")
        etag = client.get(path, headers=auth).headers["etag"]
        saved = client.patch(path, json={"summary": "A draft."}, headers={**auth, "If-Match": etag})
        assert saved.status_code == 200, saved.text
        words = len(saved.json()["title"].split())
        assert client.get(path).json()["title_words"] == words


def test_response_fields_clash_loudly() -> None:
    class Again(TitleWordsPlugin):
        name = "again"

    with pytest.raises(RegistrationError, match="by plugin 'title-words' and by plugin 'again'"):
        load_plugins(plugins=[TitleWordsPlugin(), Again()])

    class Shadow:
        name = "shadow"

        @hookimpl
        def register_response_fields(self) -> Sequence[ResponseField]:
            return [ResponseField(name="author", types=("article",), schema=str, description="x")]

    with pytest.raises(RegistrationError, match=r"'shadow'.*'author' is already a field"):
        load_plugins(plugins=[Shadow()])

    class Nowhere:
        name = "nowhere"

        @hookimpl
        def register_response_fields(self) -> Sequence[ResponseField]:
            return [ResponseField(name="x", types=("recipe",), schema=str, description="x")]

    with pytest.raises(RegistrationError, match=r"'nowhere'.*unknown type 'recipe'"):
        load_plugins(plugins=[Nowhere()])


class HelloController(Controller):
    """A controller, to show they are accepted too."""

    path = "/api/v1/hello"

    @get("/", sync_to_thread=False)
    def hello(self) -> dict[str, str]:
        return {"hello": "world"}


class RoutesPlugin:
    """Registers a handler, a controller and a router."""

    name = "routes"

    @hookimpl
    def register_routes(self) -> Sequence[Any]:
        @get("/api/v1/ping", sync_to_thread=False)
        def ping() -> dict[str, str]:
            return {"ping": "pong"}

        @get("/items/{item_id:int}", sync_to_thread=False)
        def item(item_id: FromPath[int]) -> dict[str, int]:
            return {"item": item_id}

        return [ping, HelloController, Router(path="/api/v1/things", route_handlers=[item])]


def test_hook_register_routes(database_url: str) -> None:
    with _client(database_url, RoutesPlugin()) as client:
        assert client.get("/api/v1/ping").json() == {"ping": "pong"}
        assert client.get("/api/v1/hello").json() == {"hello": "world"}
        assert client.get("/api/v1/things/items/7").json() == {"item": 7}
        listed = {p["name"]: p for p in client.get("/api/v1/plugins").json()["data"]}
        assert listed["routes"]["routes"] == [
            "GET /api/v1/ping", "GET /api/v1/hello", "GET /api/v1/things/items/{item_id}",
        ]  # fmt: skip


def test_a_route_served_twice_fails_start_up_naming_both_plugins(database_url: str) -> None:
    class Echo:
        name = "echo"

        @hookimpl
        def register_routes(self) -> Sequence[Any]:
            # Another parameter name, same route.
            @get("/api/v1/things/items/{n:int}", sync_to_thread=False)
            def other(n: FromPath[int]) -> int:
                return n

            return [other]

    with pytest.raises(RegistrationError, match=r"/api/v1/things/items/\{n\}.*'routes'.*'echo'"):
        create_app(Settings(database_url=database_url), plugins=[RoutesPlugin(), Echo()])

    class Squatter:
        name = "squatter"

        @hookimpl
        def register_routes(self) -> Sequence[Any]:
            @get("/api/v1/articles", sync_to_thread=False)
            def mine() -> list[str]:
                return []

            return [mine]

    with pytest.raises(RegistrationError, match=r"GET /api/v1/articles.*'cms\.types'.*'squatter'"):
        create_app(Settings(database_url=database_url), plugins=[Squatter()])


class HighlightPlugin:
    """Turns ``==text==`` into ``<mark>``, and tries to sneak in a script."""

    name = "highlight"

    @hookimpl
    def register_markdown_extensions(self) -> Sequence[Callable[[MarkdownIt], None]]:
        def highlight(md: MarkdownIt) -> None:
            def render_text(_self: Any, tokens: Any, idx: int, _options: Any, _env: Any) -> str:
                content = md.utils.escapeHtml(tokens[idx].content)  # type: ignore[attr-defined]
                content = re.sub(r"==(.+?)==", r"<strong>\1</strong>", content)
                return content.replace("!!", "<script>alert(1)</script>")

            md.add_render_rule("text", render_text)

        return [highlight]


def test_hook_register_markdown_extensions(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "clinics").mkdir()
    (tmp_path / "clinics" / "banff.md").write_text(
        "---\ntitle: Banff\nstatus: published\n---\n\nOpen ==every day==!!\n"
    )
    load_folder(database_url, tmp_path, plugins=[HighlightPlugin()])
    with _client(database_url, HighlightPlugin()) as client:
        html = client.get("/api/v1/clinics/banff").json()["body_html"]
    # The extension ran at write time, and its output was still sanitised.
    assert "<strong>every day</strong>" in html
    assert "<script>" not in html


# --- Writing ------------------------------------------------------------------


class NoTodoPlugin:
    """Refuses to publish a body that still says TODO (a plain function hook)."""

    name = "no-todo"

    @hookimpl
    def on_before_publish(self, entry: Any) -> Sequence[FieldError]:
        if "TODO" in entry.common.body:
            return [FieldError("body", "still says TODO")]
        return []


class NoShoutingPlugin:
    """Refuses to publish a title in capitals (an async hook with a session)."""

    name = "no-shouting"

    @hookimpl
    async def on_before_publish(self, session: AsyncSession, entry: Any) -> list[FieldError]:
        assert isinstance(session, AsyncSession)
        if entry.common.title.isupper():
            return [FieldError("title", "is in capitals")]
        return []


def test_hook_on_before_publish(database_url: str, content_copy: Path) -> None:
    plugins = [NoTodoPlugin(), NoShoutingPlugin()]
    article = content_copy / "articles" / "opioids-and-back-pain.md"
    article.write_text(article.read_text().replace("\n\n", "\n\nTODO: sources.\n\n", 1))
    _set_front_matter(article, "title", "OPIOIDS AND BACK PAIN")
    with pytest.raises(ContentError) as refused:
        load_folder(database_url, content_copy, plugins=plugins)
    # Every reason from every plugin, each naming the file and field.
    assert sorted(refused.value.problems) == [
        f"{article}: body: publishing refused: still says TODO",
        f"{article}: title: publishing refused: is in capitals",
    ]
    with _client(database_url, *plugins) as client:
        assert client.get("/api/v1/articles").json()["data"] == []  # nothing was written
    # A draft is not being published: the same text saves (forced: published
    # entries link to it).
    _set_front_matter(article, "status", "draft")
    load_folder(database_url, content_copy, plugins=plugins, force=True)


class PublishCheckRoute:
    """A plugin route that runs the publish checks, as the editors' API will."""

    name = "check-route"

    @hookimpl
    def register_routes(self) -> Sequence[Any]:
        @get("/api/v1/publish-check/{title:str}")
        async def check(
            request: Request[Any, Any, Any],
            session: NamedDependency[AsyncSession],
            title: FromPath[str],
        ) -> dict[str, bool]:
            types = request.app.state.services.plugins.types
            inp = parse_entry(
                types["article"], "draft", {"title": title, "body": "TODO", "status": "published"}
            )
            await check_publish(request.app.state.services.plugins.manager, session, inp)
            return {"ok": True}

        return [check]


def test_a_refused_publish_is_a_422_problem_listing_every_reason(database_url: str) -> None:
    plugins = [NoTodoPlugin(), NoShoutingPlugin(), PublishCheckRoute()]
    with _client(database_url, *plugins) as client:
        response = client.get("/api/v1/publish-check/WHY")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "urn:clinic-cms:problem:publish-refused"
    assert problem["title"] == "Publishing refused"
    assert [(e["name"], e["reason"], e["location"]) for e in problem["errors"]] == [
        ("body", "still says TODO", "body"),
        ("title", "is in capitals", "body"),
    ]


class RecorderPlugin:
    """Records what it is told."""

    name = "recorder"

    def __init__(self) -> None:
        self.saved: list[list[SavedEntry]] = []
        self.published: list[str] = []

    @hookimpl
    def on_entries_saved(self, saved: Sequence[SavedEntry]) -> None:
        self.saved.append(list(saved))

    @hookimpl
    async def on_after_publish(self, session: AsyncSession, entry: SavedEntry) -> None:
        assert session.in_transaction()
        self.published.append(f"{entry.type}/{entry.slug}")


def test_hook_on_entries_saved(database_url: str, content_copy: Path) -> None:
    recorder = RecorderPlugin()
    load_folder(database_url, content_copy, plugins=[recorder])
    total = len(_core_files(content_copy))
    assert len(recorder.saved) == 1  # one call per load, with every changed entry
    assert len(recorder.saved[0]) == total
    assert all(s.previous_status is None for s in recorder.saved[0])

    load_folder(database_url, content_copy, plugins=[recorder])
    assert recorder.saved[1:] == []  # nothing changed: not called

    _set_front_matter(content_copy / "conditions" / "sciatica.md", "status", "draft")
    # Forced: published articles link to it.
    load_folder(database_url, content_copy, plugins=[recorder], force=True)
    [change] = recorder.saved[1]
    assert (change.type, change.slug, change.previous_status, change.status) == (
        "condition", "sciatica", "published", "draft",
    )  # fmt: skip
    assert change.became_unpublished
    assert not change.became_published


def test_a_plugin_can_refuse_a_save_after_it(database_url: str, content_copy: Path) -> None:
    class Gatekeeper:
        name = "gatekeeper"

        @hookimpl
        def on_entries_saved(self, saved: Sequence[SavedEntry]) -> None:
            for entry in saved:
                if entry.slug == "calgary":
                    raise SaveRefused(entry.type, entry.slug, [FieldError("title", "not today")])

    with pytest.raises(ContentError) as refused:
        load_folder(database_url, content_copy, plugins=[Gatekeeper()])
    assert refused.value.problems == [f"{content_copy}/clinics/calgary.md: title: not today"]
    with _client(database_url) as client:
        assert client.get("/api/v1/clinics").json()["data"] == []


def test_hook_on_after_publish(database_url: str, content_copy: Path) -> None:
    recorder = RecorderPlugin()
    load_folder(database_url, content_copy, plugins=[recorder])
    published = {f"{p.parent.name[:-1]}/{p.stem}" for p in _core_files(content_copy)}
    assert set(recorder.published) == published
    recorder.published.clear()

    path = content_copy / "conditions" / "sciatica.md"
    path.write_text(path.read_text().replace("title: Sciatica", "title: Sciatica (nerve pain)"))
    load_folder(database_url, content_copy, plugins=[recorder])
    assert recorder.published == []  # edited, but it was published already

    _set_front_matter(path, "status", "draft")
    load_folder(database_url, content_copy, plugins=[recorder], force=True)  # linked to
    _set_front_matter(path, "status", "published")
    load_folder(database_url, content_copy, plugins=[recorder])
    assert recorder.published == ["condition/sciatica"]


def test_a_failing_write_hook_names_its_plugin(database_url: str, tmp_path: Path) -> None:
    class Exploding:
        name = "exploding"

        @hookimpl
        def on_after_publish(self) -> None:
            raise RuntimeError("boom")

    shutil.copytree(CONTENT / "clinics", tmp_path / "clinics")
    with pytest.raises(PluginError, match="'exploding' failed in hook on_after_publish: boom"):
        # Forced: the clinics' bodies link to conditions this folder lacks.
        load_folder(database_url, tmp_path, plugins=[Exploding()], force=True)
    with _client(database_url) as client:
        assert client.get("/api/v1/clinics").json()["data"] == []


# --- Command line -------------------------------------------------------------


def test_hook_register_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    class Hello:
        name = "hello"

        @hookimpl
        def register_commands(self, cli: click.Group) -> None:
            @cli.command()
            def hello() -> None:
                click.echo("hello from a plugin")

    from cms import cli as cli_module

    group = cli_module.CmsGroup(name="cms", commands=dict(cli_module.main.commands))
    monkeypatch.setattr(
        "cms.plugin_manager.load_plugins", lambda *_a, **_k: load_plugins(plugins=[Hello()])
    )
    result = CliRunner().invoke(group, ["hello"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello from a plugin\n"


# --- Meta-tests -----------------------------------------------------------------


def _test_names() -> set[str]:
    names = set()
    for path in TESTS.rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
    return names


def hooks_without_tests(hooks: Sequence[str], tests: set[str]) -> list[str]:
    """Hooks no ``test_hook_<name>`` test is named after."""
    return [h for h in hooks if not any(t.startswith(f"test_hook_{h}") for t in tests)]


def _documented() -> dict[str, list[str]]:
    """Each ``### `hook(arg, ...)` `` heading of docs/plugins.md: name to arguments."""
    found = {}
    for match in re.finditer(r"^### `(\w+)\(([^)]*)\)`", DOCS.read_text(encoding="utf-8"), re.M):
        found[match.group(1)] = [a.strip() for a in match.group(2).split(",") if a.strip()]
    return found


def test_hooks_are_found() -> None:
    assert len(HOOKS) >= 8
    assert "on_before_publish" in HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook: str) -> None:
    assert hooks_without_tests([hook], _test_names()) == [], f"write test_hook_{hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_arguments(hook: str) -> None:
    documented = _documented()
    assert hook in documented, f"docs/plugins.md has no heading for {hook}"
    spec = list(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert documented[hook] == spec


def test_every_hook_has_a_docstring_saying_what_it_returns() -> None:
    for hook in HOOKS:
        doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
        assert re.search(r"\b(Return|Returns)\b", doc), hook


def test_the_meta_checks_catch_a_missing_hook() -> None:
    assert hooks_without_tests(["on_nothing"], _test_names()) == ["on_nothing"]
    assert "on_nothing" not in _documented()


def test_api_edits_and_republishing_are_no_publication_events(editing: Editing) -> None:
    # The core and first-party plugins too: the demo has their entries.
    recorder = RecorderPlugin()
    first_party = [plugins.blog_series, plugins.case_stories, recorder]
    path = "/api/v1/articles/opioids-and-back-pain"

    def events() -> list[tuple[str, str, bool, bool]]:
        return [(s.slug, s.status, s.became_published, s.became_unpublished)
                for batch in recorder.saved for s in batch]  # fmt: skip

    with TestClient(create_app(editing.settings(), plugins=first_party)) as client:
        _doc, etag = read_entry_as(client, editing, path)
        # An edit of a live entry: its published version stays up.
        patched = client.patch(
            path, json={"summary": "Edited"}, headers={**editing.auth("editor"), "If-Match": etag}
        )
        assert patched.status_code == 200, patched.text
        assert events() == [("opioids-and-back-pain", "draft", False, False)]
        # Publishing the edit replaces what is live: no new publication.
        step(client, editing, "opioids-and-back-pain", "publish", patched.headers["etag"])
        assert events()[-1] == ("opioids-and-back-pain", "published", False, False)
        assert recorder.published == []
        # A first publication is one, once; an unpublication is one too.
        draft, draft_etag = create_article(client, editing, "Brand new")
        _doc, draft_etag = step(client, editing, draft["slug"], "publish", draft_etag)
        assert recorder.published == [f"article/{draft['slug']}"]
        _doc, etag = read_entry_as(client, editing, path)
        # Forced: other published entries link to it, and that is not this test's point.
        step(client, editing, "opioids-and-back-pain", "unpublish", etag, force=True)
        assert events()[-1] == ("opioids-and-back-pain", "draft", False, True)
        assert recorder.published == [f"article/{draft['slug']}"]
