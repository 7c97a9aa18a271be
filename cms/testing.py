"""Fixtures for testing a plugin against the real app and a real database.

A pytest plugin, registered through the ``pytest11`` entry point: wherever
clinic-cms is installed, a test suite can ask for these fixtures without
importing anything. None is autouse; a test that asks for none of them runs
exactly as it would without this plugin (``-p no:cms`` turns it off).

- ``cms_backend``: ``"sqlite"`` (a database file), and ``"postgres"`` as a
  second run of the same test when ``CMS_TEST_POSTGRES_URL`` names a server
  (a ``postgresql+asyncpg://`` URL to any database on it; test databases are
  created beside it and dropped afterwards).
- ``cms_plugins``: the plugin objects the app loads. None (the default)
  loads the installed ones, as ``cms serve`` would; override the fixture to
  return your plugin objects instead (``[my_plugin]``).
- ``cms_settings``: the app's settings without its database: no scheduler
  and no webhook delivery (see :data:`QUIET`). Override it to set your
  plugin's settings: ``Settings(plugin_variables={"CMS_MY_PLUGIN_X": "1"}, **QUIET)``.
- ``cms_database_url``: a fresh database for this test alone, migrated with
  the core's and the plugins' migrations (each set is migrated once per
  session, then copied).
- ``cms_app``: the app on that database; ``cms_client``: a Litestar
  ``TestClient`` of it, started.
- ``cms_tokens``: one bearer token per role (admin, editor, author, viewer)
  in that database: ``cms_client.get(url, headers=cms_tokens.auth("editor"))``.

The core's own suite uses the same database maker (:class:`Databases`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
import pytest

from cms.settings import Settings

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.testing import TestClient

# The app, SQLAlchemy and Alembic are imported where used: this module is
# loaded by every pytest run of an environment where clinic-cms is installed,
# and most of those runs never ask for a database.

POSTGRES_URL = os.environ.get("CMS_TEST_POSTGRES_URL", "")
QUIET: dict[str, Any] = {"scheduler_interval": 0, "webhook_delivery": "worker"}
"""Settings under which an app starts no background task (no scheduler, no
webhook delivery): the app's engine then runs only what its requests ask for."""
ROLES: tuple[str, ...] = ("admin", "editor", "author", "viewer")
BACKENDS: tuple[str, ...] = ("sqlite", "postgres")


T = TypeVar("T")


