"""Who the client is behind a proxy: `X-Forwarded-For` is believed from trusted proxies only.

Issue 15, finding 9: uvicorn believed `X-Forwarded-For` from any peer on
127.0.0.1, so a client there could name a new address with each bad token and
never meet the failed-authentication limit. The app is served by `cms serve`
in a process of its own (:mod:`tests.servers`), and the test speaks to it from
127.0.0.1, a peer that is trusted only when ``CMS_TRUSTED_PROXIES`` names it.
The limit is what shows which address a request was counted against.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from cms.serving import uvicorn_options
from cms.settings import Settings, SettingsError
from tests.servers import HTTP_TIMEOUT, QUIET, cms_serve

LIMIT = 3
BAD = "Bearer cms_0123456789abcdef_" + "A" * 43
PATH = "/api/v1/articles"


@contextmanager
def served(database_url: str, log: Path, trusted: str) -> Iterator[httpx.Client]:
    """A client of `cms serve` on ``database_url`` with ``CMS_TRUSTED_PROXIES=trusted``."""
    env = {**os.environ, **QUIET, "CMS_DATABASE_URL": database_url,
           "CMS_AUTH_FAILURE_LIMIT": str(LIMIT), "CMS_TRUSTED_PROXIES": trusted}  # fmt: skip
    with cms_serve(env, log) as base, httpx.Client(base_url=base, timeout=HTTP_TIMEOUT) as client:
        yield client


def failing(client: httpx.Client, forwarded_for: str | None = None) -> int:
    """The status of a request with a bad token, from ``forwarded_for`` if given."""
    headers = {"Authorization": BAD}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    return client.get(PATH, headers=headers).status_code


@pytest.mark.parametrize(
    "trusted",
    ["", "10.0.0.0/8, 192.0.2.7, ::1"],
    ids=["no-proxy-trusted", "other-proxies-trusted"],
)
def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    database_url: str, tmp_path: Path, trusted: str
) -> None:
    with served(database_url, tmp_path / "server.log", trusted) as client:
        # A new address in every request: all of them are 127.0.0.1's failures.
        statuses = [failing(client, f"203.0.113.{n}") for n in range(LIMIT + 1)]
        assert statuses == [401] * LIMIT + [429]
        assert failing(client) == 429


def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    database_url: str, tmp_path: Path
) -> None:
    with served(database_url, tmp_path / "server.log", "127.0.0.1") as client:
        assert [failing(client, "203.0.113.1") for _ in range(LIMIT + 1)] == [401] * LIMIT + [429]
        # Each client behind the proxy has a count of its own, and so has the proxy.
        assert failing(client, "203.0.113.2") == 401
        assert failing(client) == 401
        # The client is the last address the proxies did not add: a client's
        # own X-Forwarded-For, passed on and appended to, changes nothing.
        assert failing(client, "198.51.100.9, 203.0.113.1") == 429
        assert failing(client, "203.0.113.1, 127.0.0.1") == 429


def test_serving_options_trust_only_the_configured_proxies() -> None:
    assert uvicorn_options(Settings()) == {
        "server_header": False, "proxy_headers": False, "forwarded_allow_ips": [],
    }  # fmt: skip
    configured = Settings.from_env({"CMS_TRUSTED_PROXIES": "10.0.0.5, 10.1.0.0/16"})
    assert uvicorn_options(configured)["forwarded_allow_ips"] == ["10.0.0.5", "10.1.0.0/16"]
    assert uvicorn_options(configured)["proxy_headers"] is True
    everyone = Settings.from_env({"CMS_TRUSTED_PROXIES": "10.0.0.5,*"})
    assert uvicorn_options(everyone)["forwarded_allow_ips"] == "*"


@pytest.mark.parametrize("value", ["proxy.internal", "10.0.0.0/33", "10.0.0.1:8080"])
def test_a_trusted_proxy_that_is_not_an_address_fails_start_up(value: str) -> None:
    with pytest.raises(SettingsError, match="CMS_TRUSTED_PROXIES"):
        Settings.from_env({"CMS_TRUSTED_PROXIES": value})
