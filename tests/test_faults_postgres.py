"""PostgreSQL stopped and started again under load, with the CMS left running.

The test runs a PostgreSQL cluster of its own (``initdb`` into a temporary
folder, a free port, its socket in that folder): the machine's shared server,
which other test runs use, is never touched. Stopping it is ``pg_ctl stop -m
immediate``, as a crash or a failover looks to its clients.

It needs PostgreSQL's server programs (Debian: the ``postgresql`` package).
Without them it is skipped, saying why; under CI (``CI`` set) it fails.
As root, the programs run as the ``postgres`` user (``initdb`` refuses root).
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from cms import testing
from cms.storage.migrate import upgrade
from tests.browser.chromium import unavailable
from tests.conftest import CONTENT, load_folder, wait_for
from tests.faults import ARTICLES, server_env
from tests.servers import Served, served
from tests.test_faults import assert_503_problem

QUICK = 2.0
"""Seconds within which a request answers while the database is down ("quickly"): a
refused connection fails at once, and the CMS gives up connecting after
``cms.storage.db.CONNECT_TIMEOUT`` even when nothing answers at all."""
PG_TIMEOUT = 120
"""Seconds ``pg_ctl`` may take to start or stop the cluster on a busy machine."""


def _server_programs() -> Path:
    """The folder of PostgreSQL's server programs, or skip (fail under CI)."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(Path(done.stdout.strip()))
    # Debian installs each major version's programs side by side; pg_config may be
    # the client package's only. The newest first.
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(
        versions, key=lambda p: -int(p.parent.name) if p.parent.name.isdigit() else 0
    )
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return unavailable("PostgreSQL's server programs (initdb, pg_ctl) are not installed")


@dataclass
class Cluster:
    """A PostgreSQL cluster of this test's own."""

    programs: Path
    home: Path
    """Its folder: data, socket and log."""
    port: int
    run_as: list[str] = field(default_factory=list)
    """The command prefix that runs a program as the cluster's owner (empty: as we are)."""

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self.run_as, str(self.programs / program), *args],
            capture_output=True, text=True, timeout=PG_TIMEOUT + 30, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"{program} {args}: {done.stdout}{done.stderr}"

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.home / "data"), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=50"
        )
        self._run(
            "pg_ctl", "-D", str(self.home / "data"), "-l", str(self.home / "log"), "-w",
            "-t", str(PG_TIMEOUT), "-o", options, "start",
        )  # fmt: skip

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", str(self.home / "data"), "-w", "-t", str(PG_TIMEOUT),
                  "-m", mode, "stop")  # fmt: skip

    def running(self) -> bool:
        return (self.home / "data" / "postmaster.pid").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(name="cluster")
def fixture_cluster() -> Iterator[Cluster]:
    """A fresh cluster, started; stopped and removed afterwards."""
    programs = _server_programs()
    run_as: list[str] = []
    # A folder of its own under the system's temporary folder: pytest's is
    # private to its user, and the cluster's owner must be able to reach it.
    home = Path(tempfile.mkdtemp(prefix="cms-pg-"))
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            owner = None
        if runuser is None or owner is None:
            shutil.rmtree(home)
            unavailable("as root, PostgreSQL must run as the postgres user, which is missing")
        os.chown(home, owner.pw_uid, owner.pw_gid)
        run_as = [runuser, "-u", "postgres", "--"]
    cluster = Cluster(programs, home, _free_port(), run_as)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.running():
            cluster.stop()
        shutil.rmtree(home, ignore_errors=True)


@dataclass
class Answer:
    """One request of the load, and what came of it."""

    phase: str
    """What the database was doing when the request was sent."""
    ended: str
    """... and when its answer came."""
    what: str
    seconds: float
    status: int | None
    """None: no HTTP answer at all."""
    response: httpx.Response | None = None