def off_loop(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)``, in a thread of its own when this one runs an event loop
    (Playwright's sync API keeps one running), where ``asyncio.run`` cannot."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function(*args)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args).result()


def _pg_admin(*statements: str) -> None:
    """Run ``statements`` on the server of ``CMS_TEST_POSTGRES_URL``, outside a transaction."""
    if not statements:
        return
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def run() -> None:
        engine = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                for statement in statements:
                    await conn.execute(text(statement))
        finally:
            await engine.dispose()

    off_loop(asyncio.run, run())


def _pg_url(database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)


class Databases:
    """Makes fresh databases of one backend from migrated templates.

    The core's schema is migrated once, when the maker is made; the schema
    with a set of plugins' migrations once, when first asked for.
    """

    def __init__(self, backend: str, workdir: Path) -> None:
        self.backend = backend
        self.workdir = workdir
        self.made: list[str] = []
        self.template = self._name("tpl")
        self.template_url = self._migrated(self.template, {})
        self._templates: dict[tuple[tuple[str, Path], ...], str] = {}

    def _name(self, prefix: str) -> str:
        return f"cms_{prefix}_{uuid.uuid4().hex[:12]}"

    def _migrated(self, name: str, migrations: Mapping[str, Path]) -> str:
        return off_loop(self._migrate, name, migrations)

    def _migrate(self, name: str, migrations: Mapping[str, Path]) -> str:
        from cms.storage.migrate import upgrade

        if self.backend == "sqlite":
            url = f"sqlite+aiosqlite:///{self.workdir / name}.db"
        else:
            _pg_admin(f'CREATE DATABASE "{name}"')
            self.made.append(name)
            url = _pg_url(name)
        upgrade(url, plugins=migrations)
        return url

    def template_with(self, migrations: Mapping[str, Path]) -> str:
        """The URL of a template migrated with the core's and ``migrations``
        (plugin name to folder, as ``Plugins.migrations``); copy it with :meth:`fresh`."""
        if not migrations:
            return self.template_url
        key = tuple(sorted(migrations.items()))
        if key not in self._templates:
            self._templates[key] = self._migrated(self._name("tpl"), migrations)
        return self._templates[key]

    def fresh(self, template: str | None = None) -> str:
        """The URL of a new database: a copy of ``template`` (a database this
        maker made, by URL), or else of the migrated, empty schema."""
        source = self.template if template is None else self._database_name(template)
        name = self._name("test")
        if self.backend == "sqlite":
            path = self.workdir / f"{name}.db"
            shutil.copyfile(self.workdir / f"{source}.db", path)
            return f"sqlite+aiosqlite:///{path}"
        _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        self.made.append(name)
        return _pg_url(name)

    def blank(self) -> str:
        """The URL of a new database with no tables at all, never migrated (what
        `cms restore` fills); a SQLite one is a file not made yet."""
        name = self._name("blank")
        if self.backend == "sqlite":
            return f"sqlite+aiosqlite:///{self.workdir / name}.db"
        _pg_admin(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        return _pg_url(name)

    def _database_name(self, url: str) -> str:
        from sqlalchemy.engine import make_url

        database = str(make_url(url).database)
        return Path(database).stem if self.backend == "sqlite" else database

    def drop_all(self) -> None:
        """Drop the PostgreSQL databases this session made."""
        _pg_admin(
            *(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in reversed(self.made))
        )


def require_backend(backend: str) -> str:
    """``backend``, when it can run here: a PostgreSQL test is skipped without a server."""
    if backend == "postgres" and not POSTGRES_URL:
        pytest.skip("CMS_TEST_POSTGRES_URL is not set")
    return backend


def mint_tokens(url: str, tokens: Mapping[str, tuple[str, Sequence[str]]]) -> dict[str, str]:
    """Create ``tokens`` (name to role and clinics) in ``url``; name to secret.

    With the product's own service, in one transaction, without loading any
    plugin: a plugin's settings play no part in a token.
    """
    from cms.access.tokens import create_token
    from cms.storage.db import create_engine, session_factory

    async def run() -> dict[str, str]:
        engine = create_engine(url)
        secrets: dict[str, str] = {}
        try:
            async with session_factory(engine)() as session, session.begin():
                for name, (role, clinics) in tokens.items():
                    _token, secrets[name] = await create_token(
                        session, name=name, role=role, clinics=clinics, created_by="tests"
                    )
        finally:
            await engine.dispose()
        return secrets

    return off_loop(asyncio.run, run())


@dataclass(frozen=True)
class Tokens:
    """The secrets of one token per role, by role."""

    secrets: dict[str, str]

    def auth(self, role: str) -> dict[str, str]:
        """The ``Authorization`` header of the token of ``role``."""
        return {"Authorization": f"Bearer {self.secrets[role]}"}


# --- Fixtures -----------------------------------------------------------------


@pytest.fixture(scope="session", params=BACKENDS)
def cms_backend(request: pytest.FixtureRequest) -> str:
    """Which database the test runs on; PostgreSQL only with ``CMS_TEST_POSTGRES_URL``."""
    return require_backend(request.param)


@pytest.fixture(scope="session")
def cms_databases(
    cms_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Databases]:
    """The database maker of the current backend."""
    made = Databases(cms_backend, tmp_path_factory.mktemp(f"db-{cms_backend}"))
    yield made
    made.drop_all()


@pytest.fixture
def cms_plugins() -> Sequence[object] | None:
    """The plugin objects the app loads; None loads the installed ones. Override it."""
    return None


@pytest.fixture
def cms_settings() -> Settings:
    """The app's settings but its database (filled in by ``cms_app``). Override it."""
    return Settings(**QUIET)


@pytest.fixture
def cms_database_url(
    cms_databases: Databases, cms_plugins: Sequence[object] | None, cms_settings: Settings
) -> str:
    """A fresh database for this test, migrated with the core's and the plugins' migrations."""
    from cms.plugin_manager import load_plugins

    loaded = load_plugins(cms_settings.plugins, cms_plugins, settings=cms_settings)
    return cms_databases.fresh(cms_databases.template_with(loaded.migrations))


@pytest.fixture
def cms_app(
    cms_settings: Settings, cms_database_url: str, cms_plugins: Sequence[object] | None
) -> Litestar:
    """The app, with ``cms_plugins``, on ``cms_database_url`` (built, not started)."""
    from cms.app import create_app

    settings = msgspec.structs.replace(cms_settings, database_url=cms_database_url)
    return create_app(settings, plugins=cms_plugins)


@pytest.fixture
def cms_client(cms_app: Litestar) -> Iterator[TestClient[Litestar]]:
    """A client of ``cms_app``, started (its lifespan runs) for the test."""
    from litestar.testing import TestClient

    with TestClient(cms_app) as client:
        yield client


@pytest.fixture
def cms_tokens(cms_database_url: str) -> Tokens:
    """One token per role in ``cms_database_url``, valid for every clinic."""
    return Tokens(mint_tokens(cms_database_url, {role: (role, ()) for role in ROLES}))
