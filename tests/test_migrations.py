"""Migrations: they build the tables the code declares, and they go down and up again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from litestar.testing import TestClient
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from cms.app import create_app
from cms.settings import Settings
from cms.storage import tables
from cms.storage.db import create_engine
from cms.storage.migrate import downgrade, upgrade
from tests.conftest import CONTENT, load_folder, run_cms

T = TypeVar("T")


def _on_connection(url: str, inspect: Callable[[Connection], T]) -> T:
    """Run ``inspect`` on a connection to ``url``, with the project's engine set-up."""

    async def run() -> T:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(inspect)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _differences(url: str) -> list[object]:
    def compare(connection: Connection) -> list[object]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": tables.include_name}
        )
        return list(compare_metadata(context, SQLModel.metadata))

    return _on_connection(url, compare)


def test_migrated_schema_matches_the_tables(database_url: str) -> None:
    assert _differences(database_url) == []


def test_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    downgrade(database_url, "base")
    assert _differences(database_url) != []
    upgrade(database_url)
    assert _differences(database_url) == []


def test_upgrade_to_0004_gives_published_entries_their_published_version(
    database_url: str,
) -> None:
    # Content saved before the editing migration (simulated by going down
    # after loading) keeps being served once 0004 copies each published
    # entry's public version.
    load_folder(database_url, CONTENT)
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        before = client.get("/api/v1/articles?limit=100").json()
        detail = client.get("/api/v1/conditions/sciatica").json()
    downgrade(database_url, "0003")
    upgrade(database_url)
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        assert client.get("/api/v1/articles?limit=100").json() == before
        assert client.get("/api/v1/conditions/sciatica").json() == detail
        assert client.get("/api/v1/articles?condition=sciatica").json()["data"]


def _search_objects(url: str) -> set[str]:
    """The per-dialect search objects present in the database at ``url``."""

    def look(connection: Connection) -> set[str]:
        inspector = inspect(connection)
        found = set(inspector.get_table_names()) & tables.DIALECT_TABLES
        if "search_documents" in inspector.get_table_names():
            columns = {c["name"] for c in inspector.get_columns("search_documents")}
            found |= {c for t, c in tables.DIALECT_COLUMNS if c in columns}
            found |= {i["name"] or "" for i in inspector.get_indexes("search_documents")}
        return found & (tables.DIALECT_TABLES | tables.DIALECT_INDEXES | {tables.SEARCH_TSV})

    return _on_connection(url, look)


def test_search_objects_are_made_for_the_dialect_and_removed_again(
    database_url: str, backend: str
) -> None:
    # Left out of the comparison above by name, so checked here by name.
    expected = (
        tables.DIALECT_TABLES
        if backend == "sqlite"
        else {tables.SEARCH_TSV, *tables.DIALECT_INDEXES}
    )
    assert _search_objects(database_url) == expected
    downgrade(database_url, "0001")
    assert _search_objects(database_url) == set()
    upgrade(database_url)
    assert _search_objects(database_url) == expected


def test_search_rows_of_published_entries_come_back_with_a_rebuild(database_url: str) -> None:
    # 0005 makes the search tables empty; `cms content rebuild` indexes every
    # published version again.
    load_folder(database_url, CONTENT)
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        before = client.get("/api/v1/search?q=sciatica&limit=100").json()
    assert before["data"]
    downgrade(database_url, "0004")
    upgrade(database_url)
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        assert client.get("/api/v1/search?q=sciatica&limit=100").json()["data"] == []
    assert run_cms(database_url, "content", "rebuild").exit_code == 0
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        assert client.get("/api/v1/search?q=sciatica&limit=100").json() == before