async def _load(
    served_: Served,
    auth: dict[str, str],
    phase: list[str],
    stop: asyncio.Event,
    answers: list[Answer],
) -> None:
    """Readers and one writer, each request after the last, until ``stop``."""
    slug = "opioids-and-back-pain"

    async def one(
        http: httpx.AsyncClient, what: str, method: str, path: str, **kwargs: Any
    ) -> httpx.Response | None:
        now = phase[0]
        started = time.monotonic()
        try:
            response = await http.request(method, path, **kwargs)
        except httpx.TransportError:
            answers.append(Answer(now, phase[0], what, time.monotonic() - started, None))
            return None
        seconds = time.monotonic() - started
        answers.append(Answer(now, phase[0], what, seconds, response.status_code, response))
        return response

    async def reader(paths: list[str]) -> None:
        async with httpx.AsyncClient(base_url=served_.base, timeout=60) as http:
            while not stop.is_set():
                for path in paths:
                    await one(http, f"GET {path}", "GET", path)

    async def writer() -> None:
        async with httpx.AsyncClient(base_url=served_.base, timeout=60) as http:
            number = 0
            while not stop.is_set():
                number += 1
                created = {
                    "title": f"Written under load {number}",
                    "clinics": ["calgary"],
                    "author": "lena-marchetti",
                    "body": "Written while the database went down and came back.",
                }
                await one(http, "POST", "POST", ARTICLES, json=created, headers=auth)
                got = await one(http, "GET (editor)", "GET", f"{ARTICLES}/{slug}", headers=auth)
                if got is not None and got.status_code == 200:
                    await one(
                        http, "PATCH", "PATCH", f"{ARTICLES}/{slug}",
                        json={"summary": f"Summary number {number}."},
                        headers={**auth, "If-Match": got.headers["etag"]},
                    )  # fmt: skip

    await asyncio.gather(
        reader([f"{ARTICLES}/{slug}", ARTICLES, "/api/v1/search?q=sciatica"]),
        reader([f"{ARTICLES}?limit=5&sort=title", "/api/v1/changes", "/ready"]),
        writer(),
    )


def test_postgresql_restarted_under_load(cluster: Cluster, tmp_path: Path) -> None:
    upgrade(cluster.url)
    load_folder(cluster.url, CONTENT)
    secret = testing.mint_tokens(cluster.url, {"editor": ("editor", ())})["editor"]
    auth = {"Authorization": f"Bearer {secret}"}
    # With the scheduler and webhook delivery on: background work must outlive it too.
    env = server_env(cluster.url, CMS_SCHEDULER_INTERVAL="0.5", CMS_WEBHOOK_DELIVERY="server")
    phase = ["up"]
    answers: list[Answer] = []

    def count(wanted: str, ok: bool = True) -> int:
        return sum(
            1 for a in answers
            if a.phase == wanted and (not ok or (a.status is not None and a.status < 300))
        )  # fmt: skip

    with served(env, tmp_path / "server.log") as server:

        async def run() -> None:
            stop = asyncio.Event()
            load = asyncio.create_task(_load(server, auth, phase, stop, answers))

            async def until(condition: Callable[[], Any], message: str) -> None:
                await asyncio.to_thread(wait_for, condition, message=message)

            try:
                await until(lambda: count("up") >= 20, "answers before the stop")
                phase[0] = "stopping"
                await asyncio.to_thread(cluster.stop)
                phase[0] = "down"
                await until(lambda: count("down", ok=False) >= 30, "answers while it is down")
                phase[0] = "starting"
                await asyncio.to_thread(cluster.start)
                phase[0] = "back"
                await until(lambda: count("back") >= 30, "answers once it is back")
                await until(
                    lambda: {"POST", "PATCH"} <= {a.what for a in answers if a.phase == "back"},
                    "writes once it is back",
                )
            finally:
                stop.set()
                await load

        asyncio.run(run())
        assert server.process.poll() is None, "the server did not outlive its database"

    log = (tmp_path / "server.log").read_text()
    by_phase: dict[str, list[Answer]] = {}
    for answer in answers:
        by_phase.setdefault(answer.phase, []).append(answer)
    # Never a 500, never a dropped connection, whatever the database was doing.
    for answer in answers:
        assert answer.status is not None, (answer.phase, answer.what, "no answer")
        assert answer.status in (200, 201, 503), (answer.phase, answer.what, answer.status)
    assert {a.status for a in by_phase["up"] if a.ended == "up"} == {200, 201}
    # Sent and answered while it was down (one sent then may be answered after the
    # start, by then with a 200).
    for answer in (a for a in by_phase["down"] if a.ended == "down"):
        assert answer.response is not None
        if answer.what == "GET /ready":
            assert answer.status == 503
        else:
            assert_503_problem(answer.response, "database-unavailable")
        assert answer.seconds < QUICK, (answer.what, answer.seconds)
    assert {a.what for a in by_phase["down"]} >= {"POST", "GET (editor)", f"GET {ARTICLES}"}
    # Back without a restart: the pool's dead connections are replaced on their next use.
    assert {a.status for a in by_phase["back"]} == {200, 201}, [
        (a.what, a.response.text if a.response else None)
        for a in by_phase["back"] if a.status not in (200, 201)
    ]  # fmt: skip
    assert "unhandled error" not in log, log
