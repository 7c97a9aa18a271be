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
import datetime as dt
import shutil
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import frontmatter
import httpx
import pytest
import uvicorn
from click.testing import CliRunner, Result
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import event

from cms import testing
from cms.app import build_services, create_app
from cms.cli import main
from cms.editorial.content_files import load_content
from cms.serving import uvicorn_options
from cms.settings import Settings
from cms.testing import QUIET, Databases

REPO = Path(__file__).resolve().parent.parent
CONTENT = REPO / "content"
PUBLIC_BASE = "http://127.0.0.1:8000"
"""The base of the absolute URLs the API writes when ``CMS_PUBLIC_URL`` is unset:
the address ``cms serve`` binds by default (docs/operations.md)."""
FIRST_PARTY_PLUGINS: tuple[str, ...] = ("blog_series", "case_stories")
"""The plugins the core's tests build their apps with: the installed ones less any
third-party plugin, so installing one never changes what the core's tests see."""


def load_folder(
    url: str, folder: Path, plugins: Sequence[object] | None = None, *, force: bool = False
) -> None:
    """Load a content folder into ``url`` with the product's loader.

    Args:
        plugins: plugin objects to load instead of the installed ones.
        force: load even if it leaves broken internal links (``--force``).
    """
    services = build_services(Settings(database_url=url), plugins)

    async def run() -> None:
        try:
            await load_content(
                services.sessions, services.plugins, services.renderer, folder, force=force
            )
        finally:
            await services.engine.dispose()

    testing.off_loop(asyncio.run, run())


def run_cms(url: str, *args: str) -> Result:
    """Run the `cms` command line with ``url`` as its database."""
    return CliRunner().invoke(main, list(args), env={"CMS_DATABASE_URL": url})


def loopback_socket() -> socket.socket:
    """A TCP socket bound to a free port of 127.0.0.1 (not listening yet)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serving(url: str, environ: Mapping[str, str] | None = None) -> Iterator[str]:
    """The app on database ``url``, served by uvicorn on a free loopback port; its base URL.

    Args:
        environ: ``CMS_*`` variables to configure it with, read as ``cms serve``
            reads them (the scheduler is off unless they turn it on).
    """
    settings = Settings.from_env(
        {"CMS_SCHEDULER_INTERVAL": "0", **(environ or {}), "CMS_DATABASE_URL": url}
    )
    sock = loopback_socket()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        log_level="warning",
        access_log=False,
        **uvicorn_options(settings),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the server did not start"
        assert time.monotonic() < deadline, "the server did not start in time"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()


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


# The same databases as cms.testing's fixtures (the plugin authors' ones),
# under the suite's own names; defined here rather than aliased, so that a test
# can narrow `backend` with an indirect parametrize.


@pytest.fixture(scope="session", params=testing.BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Which database the test runs on."""
    return testing.require_backend(request.param)


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
    # No background task: the demo is never written, and reads through it may
    # be counted (:func:`counting`).
    settings = Settings(database_url=demo_url, plugins=FIRST_PARTY_PLUGINS, **QUIET)
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(name="content_copy")
def fixture_content_copy(tmp_path: Path) -> Path:
    """A writable copy of the demo content folder."""
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    return target


# --- Editing: the demo with a token per role ------------------------------------

# Token name -> (role, clinics). Names say what each is for in the tests.
TOKENS: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("admin", ()),
    "editor": ("editor", ()),
    "author": ("author", ()),
    "viewer": ("viewer", ()),
    "calgary-editor": ("editor", ("calgary",)),
    "calgary-author": ("author", ("calgary",)),
    "calgary-viewer": ("viewer", ("calgary",)),
}


def mint_tokens(url: str) -> dict[str, str]:
    """Create the :data:`TOKENS` in ``url`` with the product's service; name -> secret."""
    return testing.mint_tokens(url, TOKENS)


@dataclass(frozen=True)
class EditingTemplate:
    """A database holding the demo content and the test tokens, to copy per test."""

    url: str
    secrets: dict[str, str]


@pytest.fixture(scope="session")
def editing_template(databases: Databases) -> EditingTemplate:
    """The demo plus one token per :data:`TOKENS` entry, made once per backend."""
    url = databases.fresh()
    load_folder(url, CONTENT)
    return EditingTemplate(url=url, secrets=mint_tokens(url))


@dataclass(frozen=True)
class Editing:
    """A writable copy of the demo, and the secrets of its tokens."""

    url: str
    secrets: dict[str, str]

    def auth(self, token: str) -> dict[str, str]:
        """The ``Authorization`` header of the token called ``token``."""
        return {"Authorization": f"Bearer {self.secrets[token]}"}

    def settings(self, **overrides: Any) -> Settings:
        """Settings for an app on this database (with the first-party plugins)."""
        return Settings(database_url=self.url, **{"plugins": FIRST_PARTY_PLUGINS, **overrides})


