"""HEAD, conditional HEAD and CORS preflights as `curl -I` and browsers meet them.

The demo is served by `cms serve` in a process of its own (:mod:`tests.servers`)
and spoken to over a plain socket: what is checked is the bytes on the wire.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.servers import QUIET, cms_serve

CALGARY = "https://calgary.example.com"
ENTRY = "/api/v1/articles/causes-of-low-back-pain-and-sciatica"
LIST = "/api/v1/articles?limit=5"
FEED = "/api/v1/clinics/calgary/feed.atom"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    """Every byte after the headers, up to the closed connection."""


def exchange(port: int, method: str, path: str, **headers: str) -> Answer:
    """One request over a fresh connection, read to its end."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split()[1]), parsed, body)


@pytest.fixture(name="port", scope="module")
def fixture_port(demo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The demo served by `cms serve`; its port."""
    env = {**os.environ, **QUIET, "CMS_DATABASE_URL": demo_url}
    with cms_serve(env, tmp_path_factory.mktemp("served") / "server.log") as base:
        yield int(base.rsplit(":", 1)[1])


@pytest.mark.parametrize("path", ["/health", ENTRY, LIST, FEED])
def test_head_is_200_with_the_get_headers_and_no_body(port: int, path: str) -> None:
    got = exchange(port, "GET", path)
    head = exchange(port, "HEAD", path)
    assert got.status == head.status == 200
    assert head.body == b""
    assert head.headers["etag"] == got.headers["etag"]
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-length"] == str(len(got.body)) != "0"
    assert head.headers.get("cache-control") == got.headers.get("cache-control")


@pytest.mark.parametrize("path", ["/health", ENTRY, LIST, FEED])
def test_head_with_a_current_etag_is_304(port: int, path: str) -> None:
    etag = exchange(port, "HEAD", path).headers["etag"]
    head = exchange(port, "HEAD", path, If_None_Match=etag)
    assert head.status == 304
    assert head.body == b""
    assert head.headers["etag"] == etag


def test_a_preflight_from_a_clinic_site_is_allowed_and_from_another_is_not(port: int) -> None:
    asked = {"Access_Control_Request_Method": "PATCH",
             "Access_Control_Request_Headers": "authorization, if-match, content-type"}  # fmt: skip
    clinic = exchange(port, "OPTIONS", ENTRY, Origin=CALGARY, **asked)
    assert clinic.status == 204
    assert clinic.headers["access-control-allow-origin"] == CALGARY
    assert clinic.headers["access-control-allow-methods"] == "DELETE, GET, HEAD, OPTIONS, PATCH"
    assert clinic.headers["access-control-allow-headers"] == (
        "Authorization, Content-Type, If-Match, If-None-Match"
    )
    assert clinic.headers["access-control-max-age"] == "600"
    assert clinic.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH"
    other = exchange(port, "OPTIONS", ENTRY, Origin="https://elsewhere.example", **asked)
    assert other.status == 204
    assert not [name for name in other.headers if name.startswith("access-control-")]
    assert other.headers["vary"] == "Origin"
