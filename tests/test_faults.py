"""Faults, with the real server in a process of its own and real HTTP.

- `cms serve` SIGKILLed in a burst of concurrent writes: after a restart on the
  same database, every acknowledged write is there, whole, and revisions,
  search, links and the change feed agree with the entries.
- `cms content load` SIGKILLed inside its transaction: the database is as it was
  before, and the next load finishes.
- A webhook receiver that accepts and never answers: writes and reads stay prompt.
- A full disk: SQLite's writes fail when the server's file-size limit is lowered
  under it (``RLIMIT_FSIZE``, no mount needed), PostgreSQL's ``disk_full`` is raised
  by the server itself; either answers a 503 problem, reads go on, and writes
  succeed again once there is room, without a restart.

PostgreSQL stopped and started under load is in ``test_faults_postgres.py``.
Nothing sleeps to synchronise: each step waits for a condition, with a
generous deadline (a busy 2-core machine is slow).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from cms import testing
from cms.app import create_app
from cms.hookspecs import hookimpl
from cms.http.problems import PROBLEM_BASE
from cms.settings import Settings
from cms.storage.db import database_fault
from tests.conftest import (
    CONTENT,
    FIRST_PARTY_PLUGINS,
    Editing,
    edit_entry,
    load_folder,
    wait_for,
    write_entry,
)
from tests.faults import (
    ARTICLES,
    STEPS,
    TARGETS,
    Tracked,
    changes,
    check_entries,
    pages,
    server_env,
)
from tests.servers import CMS, HTTP_TIMEOUT, Served, served

WRITERS = 6
ENTRIES_PER_WRITER = 12
KILL_AFTER = 30
"""Acknowledged writes before the server is killed, the other writers' requests in flight."""
BURST_TIMEOUT = 240.0


async def _burst(served_: Served, auth: dict[str, str], tracked: list[Tracked]) -> int:
    """Writers drive their entries through :data:`STEPS` until the server is killed
    after :data:`KILL_AFTER` acknowledged writes; how many steps were in flight then."""
    acked = 0
    in_flight_at_kill = -1

    async def writer(entries: list[Tracked]) -> None:
        nonlocal acked, in_flight_at_kill
        async with httpx.AsyncClient(base_url=served_.base, timeout=HTTP_TIMEOUT) as http:
            for entry in entries:
                for step in range(len(STEPS)):
                    try:
                        response = await entry.send(http, step, auth)
                    except httpx.TransportError:
                        return  # the server died with this step in flight
                    entry.acknowledge(response)
                    acked += 1
                    if acked == KILL_AFTER:
                        in_flight_at_kill = sum(t.unknown is not None for t in tracked)
                        served_.kill()

    groups = [tracked[i::WRITERS] for i in range(WRITERS)]
    async with asyncio.timeout(BURST_TIMEOUT):
        await asyncio.gather(*(writer(group) for group in groups))
    return in_flight_at_kill


def test_a_server_killed_in_a_burst_of_writes_keeps_every_acknowledged_one(
    editing: Editing, tmp_path: Path
) -> None:
    env = server_env(editing.url)
    auth = editing.auth("editor")
    tracked = [Tracked(number) for number in range(WRITERS * ENTRIES_PER_WRITER)]
    with served(env, tmp_path / "first.log") as first:
        in_flight = asyncio.run(_burst(first, auth, tracked))
        assert first.process.returncode == -signal.SIGKILL
    assert in_flight >= 1, "nothing was in flight when the server was killed"
    assert sum(len(t.acked) for t in tracked) >= KILL_AFTER

    with (
        served(env, tmp_path / "second.log") as second,
        httpx.Client(base_url=second.base, timeout=HTTP_TIMEOUT) as http,
    ):
        written = check_entries(http, tracked, auth)
    assert written >= len([t for t in tracked if t.acked])


# --- A content load killed inside its transaction -------------------------------