@pytest.fixture(name="editing")
def fixture_editing(databases: Databases, editing_template: EditingTemplate) -> Editing:
    """A fresh copy of the demo with tokens, for a test that writes."""
    return Editing(url=databases.fresh(editing_template.url), secrets=editing_template.secrets)


@pytest.fixture(name="client")
def fixture_client(editing: Editing) -> Iterator[TestClient[Any]]:
    """A client of the app on the ``editing`` database."""
    with TestClient(create_app(editing.settings())) as client:
        yield client


def read_entry_as(
    client: TestClient[Any], editing: Editing, path: str, token: str = "editor"
) -> tuple[dict[str, Any], str]:
    """The working copy at ``path`` as ``token`` reads it, and its ETag."""
    response = client.get(path, headers=editing.auth(token))
    assert response.status_code == 200, response.text
    return response.json(), response.headers["etag"]


def create_article(
    client: TestClient[Any], editing: Editing, title: str, token: str = "admin", **fields: Any
) -> tuple[dict[str, Any], str]:
    """Create a draft article through the API; its working copy and ETag."""
    body = {"title": title, "clinics": ["calgary"], "author": "lena-marchetti",
            "body": f"## About\n\n{title}.", **fields}  # fmt: skip
    response = client.post("/api/v1/articles", json=body, headers=editing.auth(token))
    assert response.status_code == 201, response.text
    return response.json(), response.headers["etag"]


def step(
    client: TestClient[Any],
    editing: Editing,
    slug: str,
    action: str,
    etag: str,
    token: str = "editor",
    force: bool = False,
    **body: Any,
) -> tuple[dict[str, Any], str]:
    """Run a workflow step on article ``slug``; the working copy and its new ETag.

    Args:
        force: skip the link-integrity checks (``?force=true``).
    """
    response = client.post(
        f"/api/v1/articles/{slug}/{action}" + ("?force=true" if force else ""),
        json=body or None,
        headers={**editing.auth(token), "If-Match": etag},
    )
    assert response.status_code == 200, response.text
    return response.json(), response.headers["etag"]


@asynccontextmanager
async def concurrent_client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` whose requests really run at the same time.

    Litestar's AsyncTestClient hands each request to a portal thread and waits
    for it, so gathered requests run one after the other there; httpx's ASGI
    transport runs them in this event loop, interleaved at every await.
    """
    transport = httpx.ASGITransport(app=app)
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client,
    ):
        yield client


class ManualClock:
    """A clock for an app under test (``create_app(..., clock=clock)``): it stands
    still until the test moves it on, so no test waits for time to pass, and
    a busy machine cannot make a window close early."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime.now(dt.UTC)
        self.reads = 0
        """How many times the app asked the time: the scheduler asks once a look."""

    def __call__(self) -> dt.datetime:
        self.reads += 1
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the time on by ``seconds``."""
        self.now += dt.timedelta(seconds=seconds)


def wait_for(what: Callable[[], Any], *, timeout: float = 60.0, message: str = "") -> Any:
    """``what()`` once it is truthy, tried every 50 ms; fails after ``timeout`` seconds.

    For what a background task does (the scheduler, a webhook sender, a server
    starting): the deadline is generous because a busy machine is slow, and a
    passing test waits only as long as the task takes.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout} s: {message or what}; last: {value!r}")
        time.sleep(0.05)


def is_quiet(settings: Settings) -> bool:
    """Whether an app with ``settings`` runs no background task (see :data:`QUIET`)."""
    return settings.scheduler_interval == 0 and settings.webhook_delivery != "server"


_TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"})


@contextmanager
def counting(app: Litestar) -> Iterator[list[str]]:
    """Every SQL query the app's engine runs inside the block (transaction
    control, such as ``BEGIN``, is not a query and is left out).

    Only for an app built with :data:`QUIET` settings: a scheduler or webhook
    poll would otherwise be counted with the requests whenever it fell inside
    the block, which on a busy machine it does. Anything else is refused here
    rather than miscounted now and then.
    """
    settings: Settings = app.state.services.settings
    if not is_quiet(settings):
        raise AssertionError(
            "counting() needs an app without background tasks: build it with "
            "Settings(..., **QUIET) (scheduler_interval=0, webhook_delivery='worker')"
        )
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # Queries only: SQLite's explicit BEGIN (see cms.storage.db) goes
        # through the cursor, PostgreSQL's does not; neither is a query.
        if statement.split(maxsplit=1)[0].upper() not in _TRANSACTION_CONTROL:
            statements.append(statement)

    engine = app.state.services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
