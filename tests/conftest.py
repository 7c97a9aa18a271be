"""Fixtures: real databases (SQLite files, PostgreSQL databases) and the real app.

Every test that takes ``backend`` (directly or through another fixture) runs
once on SQLite and once on PostgreSQL. PostgreSQL runs when
``CMS_TEST_POSTGRES_URL`` names a server (an ``postgresql+asyncpg://`` URL to
any database on it; test databases are created beside it). Without it the
PostgreSQL cases are skipped; with it, an unreachable server is an error.

The migrated schema is built once per backend as a template; each test gets a
fresh copy, so tests never see each other's writes.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import frontmatter
import pytest
from click.testing import CliRunner, Result
from litestar.testing import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from cms.app import build_services, create_app
from cms.cli import main
from cms.services.content_files import load_content
from cms.settings import Settings
from cms.storage.migrate import upgrade

REPO = Path(__file__).resolve().parent.parent
CONTENT = REPO / "content"
POSTGRES_URL = os.environ.get("CMS_TEST_POSTGRES_URL", "")


def _pg_admin(statement: str) -> None:
    async def run() -> None:
        engine = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(run())


def _pg_url(database: str) -> str:
    return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)


class Databases:
    """Makes fresh databases of one backend from a migrated template."""

    def __init__(self, backend: str, workdir: Path) -> None:
        self.backend = backend
        self.workdir = workdir
        self.made: list[str] = []
        self.template = self._name("tpl")
        if backend == "sqlite":
            self.template_url = f"sqlite+aiosqlite:///{workdir / self.template}.db"
        else:
            _pg_admin(f'CREATE DATABASE "{self.template}"')
            self.made.append(self.template)
            self.template_url = _pg_url(self.template)
        upgrade(self.template_url)

    def _name(self, prefix: str) -> str:
        return f"cms_{prefix}_{uuid.uuid4().hex[:12]}"

    def fresh(self) -> str:
        """The URL of a new database holding the migrated, empty schema."""
        name = self._name("test")
        if self.backend == "sqlite":
            path = self.workdir / f"{name}.db"
            shutil.copyfile(self.workdir / f"{self.template}.db", path)
            return f"sqlite+aiosqlite:///{path}"
        _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.made.append(name)
        return _pg_url(name)

    def drop_all(self) -> None:
        """Drop the PostgreSQL databases this session made."""
        for name in reversed(self.made):
            _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load_folder(url: str, folder: Path, plugins: Sequence[object] | None = None) -> None:
    """Load a content folder into ``url`` with the product's loader (and these plugins)."""
    services = build_services(Settings(database_url=url), plugins)

    async def run() -> None:
        try:
            await load_content(services.sessions, services.plugins.types, services.renderer, folder)
        finally:
            await services.engine.dispose()

    asyncio.run(run())


def run_cms(url: str, *args: str) -> Result:
    """Run the `cms` command line with ``url`` as its database."""
    return CliRunner().invoke(main, list(args), env={"CMS_DATABASE_URL": url})


def edit_entry(path: Path, body: str | None = None, **fields: Any) -> None:
    """Set front-matter fields of a content file (None removes one), or its body."""
    post = frontmatter.load(path)
    for name, value in fields.items():
        if value is None:
            post.metadata.pop(name, None)
        else:
            post.metadata[name] = value
    if body is not None:
        post.content = body
    path.write_text(frontmatter.dumps(post, sort_keys=False) + "\n", encoding="utf-8")


def write_entry(root: Path, plural: str, slug: str, body: str = "", **fields: Any) -> Path:
    """Write a content file ``root/plural/slug.md``."""
    path = root / plural / f"{slug}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    post = frontmatter.Post(body, **fields)
    path.write_text(frontmatter.dumps(post, sort_keys=False) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Which database the test runs on."""
    if request.param == "postgres" and not POSTGRES_URL:
        pytest.skip("CMS_TEST_POSTGRES_URL is not set")
    return str(request.param)


@pytest.fixture(scope="session")
def databases(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    """The database maker of the current backend."""
    made = Databases(backend, tmp_path_factory.mktemp(f"db-{backend}"))
    yield made
    made.drop_all()


@pytest.fixture(name="database_url")
def fixture_database_url(databases: Databases) -> str:
    """A fresh, migrated, empty database for this test alone."""
    return databases.fresh()


@pytest.fixture(scope="session")
def demo_url(databases: Databases) -> str:
    """A database holding the demo content, shared by read-only tests."""
    url = databases.fresh()
    load_folder(url, CONTENT)
    return url


@pytest.fixture(name="demo", scope="session")
def fixture_demo(demo_url: str) -> Iterator[TestClient[object]]:
    """A client of the app serving the demo content, shared: tests must not write through it.

    One app for the session, because building one per test costs more than
    most read tests do.
    """
    with TestClient(create_app(Settings(database_url=demo_url))) as client:
        yield client


@pytest.fixture(name="content_copy")
def fixture_content_copy(tmp_path: Path) -> Path:
    """A writable copy of the demo content folder."""
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    return target