LOADED = 60
"""Articles the load adds to the demo's files."""
CAUGHT_AT = 24 + LOADED // 4
"""Files processed when the load is killed: the 24 unchanged demo files (counted at
once), then a quarter of the new ones, saved inside the transaction."""
LOAD_TIMEOUT = 300.0


def _write_load_folder(folder: Path) -> None:
    """The demo's files, one of them changed, and :data:`LOADED` new articles."""
    shutil.copytree(CONTENT, folder)
    edit_entry(folder / "articles" / f"{CHANGED}.md", summary=CHANGED_SUMMARY)
    for number in range(LOADED):
        write_entry(
            folder, "articles", f"loaded-{number:03d}",
            f"## Part\n\nLoaded {loaded_word(number)} and {COMMON}. "
            f"See [the condition](cms:condition/{loaded_target(number)}).\n",
            title=f"Loaded article {number}", summary=f"Article {number} of the load.",
            status="published", clinics=["calgary"], author="lena-marchetti",
            published_at="2026-01-01T00:00:00Z",
        )  # fmt: skip


CHANGED = "opioids-and-back-pain"
CHANGED_SUMMARY = "Changed in the folder, taken by the load."
COMMON = "zqloadedx"
"""A word in every loaded article."""


def loaded_word(number: int) -> str:
    return f"zql{number:03d}x"


def loaded_target(number: int) -> str:
    return TARGETS[number % len(TARGETS)]


def _snapshot(url: str) -> dict[str, Any]:
    """What a load could change: every table's row count, and each entry's version."""

    async def read() -> dict[str, Any]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                counts = {
                    table.name: await connection.scalar(select(func.count()).select_from(table))
                    for table in SQLModel.metadata.sorted_tables
                }
                versions = (
                    await connection.execute(
                        text("SELECT type, slug, version FROM entries ORDER BY type, slug")
                    )
                ).all()
        finally:
            await engine.dispose()
        return {"counts": counts, "versions": [tuple(row) for row in versions]}

    return asyncio.run(read())


def _in_write_transaction(backend: str, url: str) -> bool:
    """Whether a writer holds a transaction of ``url`` open, having written in it."""
    if backend == "sqlite":
        # Writers take SQLite's write lock when they begin (BEGIN IMMEDIATE): a
        # second writer that may not wait finds it taken.
        path = make_url(url).database
        with contextlib.closing(sqlite3.connect(f"{path}", timeout=0, isolation_level=None)) as db:
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc):
                    raise
                return True
            db.execute("ROLLBACK")
            return False

    async def read() -> bool:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                # A transaction gets its id at its first write.
                writing = await connection.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
                    )
                )
        finally:
            await engine.dispose()
        return bool(writing)

    return asyncio.run(read())


