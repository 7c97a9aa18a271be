"""Absolute URLs come from configured bases, never from the request (issue 15, finding 10).

An outside audit asked for a preview link with ``Host: evil.example`` and got
a link to evil.example: an editor would have sent the draft, and the token in
the link, to whoever the attacker is. Feeds' links were built the same way
(and cached per host). Every absolute URL the API writes now starts with
``CMS_PUBLIC_URL`` (default: the address ``cms serve`` binds), or with a
clinic's ``site_url`` (canonical URLs, JSON-LD); none with ``Host``,
``X-Forwarded-Host``, ``X-Forwarded-Proto`` or ``Forwarded``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from cms.app import create_app
from cms.settings import Settings, SettingsError
from tests.conftest import PUBLIC_BASE, Editing, serving

API = "/api/v1"
ATTACKER = "evil.example"
FORGED = {
    "Host": ATTACKER,
    "X-Forwarded-Host": f"fwd.{ATTACKER}",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Prefix": f"//{ATTACKER}",
    "Forwarded": f"host=fwd2.{ATTACKER};proto=https",
}
# Every read that may hold an absolute URL, or echo the request: the index, the
# documentation page and document, lists, details (canonical URLs, JSON-LD),
# every feed format (paged, so that it has `next` links), the change feed,
# search, links, the plugins, and problems.
READS = (
    "/",
    API,
    "/schema",
    "/schema/openapi.json",
    f"{API}/plugins",
    f"{API}/articles?limit=2",
    f"{API}/articles/opioids-and-back-pain",
    f"{API}/clinics/calgary",
    f"{API}/clinics/calgary/feed.atom?limit=2",
    f"{API}/clinics/calgary/feed.rss?limit=2",
    f"{API}/clinics/calgary/feed.json?limit=2",
    f"{API}/series/patient-stories/feed.atom",
    f"{API}/changes?limit=5",
    f"{API}/search?q=back",
    f"{API}/articles/opioids-and-back-pain/backlinks",
    f"{API}/articles/no-such-article",
    f"{API}/clinics/calgary/feed.rss?limit=0",
)


def _answer(response: httpx.Response) -> bytes:
    """Everything a response says: status, headers and body."""
    head = "".join(f"{k}: {v}\n" for k, v in response.headers.multi_items())
    return f"{response.status_code}\n{head}\n".encode() + response.content


def _forged(headers: dict[str, str] | None = None) -> dict[str, str]:
    return {**FORGED, **(headers or {}), "Accept-Encoding": "identity"}


@pytest.mark.parametrize("path", READS)
def test_no_read_names_the_host_it_was_asked_by(demo: TestClient[Any], path: str) -> None:
    forged = demo.get(path, headers=_forged())
    assert ATTACKER not in _answer(forged).decode(), path
    # The same bytes whoever asks: nothing forged is cached for the next reader.
    assert demo.get(path, headers={"Accept-Encoding": "identity"}).content == forged.content


def test_feed_links_start_at_the_public_base(demo: TestClient[Any]) -> None:
    page = demo.get(f"{API}/clinics/calgary/feed.json?limit=2", headers=_forged()).json()
    assert page["feed_url"] == f"{PUBLIC_BASE}{API}/clinics/calgary/feed.json?limit=2"
    assert page["next_url"].startswith(f"{PUBLIC_BASE}{API}/clinics/calgary/feed.json?")


def test_no_write_answer_names_the_host(client: TestClient[Any], editing: Editing) -> None:
    auth = _forged(editing.auth("editor"))
    # A preview link: the audit's request.
    link = client.post(f"{API}/articles/opioids-and-back-pain/preview", json={}, headers=auth)
    assert link.status_code == 200, link.text
    assert ATTACKER not in _answer(link).decode()
    assert link.json()["url"].startswith(f"{PUBLIC_BASE}{API}/preview/")
    shown = client.get(link.json()["url"].removeprefix(PUBLIC_BASE), headers=_forged())
    assert shown.status_code == 200
    assert ATTACKER not in _answer(shown).decode()
    # A new entry's Location, a renamed one's redirect.
    created = client.post(f"{API}/articles", json={"title": "Where am I"}, headers=auth)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"{API}/articles/where-am-i"
    assert ATTACKER not in _answer(created).decode()
    renamed = client.patch(
        f"{API}/articles/where-am-i",
        json={"slug": "here-i-am"},
        headers={**auth, "If-Match": created.headers["etag"]},
    )
    assert renamed.status_code == 200, renamed.text
    moved = client.get(f"{API}/articles/where-am-i", headers=auth, follow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["location"] == f"{API}/articles/here-i-am"
    assert ATTACKER not in _answer(moved).decode()
    # A stale write's 412, which carries the entry.
    stale = client.patch(
        f"{API}/articles/here-i-am", json={"summary": "x"}, headers={**auth, "If-Match": '"0"'}
    )
    assert stale.status_code == 412
    assert ATTACKER not in _answer(stale).decode()


def test_cms_public_url_is_the_base_of_every_absolute_url(editing: Editing) -> None:
    base = "https://cms.clinics.example/content"
    settings = editing.settings(public_url=base + "/")
    with TestClient(create_app(settings)) as client:
        auth = _forged(editing.auth("editor"))
        link = client.post(f"{API}/articles/opioids-and-back-pain/preview", json={}, headers=auth)
        assert link.json()["url"].startswith(f"{base}{API}/preview/")
        page = client.get(f"{API}/clinics/calgary/feed.json?limit=2", headers=_forged()).json()
        assert page["feed_url"] == f"{base}{API}/clinics/calgary/feed.json?limit=2"
        assert page["next_url"].startswith(f"{base}{API}/clinics/calgary/feed.json?limit=2&")
        atom = client.get(f"{API}/clinics/calgary/feed.atom?limit=2", headers=_forged()).text
        assert f'href="{base}{API}/clinics/calgary/feed.atom?limit=2"' in atom
        assert ATTACKER not in atom
        # Canonical URLs and JSON-LD come from the clinics' site_url, as before.
        article = client.get(f"{API}/articles/opioids-and-back-pain", headers=_forged()).json()
        assert article["canonical_url"].startswith("https://edmonton.example.com/")
        assert article["json_ld"]["@graph"][0]["url"] == article["canonical_url"]


def test_a_served_instance_ignores_forwarded_hosts_too(editing: Editing) -> None:
    """Through uvicorn, which trusts proxy headers from the loopback address."""
    public = {"CMS_PUBLIC_URL": "https://cms.clinics.example"}
    with serving(editing.url, public) as base, httpx.Client(base_url=base) as http:
        link = http.post(
            f"{API}/articles/opioids-and-back-pain/preview",
            json={},
            headers=_forged(editing.auth("editor")),
        )
        assert link.status_code == 200, link.text
        assert link.json()["url"].startswith(f"https://cms.clinics.example{API}/preview/")
        feed = http.get(f"{API}/clinics/calgary/feed.rss?limit=1", headers=_forged())
        assert feed.status_code == 200
        assert ATTACKER not in _answer(feed).decode()
        assert f"https://cms.clinics.example{API}/clinics/calgary/feed.rss" in feed.text


@pytest.mark.parametrize(
    ("environ", "base"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"CMS_PORT": "8443"}, "http://127.0.0.1:8443"),
        # Every address: none to link to.
        ({"CMS_HOST": "0.0.0.0", "CMS_PORT": "9000"}, "http://127.0.0.1:9000"),  # noqa: S104
        ({"CMS_HOST": "::1"}, "http://[::1]:8000"),
        ({"CMS_HOST": "cms.internal"}, "http://cms.internal:8000"),
        ({"CMS_PUBLIC_URL": "https://cms.clinics.example/"}, "https://cms.clinics.example"),
        ({"CMS_PUBLIC_URL": "https://clinics.example/cms"}, "https://clinics.example/cms"),
    ],
)
def test_the_public_base_and_its_default(environ: dict[str, str], base: str) -> None:
    assert Settings.from_env(environ).public_base == base


@pytest.mark.parametrize(
    "value",
    [
        "javascript:alert(1)",
        "cms.clinics.example",
        "//cms.clinics.example",
        "ftp://cms.clinics.example",
        "https://cms.clinics.example/?x=1",
        "https://cms.clinics.example/#top",
        "https://user@cms.clinics.example",
    ],
)
def test_a_bad_public_url_fails_start_up_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="CMS_PUBLIC_URL"):
        Settings.from_env({"CMS_PUBLIC_URL": value})
