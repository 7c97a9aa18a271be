"""A plugin's own settings: ``CMS_<PLUGIN>_*`` variables, read once, handed to its hooks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from litestar import get
from litestar.testing import TestClient

import plugins.case_stories
from cms.app import create_app
from cms.cli import main
from cms.contenttypes import RegistrationError
from cms.hookspecs import hookimpl
from cms.plugin_manager import load_plugins
from cms.settings import PluginSettings, Settings, SettingsError
from tests.conftest import CONTENT


class ShelfSettings(PluginSettings, frozen=True):
    """A throwaway plugin's settings: one of each kind."""

    limit: int = 3
    label: str = "Shelf"
    rooms: tuple[str, ...] = ()


class ShelfPlugin:
    """Declares settings, and serves what its hooks were handed."""

    name = "shelf"

    @hookimpl
    def register_settings(self) -> type[ShelfSettings]:
        return ShelfSettings

    @hookimpl
    def register_routes(self, settings: ShelfSettings) -> Sequence[Any]:
        @get("/api/v1/shelf", sync_to_thread=False)
        def shelf() -> dict[str, Any]:
            return {"limit": settings.limit, "label": settings.label, "rooms": settings.rooms}

        return [shelf]


class PlainPlugin:
    """Declares no settings: hooks that name ``settings`` get None."""

    name = "plain"

    @hookimpl
    def register_routes(self, settings: None) -> Sequence[Any]:
        @get("/api/v1/plain", sync_to_thread=False)
        def plain() -> dict[str, Any]:
            return {"settings": settings}

        return [plain]


def _app(url: str, environ: dict[str, str], *plugins: object) -> TestClient[Any]:
    settings = Settings.from_env({"CMS_DATABASE_URL": url, **environ})
    return TestClient(create_app(settings, plugins=list(plugins)))


def test_hook_register_settings(database_url: str) -> None:
    environ = {"CMS_SHELF_LIMIT": "12", "CMS_SHELF_LABEL": "Reading list",
               "CMS_SHELF_ROOMS": "annex, studio"}  # fmt: skip
    with _app(database_url, environ, ShelfPlugin(), PlainPlugin()) as client:
        assert client.get("/api/v1/shelf").json() == {
            "limit": 12,
            "label": "Reading list",
            "rooms": ["annex", "studio"],
        }
        assert client.get("/api/v1/plain").json() == {"settings": None}


def test_an_unset_or_empty_setting_keeps_its_default(database_url: str) -> None:
    with _app(database_url, {"CMS_SHELF_LABEL": ""}, ShelfPlugin()) as client:
        assert client.get("/api/v1/shelf").json() == {"limit": 3, "label": "Shelf", "rooms": []}


def test_a_bad_value_fails_start_up_naming_its_variable(database_url: str) -> None:
    with pytest.raises(SettingsError, match=r"Expected `int`, got `str` - at CMS_SHELF_LIMIT$"):
        create_app(
            Settings.from_env({"CMS_DATABASE_URL": database_url, "CMS_SHELF_LIMIT": "many"}),
            plugins=[ShelfPlugin()],
        )


def test_a_required_setting_left_unset_fails_start_up_naming_its_variable() -> None:
    class KeySettings(PluginSettings, frozen=True):
        api_key: str

    class Keyed:
        name = "keyed-service"

        @hookimpl
        def register_settings(self) -> type[KeySettings]:
            return KeySettings

    with pytest.raises(SettingsError, match="CMS_KEYED_SERVICE_API_KEY is required"):
        load_plugins(plugins=[Keyed()], settings=Settings())
    loaded = load_plugins(
        plugins=[Keyed()], settings=Settings(plugin_variables={"CMS_KEYED_SERVICE_API_KEY": "k"})
    )
    assert loaded.manager.plugin_settings["keyed-service"] == KeySettings(api_key="k")


def test_a_variable_that_is_a_core_setting_or_another_plugins_fails_start_up() -> None:
    class TimeoutSettings(PluginSettings, frozen=True):
        timeout: float = 1.0

    class Webhook:
        name = "webhook"

        @hookimpl
        def register_settings(self) -> type[TimeoutSettings]:
            return TimeoutSettings

    with pytest.raises(RegistrationError, match=r"CMS_WEBHOOK_TIMEOUT .* by the core and by "):
        load_plugins(plugins=[Webhook()])

    class ListSettings(PluginSettings, frozen=True):
        list_size: int = 1

    class SizeSettings(PluginSettings, frozen=True):
        size: int = 1

    class Reading:
        name = "reading"

        @hookimpl
        def register_settings(self) -> type[ListSettings]:
            return ListSettings

    class ReadingList:
        name = "reading-list"

        @hookimpl
        def register_settings(self) -> type[SizeSettings]:
            return SizeSettings

    # Both read CMS_READING_LIST_SIZE.
    with pytest.raises(
        RegistrationError,
        match="CMS_READING_LIST_SIZE is declared twice: by plugin 'reading' and by plugin "
        "'reading-list'",
    ):
        load_plugins(plugins=[Reading(), ReadingList()])


def test_register_settings_must_return_a_struct_class() -> None:
    class Wrong:
        name = "wrong"

        @hookimpl
        def register_settings(self) -> object:
            return ShelfSettings()

    with pytest.raises(RegistrationError, match="plugin 'wrong': register_settings returned"):
        load_plugins(plugins=[Wrong()])


def test_the_environment_is_read_once_at_start_up(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CMS_DATABASE_URL", database_url)
    monkeypatch.setenv("CMS_SHELF_LIMIT", "5")
    app = create_app(plugins=[ShelfPlugin()])  # settings from the environment
    monkeypatch.setenv("CMS_SHELF_LIMIT", "6")
    with TestClient(app) as client:
        assert client.get("/api/v1/shelf").json()["limit"] == 5


def test_case_stories_read_their_names_file_through_their_settings(
    database_url: str, tmp_path: Path
) -> None:
    names = tmp_path / "names.txt"
    names.write_text("Pat Smith\n", encoding="utf-8")
    settings = Settings(plugin_variables={"CMS_CASE_STORIES_NAMES_FILE": str(names)})
    # Installed, it is named by its entry point: its variables are CMS_CASE_STORIES_*.
    loaded = load_plugins(["case_stories"], settings=settings)
    assert loaded.manager.plugin_settings["case_stories"] == (
        plugins.case_stories.CaseStoriesSettings(names_file=str(names))
    )
    # Through the command line, the variable read before plugins had settings still works.
    result = CliRunner().invoke(
        main,
        ["content", "load", str(CONTENT)],
        env={"CMS_DATABASE_URL": database_url, "CMS_CASE_STORIES_NAMES_FILE": str(tmp_path)},
    )
    assert result.exit_code == 1
    assert "plugin 'case_stories' failed in hook on_before_publish" in result.output
    assert f"CMS_CASE_STORIES_NAMES_FILE={tmp_path}" in result.output