def _stopped(process: subprocess.Popen[bytes]) -> bool:
    """Whether ``process`` is stopped (SIGSTOP has taken effect)."""
    stat = Path(f"/proc/{process.pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "T"


class Progress:
    """How far a `cms content load` has gone, read from its progress bar.

    The bar is drawn only on a terminal, so the load's standard error is one
    (a pseudo-terminal whose other end a thread here reads).
    """

    def __init__(self) -> None:
        self.reader, self.writer = pty.openpty()
        self.seen = b""
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with contextlib.suppress(OSError):  # EIO once the load's end is closed
            while chunk := os.read(self.reader, 4096):
                self.seen += chunk

    def done(self) -> int:
        """Files the load has processed, as its bar last said."""
        counts = re.findall(rb"(\d+)/\d+", self.seen)
        return int(counts[-1]) if counts else 0

    def close(self) -> None:
        os.close(self.writer)
        self.thread.join(timeout=20)
        os.close(self.reader)


def _kill_inside_its_transaction(
    load: subprocess.Popen[bytes], progress: Progress, backend: str, url: str
) -> int:
    """SIGKILL ``load`` once it is seen, stopped, :data:`CAUGHT_AT` files into the load
    and inside its write transaction; how many files it had processed.

    The process is stopped for each look, so that it cannot commit between
    being seen inside its transaction and being killed.
    """
    deadline = time.monotonic() + LOAD_TIMEOUT
    while True:
        assert load.poll() is None, "the load ended before it was caught in its transaction"
        assert time.monotonic() < deadline, "the load was never caught in its transaction"
        if progress.done() >= CAUGHT_AT:
            load.send_signal(signal.SIGSTOP)
            wait_for(lambda: _stopped(load), timeout=30, message="the load stopping")
            if _in_write_transaction(backend, url):
                done = progress.done()
                load.kill()
                load.wait()
                return done
            load.send_signal(signal.SIGCONT)
        time.sleep(0.02)  # a poll interval, not a wait for something to happen


def test_a_load_killed_in_its_transaction_leaves_the_database_as_it_was(
    backend: str, database_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "content"
    shutil.copytree(CONTENT, folder)
    load_folder(database_url, folder)
    shutil.rmtree(folder)
    _write_load_folder(folder)
    before = _snapshot(database_url)

    env = server_env(database_url)
    progress = Progress()
    load = subprocess.Popen(
        [str(CMS), "content", "load", str(folder)], env=env,
        stdout=subprocess.DEVNULL, stderr=progress.writer,
    )  # fmt: skip
    try:
        done = _kill_inside_its_transaction(load, progress, backend, database_url)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
        progress.close()
    assert load.returncode == -signal.SIGKILL
    assert CAUGHT_AT <= done < LOADED + 25
    assert _snapshot(database_url) == before
    if backend == "sqlite":
        with contextlib.closing(sqlite3.connect(str(make_url(database_url).database))) as db:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]

    again = subprocess.run(
        [str(CMS), "content", "load", str(folder)], env=env, capture_output=True, text=True,
        timeout=LOAD_TIMEOUT, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"{LOADED} created, 1 updated, 24 unchanged"
    _check_loaded(database_url)


def _check_loaded(url: str) -> None:
    """The loaded articles are published, found by search, linked and in the change feed."""
    settings = Settings(database_url=url, plugins=FIRST_PARTY_PLUGINS, **testing.QUIET)
    with TestClient(create_app(settings)) as http:
        listed = {a["slug"]: a for a in pages(http, ARTICLES)}
        for number in range(LOADED):
            article = listed[f"loaded-{number:03d}"]
            assert article["title"] == f"Loaded article {number}"
            assert article["links"] == [f"condition/{loaded_target(number)}"]
        assert listed[CHANGED]["summary"] == CHANGED_SUMMARY
        found = [hit["slug"] for hit in pages(http, "/api/v1/search", q=COMMON)]
        assert sorted(found) == [f"loaded-{number:03d}" for number in range(LOADED)]
        for number in (0, LOADED - 1):
            hits = http.get("/api/v1/search", params={"q": loaded_word(number)}).json()["data"]
            assert [hit["slug"] for hit in hits] == [f"loaded-{number:03d}"]
        for target in TARGETS:
            linking = {
                item["slug"]
                for item in pages(http, f"/api/v1/conditions/{target}/backlinks")
                if item["slug"].startswith("loaded-")
            }
            expected = {f"loaded-{n:03d}" for n in range(LOADED) if loaded_target(n) == target}
            assert linking == expected, target
        latest: dict[str, dict[str, Any]] = {}
        for event in changes(http):
            latest[event["slug"]] = event
        for number in range(LOADED):
            slug = f"loaded-{number:03d}"
            assert (latest[slug]["event"], latest[slug]["action"]) == ("upsert", "load")
            assert latest[slug]["version"] == listed[slug]["version"]


# --- Helpers of the tests below --------------------------------------------------


async def _drive(base: str, tracked: list[Tracked], auth: dict[str, str], steps: int) -> None:
    """Take each of ``tracked`` through its first ``steps`` steps, each acknowledged."""
    async with httpx.AsyncClient(base_url=base, timeout=HTTP_TIMEOUT) as http:
        for entry in tracked:
            for step in range(len(entry.acked), steps):
                entry.acknowledge(await entry.send(http, step, auth))


def assert_503_problem(response: httpx.Response, *kinds: str) -> dict[str, Any]:
    """``response`` is a 503 problem of one of ``kinds`` that says when to retry."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) > 0
    problem: dict[str, Any] = response.json()
    assert problem["type"] in {PROBLEM_BASE + kind for kind in kinds}, problem
    return problem


def assert_reads_work(http: httpx.Client, path: str, auth: dict[str, str]) -> None:
    """Public and editors' reads of an entry, a list, search and the change feed answer 200."""
    for url, headers in [
        (path, {}), (path, auth), (ARTICLES, {}), (f"{ARTICLES}?status=draft", auth),
        ("/api/v1/search?q=sciatica", {}), ("/api/v1/changes", {}), ("/ready", {}),
    ]:  # fmt: skip
        response = http.get(url, headers=headers)
        assert response.status_code == 200, (url, response.text)


# --- A webhook receiver that never answers -----------------------------------------

HANG = 120.0
"""The webhook timeout: each delivery to the silent receiver hangs this long, longer
than the test's requests take, so that every one of them overlaps a hanging delivery."""
PROMPT = 2.0
"""Seconds any request may take beside a hanging delivery: a write takes a tenth of that
on a quiet machine, and one that waited for the delivery would take :data:`HANG`."""


class SilentReceiver:
    """A webhook receiver on loopback that accepts connections and never answers."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.listener.settimeout(0.1)
        self.held: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/hooks"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _address = self.listener.accept()
            except TimeoutError:
                continue
            self.held.append(connection)  # kept open, never read from nor answered

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=20)
        for connection in self.held:
            connection.close()
        self.listener.close()


@pytest.fixture(name="silent_receiver")
def fixture_silent_receiver() -> Iterator[SilentReceiver]:
    receiver = SilentReceiver()
    yield receiver
    receiver.close()


def test_a_webhook_receiver_that_never_answers_never_slows_the_api(
    editing: Editing, silent_receiver: SilentReceiver, tmp_path: Path
) -> None:
    env = server_env(
        editing.url, CMS_WEBHOOK_DELIVERY="server", CMS_WEBHOOK_POLL_INTERVAL="0.05",
        CMS_WEBHOOK_TIMEOUT=str(HANG),
    )  # fmt: skip
    auth = editing.auth("editor")
    tracked = [Tracked(number) for number in range(3)]
    with (
        served(env, tmp_path / "server.log") as server,
        httpx.Client(base_url=server.base, timeout=HTTP_TIMEOUT) as http,
    ):
        subscribed = http.post(
            "/api/v1/webhooks", json={"url": silent_receiver.url}, headers=editing.auth("admin")
        )
        assert subscribed.status_code == 201, subscribed.text
        asyncio.run(_drive(server.base, tracked[:1], auth, 1))
        wait_for(lambda: silent_receiver.held, message="a delivery reaching the receiver")
        hanging_since = time.monotonic()

        timings: list[tuple[float, str]] = []

        async def timed() -> None:
            async with httpx.AsyncClient(base_url=server.base, timeout=HTTP_TIMEOUT) as client:
                for entry in tracked:
                    for step in range(len(entry.acked), len(STEPS)):
                        started = time.monotonic()
                        entry.acknowledge(await entry.send(client, step, auth))
                        timings.append((time.monotonic() - started, f"{entry.slug} {STEPS[step]}"))
                    for path, headers in [(entry.path, {}), (entry.path, auth), (ARTICLES, {})]:
                        started = time.monotonic()
                        read = await client.get(path, headers=headers)
                        assert read.status_code == 200, read.text
                        timings.append((time.monotonic() - started, f"GET {path}"))

        asyncio.run(timed())
        assert time.monotonic() - hanging_since < HANG, "the deliveries did not hang throughout"
        slowest = max(timings)
        assert slowest[0] < PROMPT, f"{slowest[1]} took {slowest[0]:.2f} s"
        # Nothing came back: every delivery sent is still waiting for its answer.
        endpoint = subscribed.json()["id"]
        log = http.get(f"/api/v1/webhooks/{endpoint}/deliveries", headers=editing.auth("admin"))
        assert log.status_code == 200, log.text
        assert log.json()["data"], "no delivery was made"
        assert {d["status"] for d in log.json()["data"]} == {"pending"}
        assert all(not d["attempt_log"] for d in log.json()["data"])


# --- A full disk --------------------------------------------------------------------

FULL = 4096
"""The server's file-size limit while the disk is "full": below the smallest write a
SQLite write-ahead log makes (its header and one page), above what it has read."""


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_full_disk_answers_503_and_writes_resume_without_a_restart(
    editing: Editing, tmp_path: Path
) -> None:
    """SQLite on a full disk: the running server's file-size limit is lowered under it
    (``RLIMIT_FSIZE``: writes past it fail with EFBIG, as on a full disk; Python
    ignores the SIGXFSZ that would kill it), then raised again."""
    env = server_env(editing.url)
    auth = editing.auth("editor")
    before = [Tracked(number) for number in range(2)]
    during = [Tracked(number) for number in range(2, 4)]
    after = [Tracked(number) for number in range(4, 6)]
    with (
        served(env, tmp_path / "first.log") as server,
        httpx.Client(base_url=server.base, timeout=HTTP_TIMEOUT) as http,
    ):
        # One published entry to change, and one with a change to publish.
        asyncio.run(_drive(server.base, before[:1], auth, 4))
        asyncio.run(_drive(server.base, before[1:], auth, 3))
        soft, hard = resource.prlimit(server.process.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(server.process.pid, resource.RLIMIT_FSIZE, (FULL, hard))
        try:
            for entry in [*during, *before]:  # create; update; publish
                step = len(entry.acked)
                method, path, body = entry.request(step)
                headers = {**auth, "If-Match": entry.etag} if step else auth
                entry.unknown = step
                refused = http.request(method, path, json=body, headers=headers)
                assert_503_problem(refused, "database-unavailable", "storage-full")
            assert_reads_work(http, before[0].path, auth)
        finally:
            resource.prlimit(server.process.pid, resource.RLIMIT_FSIZE, (soft, hard))
        asyncio.run(_drive(server.base, after, auth, len(STEPS)))
    log = (tmp_path / "first.log").read_text()
    assert "Traceback" not in log, log

    with (
        served(env, tmp_path / "second.log") as server,
        httpx.Client(base_url=server.base, timeout=HTTP_TIMEOUT) as http,
    ):
        check_entries(http, before + during + after, auth)
    with contextlib.closing(sqlite3.connect(str(make_url(editing.url).database))) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


_PG_DISK_FULL = (
    """CREATE FUNCTION cms_test_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'could not extend file: no space left' USING ERRCODE = 'disk_full';
    END $$""",
    """CREATE TRIGGER cms_test_disk_full BEFORE INSERT OR UPDATE ON entries
        FOR EACH ROW EXECUTE FUNCTION cms_test_disk_full()""",
)


def _execute(url: str, *statements: str) -> None:
    async def run() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as connection:
                for statement in statements:
                    await connection.exec_driver_sql(statement)
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_a_database_out_of_space_is_a_503_storage_full_problem(
    backend: str, editing: Editing
) -> None:
    """The database's own out-of-space error, through the app's error handling: on
    PostgreSQL ``disk_full`` (SQLSTATE 53100), raised by the server from a trigger;
    on SQLite ``SQLITE_FULL``, from a page limit on the app's connections. Then
    there is room again, and the same app writes."""
    app = create_app(editing.settings(**testing.QUIET))
    room = {"full": True}
    if backend == "postgres":
        _execute(editing.url, *_PG_DISK_FULL)
    else:
        path = str(make_url(editing.url).database)
        with contextlib.closing(sqlite3.connect(path)) as db:
            pages_now = db.execute("PRAGMA page_count").fetchone()[0]

        def cap(connection: Any, _record: Any, _proxy: Any) -> None:
            limit = pages_now if room["full"] else 1_073_741_823  # SQLite's largest
            cursor = connection.cursor()
            cursor.execute(f"PRAGMA max_page_count = {limit}")
            cursor.close()

        event.listen(app.state.services.engine.sync_engine, "checkout", cap)
    auth = editing.auth("editor")
    body = {"title": "No room", "clinics": ["calgary"], "author": "lena-marchetti",
            "body": "Words that need room. " * 8_000}  # fmt: skip
    with TestClient(app) as http:
        refused = http.post(ARTICLES, json=body, headers=auth)
        problem = assert_503_problem(refused, "storage-full")
        assert refused.headers["retry-after"] == "60"
        assert problem["title"] == "Storage full"
        assert_reads_work(http, f"{ARTICLES}/opioids-and-back-pain", auth)
        if backend == "postgres":
            _execute(editing.url, "DROP TRIGGER cms_test_disk_full ON entries")
        room["full"] = False
        created = http.post(ARTICLES, json=body, headers=auth)
        assert created.status_code == 201, created.text


def test_only_errors_about_the_database_itself_are_faults(tmp_path: Path) -> None:
    """SQLite calls a syntax error an OperationalError too: that one is a bug (a 500),
    while a lock held too long or a file that cannot be opened is a 503."""
    path = tmp_path / "cms.db"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("CREATE TABLE t (x)")
        bugs = ["SELEC 1", "SELECT * FROM nowhere", "INSERT INTO t (y) VALUES (1)"]
        for statement in bugs:
            with pytest.raises(sqlite3.OperationalError) as raised:
                db.execute(statement)
            assert database_fault(raised.value) is None, statement
        db.execute("BEGIN IMMEDIATE")
        with contextlib.closing(sqlite3.connect(path, timeout=0)) as other:
            with pytest.raises(sqlite3.OperationalError, match="locked") as raised:
                other.execute("BEGIN IMMEDIATE")
            assert database_fault(raised.value) == "unavailable"
        db.execute("ROLLBACK")
    with pytest.raises(sqlite3.OperationalError, match="unable to open") as raised:
        sqlite3.connect(tmp_path / "missing" / "cms.db")
    assert database_fault(raised.value) == "unavailable"


class CutOffOnce:
    """A plugin whose hook, on the first save, has the server end its connection
    (as a restart or a failover would), inside the save's transaction."""

    name = "cut-off-once"

    def __init__(self) -> None:
        self.cut = False

    @hookimpl
    async def on_entries_saved(self, session: AsyncSession) -> None:
        if not self.cut:
            self.cut = True
            await session.exec(text("SELECT pg_terminate_backend(pg_backend_pid())"))  # type: ignore[call-overload]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_connection_lost_in_a_plugins_hook_is_a_503(editing: Editing) -> None:
    """The hook's error reaches the app wrapped (a PluginError raised from it): what it
    was raised from decides the answer."""
    plugin = CutOffOnce()
    app = create_app(Settings(database_url=editing.url, **testing.QUIET), plugins=[plugin])
    body = {"title": "Cut off", "clinics": ["calgary"], "author": "lena-marchetti"}
    with TestClient(app) as http:
        refused = http.post(ARTICLES, json=body, headers=editing.auth("editor"))
        assert_503_problem(refused, "database-unavailable")
        assert plugin.cut
        created = http.post(ARTICLES, json=body, headers=editing.auth("editor"))
        assert created.status_code == 201, created.text
