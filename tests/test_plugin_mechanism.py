"""The plugin mechanism: core types through hooks, plugin types, routes and Markdown.

Throwaway plugins are classes defined inside the tests, registered with
``create_app(plugins=[...])``.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import msgspec
import pytest
from click.testing import CliRunner
from litestar import get
from litestar.testing import TestClient
from markdown_it import MarkdownIt

from cms.app import build_services, create_app
from cms.cli import main
from cms.contenttypes import ContentType, ListFilter, RegistrationError, Relation
from cms.editorial.content_files import ContentError, dump_content
from cms.hookspecs import hookimpl
from cms.plugin_manager import PluginError, load_plugins
from cms.schemas import Base, EntryKey, Slug
from cms.settings import Settings
from tests.conftest import CONTENT, load_folder


class RecipeFields(Base):
    """A throwaway type's own fields."""

    servings: int = 1
    condition: Slug | None = None


RECIPE = ContentType(
    name="recipe",
    plural="recipes",
    fields=RecipeFields,
    label="Recipe",
    description="Food that helps.",
    relations={"condition": Relation(target="condition")},
    default_sort="title",
)


class RecipePlugin:
    """Registers a content type, a route and a Markdown extension."""

    name = "recipes"
    version = "1.2.3"

    @hookimpl
    def register_content_types(self) -> Sequence[ContentType]:
        return [RECIPE]

    @hookimpl
    def register_routes(self) -> Sequence[Any]:
        @get("/api/v1/recipes-of-the-day", sync_to_thread=False)
        def of_the_day() -> dict[str, str]:
            return {"recipe": "congee"}

        return [of_the_day]

    @hookimpl
    def register_markdown_extensions(self) -> Sequence[Callable[[MarkdownIt], None]]:
        def shout(md: MarkdownIt) -> None:
            md.core.ruler.push("shout", _shout)

        return [shout]


def _shout(state: Any) -> None:
    for token in state.tokens:
        for child in token.children or ():
            if child.type == "text":
                child.content = child.content.upper()


def test_core_types_are_registered_through_the_hook() -> None:
    loaded = load_plugins(plugins=[])
    assert [(t.name, t.plugin) for t in loaded.types] == [
        ("clinic", "cms.types"),
        ("practitioner", "cms.types"),
        ("condition", "cms.types"),
        ("article", "cms.types"),
    ]


def test_a_plugin_type_is_served_like_a_core_type(database_url: str, tmp_path: Path) -> None:
    content = tmp_path / "content"
    (content / "recipes").mkdir(parents=True)
    (content / "conditions").mkdir()
    (content / "conditions" / "sciatica.md").write_text(
        "---\ntitle: Sciatica\nstatus: published\n---\n"
    )
    (content / "recipes" / "ginger-tea.md").write_text(
        "---\ntitle: Ginger tea\nstatus: published\nservings: 2\ncondition: sciatica\n---\n\n"
        "Warm *water* and ginger.\n"
    )
    settings = Settings(database_url=database_url)
    from cms.app import build_services
    from cms.editorial.content_files import load_content

    services = build_services(settings, plugins=[RecipePlugin()])

    async def load() -> None:
        try:
            await load_content(services.sessions, services.plugins, services.renderer, content)
        finally:
            await services.engine.dispose()

    import asyncio

    asyncio.run(load())
    with TestClient(create_app(settings, plugins=[RecipePlugin()])) as client:
        recipe = client.get("/api/v1/recipes/ginger-tea").json()
        assert recipe["servings"] == 2
        assert recipe["condition"] == {"slug": "sciatica", "title": "Sciatica"}
        # The plugin's Markdown extension ran at write time.
        assert "<em>WATER</em>" in recipe["body_html"]
        listed = client.get("/api/v1/recipes?condition=sciatica").json()["data"]
        assert [r["slug"] for r in listed] == ["ginger-tea"]
        assert client.get("/api/v1/recipes-of-the-day").json() == {"recipe": "congee"}
        schema = client.get("/schema/openapi.json").json()
        assert "/api/v1/recipes/{slug}" in schema["paths"]
        assert schema["paths"]["/api/v1/recipes"]["get"]["operationId"] == "listRecipes"
    # Without the plugin, the type and its routes are gone and the app still starts.
    load_folder(database_url, CONTENT)
    with TestClient(create_app(settings, plugins=[])) as client:
        assert client.get("/api/v1/recipes").status_code == 404
        assert client.get("/api/v1/recipes-of-the-day").status_code == 404
        assert client.get("/api/v1/conditions/sciatica").status_code == 200


