"""A plugin's own tables: Alembic versions it ships, applied by `cms db upgrade`.

The throwaway plugin below is installed as a distribution (a package and its
``.dist-info`` with the ``cms`` entry point) on ``sys.path``, so the command
line finds it as it finds any installed plugin, and `cms db upgrade` runs
exactly as in production.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner, Result
from litestar.testing import TestClient
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from cms.app import create_app
from cms.cli import main
from cms.contenttypes import RegistrationError
from cms.hookspecs import hookimpl
from cms.plugin_manager import load_plugins
from cms.settings import Settings
from cms.storage import tables
from cms.storage.db import create_engine
from cms.storage.migrate import MigrationError, alembic_config, downgrade, upgrade

PLUGIN = '''
"""Shelves: a reading list of entries, in a table of the plugin's own."""

from pathlib import Path

from litestar import get
from litestar.di import NamedDependency
from sqlalchemy import table
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.hookspecs import hookimpl


@hookimpl
def register_migrations():
    return Path(__file__).parent / "migrations"


@hookimpl
def register_routes():
    @get("/api/v1/shelf")
    async def shelf(session: NamedDependency[AsyncSession]) -> dict[str, int]:
        count = await session.exec(select(func.count()).select_from(table("shelf_items")))
        return {"items": count.one()}

    return [shelf]
'''

CORE_HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
"""The core's newest revision: the plugin's migration below is written against it."""

VERSION = '''
"""Shelf items: entries on a reading list.

Revision ID: shelf_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "shelf_0001"
down_revision = None
branch_labels = ("shelf",)
depends_on = "{core_head}"


def upgrade() -> None:
    op.create_table(
        "shelf_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entry_id", sa.String(36), sa.ForeignKey("entries.id", ondelete="CASCADE")),
        sa.Column("position", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("shelf_items")
'''.replace("{core_head}", str(CORE_HEAD))


@pytest.fixture(name="shelf")
def fixture_shelf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The shelf plugin, installed; the folder of its versions."""
    site = tmp_path / "site"
    package = site / "shelf_plugin"
    (package / "migrations").mkdir(parents=True)
    (package / "__init__.py").write_text(PLUGIN, encoding="utf-8")
    (package / "migrations" / "shelf_0001_items.py").write_text(VERSION, encoding="utf-8")
    dist = site / "shelf_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: shelf-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[cms]\nshelf = shelf_plugin\n")
    monkeypatch.syspath_prepend(str(site))  # also invalidates the import caches
    yield package / "migrations"
    sys.modules.pop("shelf_plugin", None)


def cms(url: str, *args: str, plugins: str = "shelf") -> Result:
    """`cms ...` on ``url`` with the plugins ``CMS_PLUGINS`` names."""
    return CliRunner().invoke(
        main, list(args), env={"CMS_DATABASE_URL": url, "CMS_PLUGINS": plugins}
    )


def _look(url: str) -> tuple[set[str], set[str], list[object]]:
    """The tables, the revisions in ``alembic_version``, and how the core's
    tables differ from the code's (the plugin's table left out)."""

    def look(connection: Connection) -> tuple[set[str], set[str], list[object]]:
        names = set(inspect(connection).get_table_names())
        heads = {row[0] for row in connection.execute(text("SELECT * FROM alembic_version"))}

        def core_only(name: str | None, type_: str, parents: dict[str, str | None]) -> bool:
            if type_ == "table" and name == "shelf_items":
                return False
            return tables.include_name(name, type_, parents)

        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": core_only}
        )
        return names, heads, list(compare_metadata(context, SQLModel.metadata))

    async def run() -> tuple[set[str], set[str], list[object]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(look)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_hook_register_migrations(database_url: str, shelf: Path) -> None:
    # `database_url` was migrated before the plugin was installed: the core's head alone.
    assert _look(database_url)[1] == {CORE_HEAD}
    result = cms(database_url, "db", "upgrade")
    assert result.exit_code == 0, result.output
    names, heads, differences = _look(database_url)
    assert "shelf_items" in names
    # The plugin's branch depends on the core's head, so its head stands for both.
    assert heads == {"shelf_0001"}
    assert differences == []
    assert cms(database_url, "db", "upgrade").exit_code == 0  # nothing left to do
    settings = Settings(database_url=database_url, plugins=("shelf",))
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/v1/shelf").json() == {"items": 0}


def test_an_older_database_gets_the_cores_versions_then_the_plugins(
    database_url: str, shelf: Path
) -> None:
    downgrade(database_url, "0005")
    assert cms(database_url, "db", "upgrade", plugins="blog_series").exit_code == 0
    assert _look(database_url)[1] == {CORE_HEAD}
    downgrade(database_url, "0005")
    result = cms(database_url, "db", "upgrade")
    assert result.exit_code == 0, result.output
    names, heads, differences = _look(database_url)
    assert ("shelf_items" in names, heads, differences) == (True, {"shelf_0001"}, [])


def test_a_plugin_with_tables_is_downgraded_before_it_is_turned_off(
    database_url: str, shelf: Path
) -> None:
    assert cms(database_url, "db", "upgrade").exit_code == 0
    refused = cms(database_url, "db", "upgrade", plugins="blog_series")
    assert refused.exit_code == 1
    assert "neither the core nor a loaded plugin ships revision 'shelf_0001'" in refused.output
    assert "cms db downgrade <plugin>@base" in refused.output
    dropped = cms(database_url, "db", "downgrade", "shelf@base")
    assert dropped.exit_code == 0, dropped.output
    names, heads, _differences = _look(database_url)
    assert ("shelf_items" in names, heads) == (False, {CORE_HEAD})
    assert cms(database_url, "db", "upgrade", plugins="blog_series").exit_code == 0


def test_a_version_off_the_plugins_branch_or_a_taken_revision_id_is_refused(
    database_url: str, shelf: Path
) -> None:
    version = shelf / "shelf_0001_items.py"
    version.write_text(VERSION.replace('("shelf",)', "None"), encoding="utf-8")
    with pytest.raises(MigrationError, match=r"plugin 'shelf': version shelf_0001 .* branch"):
        upgrade(database_url, plugins={"shelf": shelf})
    version.write_text(VERSION.replace('"shelf_0001"', '"0003"'), encoding="utf-8")
    with pytest.raises(MigrationError, match="Revision 0003 is present more than once"):
        upgrade(database_url, plugins={"shelf": shelf})
    assert _look(database_url)[1] == {CORE_HEAD}


def test_a_missing_folder_fails_start_up_naming_the_plugin(tmp_path: Path) -> None:
    class Lost:
        name = "lost"

        @hookimpl
        def register_migrations(self) -> Path:
            return tmp_path / "nowhere"

    with pytest.raises(RegistrationError, match="plugin 'lost': register_migrations returned"):
        load_plugins(plugins=[Lost()])
