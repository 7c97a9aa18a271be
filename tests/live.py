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
from pathlib import Path

import httpx

START_TIMEOUT = 90.0
"""Seconds the server may take to start: importing the app on a busy 2-core machine is slow."""


@contextmanager
def served(url: str, log: Path, environ: Mapping[str, str] | None = None) -> Iterator[str]:
    """The app on database ``url`` in a uvicorn subprocess; yields its base URL.

    Args:
        log: where the server's output goes (shown when it fails to start).
        environ: ``CMS_*`` settings beside the database (the scheduler is off
            unless they turn it on).
    """
    env = {**os.environ, "CMS_SCHEDULER_INTERVAL": "0", **(environ or {}), "CMS_DATABASE_URL": url}
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