def test_two_plugins_registering_one_type_fail_naming_both() -> None:
    class Copycat:
        name = "copycat"

        @hookimpl
        def register_content_types(self) -> Sequence[ContentType]:
            return [RECIPE]

    with pytest.raises(RegistrationError, match="by plugin 'recipes' and by plugin 'copycat'"):
        load_plugins(plugins=[RecipePlugin(), Copycat()])


def test_a_plugin_cannot_take_a_core_type_name() -> None:
    class Squatter:
        name = "squatter"

        @hookimpl
        def register_content_types(self) -> Sequence[ContentType]:
            return [ContentType(name="article", plural="posts", fields=RecipeFields,
                                label="Post", description="x")]  # fmt: skip

    with pytest.raises(RegistrationError, match=r"by plugin 'cms\.types' and by plugin 'squatter'"):
        load_plugins(plugins=[Squatter()])


def test_a_failing_hook_names_its_plugin() -> None:
    class Broken:
        name = "broken"

        @hookimpl
        def register_content_types(self) -> Sequence[ContentType]:
            raise RuntimeError("boom")

    with pytest.raises(PluginError, match=r"'broken' failed in hook register_content_types: boom"):
        load_plugins(plugins=[Broken()])


def test_a_misspelt_hook_argument_fails_at_start_up() -> None:
    class Typo:
        name = "typo"

        @hookimpl
        def register_commands(self, cli_group: click.Group) -> None:  # spec says `cli`
            raise AssertionError("never called")

    with pytest.raises(Exception, match="cli_group"):
        load_plugins(plugins=[Typo()])


def test_relations_to_unknown_types_fail_naming_the_plugin() -> None:
    class Dangling:
        name = "dangling"

        @hookimpl
        def register_content_types(self) -> Sequence[ContentType]:
            return [ContentType(name="note", plural="notes", fields=RecipeFields,
                                label="Note", description="x",
                                relations={"condition": Relation(target="disease")})]  # fmt: skip

    with pytest.raises(RegistrationError, match=r"'dangling'.*'disease'"):
        load_plugins(plugins=[Dangling()])


def test_unknown_plugins_in_cms_plugins_fail_clearly() -> None:
    with pytest.raises(PluginError, match="not installed: nope"):
        load_plugins(enabled=["nope"])


class ShelfFields(Base):
    """A throwaway type whose relation may name articles or conditions."""

    items: list[EntryKey] = msgspec.field(default_factory=list)


class ShelfPlugin:
    """A type with a relation to several types, one of them never registered."""

    name = "shelves"

    @hookimpl
    def register_content_types(self) -> Sequence[ContentType]:
        return [
            ContentType(
                name="shelf", plural="shelves", fields=ShelfFields, label="Shelf",
                description="Reading.", default_sort="title",
                relations={"items": Relation(target="article", many=True,
                                             optional_targets=("condition", "recipe"))},
            )
        ]  # fmt: skip


def test_a_relation_may_name_several_types(database_url: str, tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    (content / "shelves").mkdir()
    text = (
        "---\ntitle: Start here\nstatus: published\npublished_at: '2026-05-01T12:00:00Z'\nitems:\n"
        "- condition/sciatica\n- article/opioids-and-back-pain\n---\n"
    )
    (content / "shelves" / "start-here.md").write_text(text)
    load_folder(database_url, content, plugins=[ShelfPlugin()])
    with TestClient(create_app(Settings(database_url=database_url), [ShelfPlugin()])) as client:
        shelf = client.get("/api/v1/shelves/start-here").json()
        schema = client.get("/schema/openapi.json").json()["components"]["schemas"]
    assert shelf["items"] == [
        {"type": "condition", "slug": "sciatica", "title": "Sciatica"},
        {"type": "article", "slug": "opioids-and-back-pain", "title": "Opioids and back pain"},
    ]
    assert schema["Shelf"]["properties"]["items"]["items"] == {
        "$ref": "#/components/schemas/TypedEntryRef"
    }
    # The file format keeps the type: load then dump gives the same file back.
    services = build_services(Settings(database_url=database_url), [ShelfPlugin()])

    async def dump() -> None:
        try:
            await dump_content(services.sessions, services.plugins.types, tmp_path / "out")
        finally:
            await services.engine.dispose()

    asyncio.run(dump())
    assert (tmp_path / "out" / "shelves" / "start-here.md").read_text() == text


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("recipe/congee", "'recipe/congee': type 'recipe' is not enabled"),
        ("clinic/calgary", "'clinic/calgary': must name one of article, condition, recipe"),
        ("article/nothing-here", "no article with slug 'nothing-here'"),
        ("sciatica", "items[0]"),  # a bare slug: the type is missing
    ],
)
def test_bad_references_of_a_relation_to_several_types_are_named(
    database_url: str, tmp_path: Path, item: str, message: str
) -> None:
    shutil.copytree(CONTENT / "clinics", tmp_path / "clinics")
    (tmp_path / "shelves").mkdir()
    (tmp_path / "shelves" / "bad.md").write_text(f"---\ntitle: Bad\nitems: [{item}]\n---\n")
    with pytest.raises(ContentError, match=re.escape(message)) as failed:
        load_folder(database_url, tmp_path, plugins=[ShelfPlugin()])
    assert all("shelves/bad.md: items" in p for p in failed.value.problems)


