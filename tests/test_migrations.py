"""Migrations: they build the tables the code declares, and they go down and up again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from litestar.testing import TestClient
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from cms.app import create_app
from cms.settings import Settings
from cms.storage import tables
from cms.storage.db import create_engine
from cms.storage.migrate import downgrade, upgrade
from tests.conftest import CONTENT, Editing, load_folder, run_cms

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


def _published_indexes(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every row of ``published_links`` and of ``published_facets``, in order."""

    def read(connection: Connection) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        links = connection.execute(
            text("SELECT source_id, position, target_type, target_slug FROM published_links"
                 " ORDER BY source_id, position")
        )  # fmt: skip
        facets = connection.execute(
            text("SELECT entry_id, field, value FROM published_facets"
                 " ORDER BY entry_id, field, value")
        )  # fmt: skip
        return [tuple(r) for r in links], [tuple(r) for r in facets]

    return _on_connection(url, read)


PUBLIC_INDEXES = (
    "/api/v1/conditions/sciatica/backlinks?limit=100",
    "/api/v1/practitioners?modality=cupping&limit=100",
    "/api/v1/practitioners?modality=tui-na&limit=100",
)


def test_upgrade_to_0008_gives_published_versions_their_links_and_facets(
    editing: Editing,
) -> None:
    # Published entries with pending drafts that link elsewhere and filter on
    # other values: 0008 gives each published version its own rows, from its
    # published document, as publishing wrote them; so does a rebuild.
    drafts = {
        "/api/v1/articles/causes-of-low-back-pain-and-sciatica": {"body": "No links."},
        "/api/v1/practitioners/maren-holt": {"modalities": ["tui-na"]},
    }
    ids = []
    with TestClient(create_app(editing.settings())) as client:
        for path, change in drafts.items():
            read = client.get(path, headers=editing.auth("editor"))
            ids.append(read.json()["id"])
            headers = {**editing.auth("editor"), "If-Match": read.headers["etag"]}
            assert client.patch(path, json=change, headers=headers).status_code == 200
        public = [client.get(url).json() for url in PUBLIC_INDEXES]
    before = _published_indexes(editing.url)
    article_id, practitioner_id = ids
    assert ("condition", "sciatica") in {(r[2], r[3]) for r in before[0] if r[0] == article_id}
    assert (practitioner_id, "modalities", "cupping") in before[1]
    assert article_id in {e["id"] for e in public[0]["data"]}
    assert practitioner_id in {e["id"] for e in public[1]["data"]}
    assert public[2]["data"] == []

    downgrade(editing.url, "0007")
    upgrade(editing.url)
    assert _published_indexes(editing.url) == before

    def empty(connection: Connection) -> None:
        connection.execute(text("DELETE FROM published_links"))
        connection.execute(text("DELETE FROM published_facets"))
        connection.commit()

    _on_connection(editing.url, empty)
    result = run_cms(editing.url, "content", "rebuild")
    assert result.exit_code == 0, result.output
    assert _published_indexes(editing.url) == before
    with TestClient(create_app(editing.settings())) as client:
        assert [client.get(url).json() for url in PUBLIC_INDEXES] == public
