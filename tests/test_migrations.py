"""Migrations: they build the tables the code declares, and they go down and up again."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from litestar.testing import TestClient
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from cms.app import create_app
from cms.settings import Settings
from cms.storage import tables  # noqa: F401  (the tables register on the metadata)
from cms.storage.db import create_engine
from cms.storage.migrate import downgrade, upgrade
from tests.conftest import CONTENT, load_folder


def _differences(url: str) -> list[object]:
    def compare(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))

    async def run() -> list[object]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(compare)
        finally:
            await engine.dispose()

    return asyncio.run(run())


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
