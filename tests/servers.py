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
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, log.open("wb") as output:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        server = subprocess.Popen(
            [str(CMS), "serve", "--fd", str(sock.fileno()), *options],
            env=dict(env), cwd=cwd, stdout=output, stderr=subprocess.STDOUT,
            pass_fds=[sock.fileno()],
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
