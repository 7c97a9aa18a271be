"""The app served by a real uvicorn process, as `cms serve` serves it, for clients to call.

The socket is bound here (a free port of 127.0.0.1, listening at once) and
handed to uvicorn with ``--fd``: no other process can take the port between
choosing and serving it. Readiness is polled (``GET /health``) with a
deadline; nothing sleeps a fixed time.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from cms.client import AsyncClient, Client
from tests.conftest import Databases, EditingTemplate

START_TIMEOUT = 90.0
"""Seconds the server may take to start: importing the app on a busy 2-core machine is slow."""


@contextmanager
def served(url: str, log: Path, environ: Mapping[str, str] | None = None) -> Iterator[str]:
    """The app on database ``url`` in a uvicorn subprocess; yields its base URL.

    Args:
        log: where the server's output goes (shown when it fails to start).
        environ: ``CMS_*`` settings beside the database (the scheduler and
            webhook delivery are off unless they turn them on).
    """
    # No background work in the server unless asked: no scheduler, webhooks left to workers.
    quiet = {"CMS_SCHEDULER_INTERVAL": "0", "CMS_WEBHOOK_DELIVERY": "worker"}
    env = {**os.environ, **quiet, **(environ or {}), "CMS_DATABASE_URL": url}
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, log.open("wb") as output:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "cms.app:create_app",
             "--fd", str(sock.fileno()), "--log-level", "warning", "--no-access-log"],
            env=env, stdout=output, stderr=subprocess.STDOUT, pass_fds=[sock.fileno()],
        )  # fmt: skip
    try:
        _wait_until_ready(server, base, log)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_until_ready(server: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.poll() is not None:
            raise AssertionError(f"the server exited ({server.returncode}):\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"the server did not start in time:\n{log.read_text()}")
        time.sleep(0.1)  # a poll interval, not a wait for something to happen


@dataclass(frozen=True)
class Live:
    """The served demo: its base URL, the secrets of its tokens, its database."""

    base: str
    secrets: dict[str, str]
    database_url: str

    def client(self, token: str | None = None, **kwargs: Any) -> Client:
        return Client(self.base, self.secrets[token] if token else None, **kwargs)

    def async_client(self, token: str | None = None) -> AsyncClient:
        return AsyncClient(self.base, self.secrets[token] if token else None)


@pytest.fixture(name="live", scope="module")
def fixture_live(
    databases: Databases,
    editing_template: EditingTemplate,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Live]:
    """The demo with tokens served by uvicorn: one server per backend and test module.

    Tests sharing it write only entries of their own, or read what no other changes.
    """
    url = databases.fresh(editing_template.url)
    with served(url, tmp_path_factory.mktemp("live") / "server.log") as base:
        yield Live(base, editing_template.secrets, url)
