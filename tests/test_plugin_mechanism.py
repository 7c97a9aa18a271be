"""The plugin mechanism: core types through hooks, plugin types, routes and Markdown.

Throwaway plugins are classes defined inside the tests, registered with
``create_app(plugins=[...])``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from litestar import get
from litestar.testing import TestClient
from markdown_it import MarkdownIt

from cms.app import create_app
from cms.contenttypes import ContentType, ListFilter, RegistrationError, Relation
from cms.hookspecs import hookimpl
from cms.plugins import PluginError, load_plugins
from cms.schemas import Base, Slug
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
    from cms.services.content_files import load_content

    services = build_services(settings, plugins=[RecipePlugin()])

    async def load() -> None:
        try:
            await load_content(
                services.sessions, services.plugins.types, services.renderer, content
            )
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


def test_plugins_can_add_commands(monkeypatch: pytest.MonkeyPatch) -> None:
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
        "cms.plugins.load_plugins", lambda *_a, **_k: load_plugins(plugins=[Hello()])
    )
    result = CliRunner().invoke(group, ["hello"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello from a plugin\n"


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
