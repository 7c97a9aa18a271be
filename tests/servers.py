"""`cms serve` in a process of its own, as `make run` starts it, for tests that speak HTTP.

The socket is bound here (a free port of 127.0.0.1, listening at once) and
handed to the server with ``cms serve --fd``: no other process can take the
port between choosing and serving it. Readiness is polled (``GET /health``)
with a deadline; nothing sleeps a fixed time.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

CMS = Path(sys.executable).parent / "cms"
HTTP_TIMEOUT = 60.0
"""Seconds a test's request to a served app may take: on a busy 2-core machine a
write can take seconds, and this only has to tell a hang from a slow answer."""
START_TIMEOUT = 90.0
"""Seconds the server may take to start: importing the app on a busy 2-core machine is slow."""
QUIET = {"CMS_SCHEDULER_INTERVAL": "0", "CMS_WEBHOOK_DELIVERY": "worker"}
"""Settings of a server that does no background work (no scheduler, webhooks left to workers)."""


@dataclass
class Served:
    """A running `cms serve`: its base URL and its process."""

    base: str
    process: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL: the server dies mid-whatever, as in a crash or an OOM kill."""
        self.process.kill()
        self.process.wait()


@contextmanager
def served(
    env: Mapping[str, str], log: Path, *options: str, cwd: Path | None = None
) -> Iterator[Served]:
    """`cms serve` with environment ``env`` until the block ends (or the test kills it).

    Its output is relayed to ``log`` through a pipe by a thread of this
    process, so that a limit put on the server's own files (the full-disk
    tests) never stops its log.

    Args:
        env: the whole environment of the server (``CMS_DATABASE_URL`` and
            any other setting).
        log: where the server's output goes (shown when it fails to start).
        options: more options of `cms serve` (``--workers 2``).
        cwd: the folder it runs in (a relative SQLite path is read from there).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        server = subprocess.Popen(
            [str(CMS), "serve", "--fd", str(sock.fileno()), *options],
            env=dict(env), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            pass_fds=[sock.fileno()],
        )  # fmt: skip
    relay = threading.Thread(target=_relay, args=(server, log), daemon=True)
    relay.start()
    try:
        _wait_until_ready(server, base, log, relay)
        yield Served(base, server, log)
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        relay.join(timeout=20)


def _relay(server: subprocess.Popen[bytes], log: Path) -> None:
    assert server.stdout is not None
    with server.stdout as lines, log.open("ab") as output:
        for line in lines:
            output.write(line)
            output.flush()


@contextmanager
def cms_serve(
    env: Mapping[str, str], log: Path, *options: str, cwd: Path | None = None
) -> Iterator[str]:
    """`cms serve` with environment ``env`` until the block ends; yields its base URL.

    Args:
        env: the whole environment of the server (``CMS_DATABASE_URL`` and
            any other setting).
        log: where the server's output goes (shown when it fails to start).
        options: more options of `cms serve` (``--workers 2``).
        cwd: the folder it runs in (a relative SQLite path is read from there).
    """
    with served(env, log, *options, cwd=cwd) as server:
        yield server.base


def _wait_until_ready(
    server: subprocess.Popen[bytes], base: str, log: Path, relay: threading.Thread
) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.poll() is not None:
            relay.join(timeout=20)  # the last of its output, which says why
            raise AssertionError(f"the server exited ({server.returncode}):\n{_read(log)}")
        try:
            if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"the server did not start in time:\n{_read(log)}")
        time.sleep(0.1)  # a poll interval, not a wait for something to happen


def _read(log: Path) -> str:
    return log.read_text(errors="replace") if log.exists() else ""