def test_plugins_are_listed_over_http_and_by_the_cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins = [RecipePlugin()]
    with TestClient(create_app(Settings(database_url=database_url), plugins)) as client:
        response = client.get("/api/v1/plugins")
    assert response.status_code == 200
    assert response.headers["etag"]
    listed = {p["name"]: p for p in response.json()["data"]}
    assert list(listed) == ["cms.types", "recipes"]
    assert listed["recipes"] == {
        "name": "recipes",
        "version": "1.2.3",
        "source": "in-process",
        "hooks": ["register_content_types", "register_markdown_extensions", "register_routes"],
        "content_types": ["recipe"],
        "response_fields": [],
        "routes": [
            "GET /api/v1/recipes", "GET /api/v1/recipes/{slug}",
            # The editors' routes every type gets.
            "POST /api/v1/recipes", "PATCH /api/v1/recipes/{slug}",
            "DELETE /api/v1/recipes/{slug}",
            *(f"POST /api/v1/recipes/{{slug}}/{step}"
              for step in ("submit", "publish", "unpublish", "archive", "preview")),
            "GET /api/v1/recipes/{slug}/revisions",
            "GET /api/v1/recipes/{slug}/revisions/{version}",
            "POST /api/v1/recipes/{slug}/revisions/{version}/restore",
            "GET /api/v1/recipes-of-the-day",
        ],
        "markdown_extensions": ["shout"],
        "commands": [],
    }  # fmt: skip
    assert listed["cms.types"]["version"] is None
    assert listed["cms.types"]["content_types"] == [
        "clinic",
        "practitioner",
        "condition",
        "article",
    ]
    # The command line prints the same document, and a readable summary.
    from cms import app as app_module

    real = app_module.create_app
    monkeypatch.setattr(app_module, "create_app", lambda s: real(s, plugins))
    as_json = CliRunner().invoke(main, ["plugins", "list", "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output) == response.json()
    text = CliRunner().invoke(main, ["plugins", "list"]).output
    assert "recipes 1.2.3 [in-process]\n  hooks: register_content_types," in text


class PlainFields(Base):
    """Fields for declarations that must be refused."""

    servings: int = 1
    moods: list[str] = []
    condition: Slug | None = None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"filters": {"colour": ListFilter(field="colour", description="x")}},
         r"'shop'.*filter 'colour' names 'colour', not a field"),
        ({"filters": {"tag": ListFilter(field="moods", description="x")}},
         r"'shop'.*filter 'tag' must be a lowercase name that no list parameter already uses"),
        ({"filters": {"servings": ListFilter(field="servings", description="x")}},
         r"'shop'.*'servings' must hold a string or a list of strings"),
        ({"filters": {"fields_clinic": ListFilter(field="moods", description="x")}},
         r"'shop'.*filter 'fields_clinic' must be a lowercase name"),
        ({"search_fields": ("flavour",)}, r"'shop'.*search field 'flavour' is not a field"),
        ({"plural": "search"}, r"'shop'.*URL segment 'search' is served by the core API"),
    ],
)  # fmt: skip
def test_bad_read_declarations_fail_at_start_up_naming_the_plugin(
    changes: dict[str, Any], message: str
) -> None:
    declared = ContentType(name="dish", plural="dishes", fields=PlainFields, label="Dish",
                           description="x", relations={"condition": Relation(target="condition")},
                           default_sort="title")  # fmt: skip

    class Shop:
        name = "shop"

        @hookimpl
        def register_content_types(self) -> Sequence[ContentType]:
            return [replace(declared, **changes)]

    with pytest.raises(RegistrationError, match=message):
        load_plugins(plugins=[Shop()])


def test_good_read_declarations_are_accepted() -> None:
    class Shop:
        name = "shop"

        @hookimpl
        def register_content_types(self) -> Sequence[ContentType]:
            return [ContentType(
                name="dish", plural="dishes", fields=PlainFields, label="Dish", description="x",
                relations={"condition": Relation(target="condition")}, default_sort="title",
                filters={"mood": ListFilter(field="moods", description="Moods."),
                         "condition_of": ListFilter(field="condition", description="x")},
                search_fields=("moods",),
            )]  # fmt: skip

    dish = load_plugins(plugins=[Shop()]).types["dish"]
    assert dish.facet_fields() == ("moods",)
