"""CORS over the app: the published clinics' sites, CMS_CORS_ORIGINS, `*` for public reads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from cms.app import create_app
from cms.http.cors import origin_of
from cms.settings import Settings, SettingsError
from tests.conftest import Editing, counting

CALGARY = "https://calgary.example.com"
EDMONTON = "https://edmonton.example.com"
STRANGER = "https://stranger.example"
ARTICLE = "/api/v1/articles/causes-of-low-back-pain-and-sciatica"
ALL_HEADERS = "Authorization, Content-Type, If-Match, If-None-Match"
EXPOSED = "Allow, ETag, Link, Location, Retry-After, WWW-Authenticate, X-Request-ID"


def preflight(client: TestClient[Any], path: str, origin: str, method: str = "PATCH") -> Any:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, if-match, content-type",
        },
    )


def cors_headers(response: Any) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def varies_on_origin(response: Any) -> bool:
    return "Origin" in [v.strip() for v in response.headers["vary"].split(",")]


@pytest.fixture(name="open_reads")
def fixture_open_reads(editing: Editing) -> Iterator[TestClient[Any]]:
    """The demo with CMS_CORS_ORIGINS naming one origin, and `*`."""
    settings = editing.settings(cors_origins=("https://Partner.example:8443/", "*"))
    with TestClient(create_app(settings)) as client:
        yield client


# --- The clinics' sites --------------------------------------------------------------


def test_a_preflight_from_a_clinic_site_gets_the_methods_and_headers_of_the_path(
    demo: TestClient[Any],
) -> None:
    response = preflight(demo, ARTICLE, CALGARY)
    assert response.status_code == 204
    assert cors_headers(response) == {
        "access-control-allow-origin": CALGARY,
        "access-control-allow-methods": "DELETE, GET, HEAD, OPTIONS, PATCH",
        "access-control-allow-headers": ALL_HEADERS,
        "access-control-max-age": "600",
    }
    assert varies_on_origin(response)
    listed = preflight(demo, "/api/v1/articles", EDMONTON, method="POST")
    assert listed.headers["access-control-allow-origin"] == EDMONTON
    assert listed.headers["access-control-allow-methods"] == "GET, HEAD, OPTIONS, POST"


def test_a_preflight_from_another_origin_gets_no_cors_header(demo: TestClient[Any]) -> None:
    for origin in (STRANGER, "https://calgary.example.com:8443", "http://calgary.example.com"):
        response = preflight(demo, ARTICLE, origin)
        assert response.status_code == 204
        assert cors_headers(response) == {}, origin
        assert varies_on_origin(response)


def test_a_preflight_of_an_unknown_path_allows_nothing(demo: TestClient[Any]) -> None:
    response = preflight(demo, "/api/v1/nothing-here", CALGARY)
    assert response.status_code == 404
    assert cors_headers(response) == {}


def test_responses_to_a_clinic_site_carry_its_origin_and_exposed_headers(
    demo: TestClient[Any],
) -> None:
    for path in (ARTICLE, "/api/v1/articles", "/api/v1/clinics/calgary/feed.atom", "/health"):
        response = demo.get(path, headers={"Origin": CALGARY})
        assert response.status_code == 200
        assert cors_headers(response) == {
            "access-control-allow-origin": CALGARY,
            "access-control-expose-headers": EXPOSED,
        }, path
        assert varies_on_origin(response)
    # Errors too, so that the page can read the problem.
    missing = demo.get("/api/v1/articles/nope", headers={"Origin": CALGARY})
    assert missing.status_code == 404
    assert missing.headers["access-control-allow-origin"] == CALGARY
    # And a 304 (a browser revalidating what it keeps).
    etag = demo.get(ARTICLE).headers["etag"]
    fresh = demo.get(ARTICLE, headers={"Origin": CALGARY, "If-None-Match": etag})
    assert fresh.status_code == 304
    assert fresh.headers["access-control-allow-origin"] == CALGARY


def test_the_response_cache_never_replays_one_origin_headers_to_another(
    demo: TestClient[Any],
) -> None:
    path = "/api/v1/articles?limit=3&sort=title"
    first = demo.get(path, headers={"Origin": CALGARY})
    assert first.headers["access-control-allow-origin"] == CALGARY
    for origin, expected in ((EDMONTON, EDMONTON), (STRANGER, None), (None, None)):
        response = demo.get(path, headers={"Origin": origin} if origin else {})
        assert response.headers["etag"] == first.headers["etag"]  # the cached bytes
        assert response.headers.get("access-control-allow-origin") == expected
        assert varies_on_origin(response)


def test_without_origin_nothing_but_vary(demo: TestClient[Any]) -> None:
    response = demo.get(ARTICLE)
    assert cors_headers(response) == {}
    assert response.headers["vary"] == "Accept-Encoding, Authorization, Origin"


def test_a_clinic_site_may_write_with_a_token(client: TestClient[Any], editing: Editing) -> None:
    auth = editing.auth("editor")
    etag = client.get(ARTICLE, headers=auth).headers["etag"]
    response = client.patch(
        ARTICLE,
        json={"summary": "Changed from the clinic's site."},
        headers={**auth, "If-Match": etag, "Origin": CALGARY},
    )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == CALGARY
    assert response.headers["access-control-expose-headers"] == EXPOSED


# --- A clinic published, moved or taken down, without a restart -------------------------


def test_a_newly_published_clinic_site_is_allowed_at_once_and_follows_its_clinic(
    client: TestClient[Any], editing: Editing
) -> None:
    site = "https://red-deer.example:8443"
    admin = editing.auth("admin")
    created = client.post(
        "/api/v1/clinics", json={"title": "Red Deer Clinic", "site_url": site + "/"},
        headers=admin,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    slug, etag = created.json()["slug"], created.headers["etag"]
    # A draft clinic's site is not allowed.
    assert cors_headers(preflight(client, ARTICLE, site)) == {}

    def publish(etag: str) -> str:
        done = client.post(f"/api/v1/clinics/{slug}/publish", headers={**admin, "If-Match": etag})
        assert done.status_code == 200, done.text
        return str(done.headers["etag"])

    etag = publish(etag)
    assert preflight(client, ARTICLE, site).headers["access-control-allow-origin"] == site
    assert client.get(ARTICLE, headers={"Origin": site}).headers[
        "access-control-allow-origin"
    ] == site  # fmt: skip

    # A new site_url, published: the new origin in, the old one out.
    moved = "https://reddeer.example"
    changed = client.patch(
        f"/api/v1/clinics/{slug}", json={"site_url": moved},
        headers={**admin, "If-Match": etag},
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    # Still the published version's site until it is published again.
    assert preflight(client, ARTICLE, site).headers["access-control-allow-origin"] == site
    assert cors_headers(preflight(client, ARTICLE, moved)) == {}
    etag = publish(changed.headers["etag"])
    assert preflight(client, ARTICLE, moved).headers["access-control-allow-origin"] == moved
    assert cors_headers(preflight(client, ARTICLE, site)) == {}

    taken_down = client.post(
        f"/api/v1/clinics/{slug}/unpublish", headers={**admin, "If-Match": etag}
    )
    assert taken_down.status_code == 200, taken_down.text
    assert cors_headers(preflight(client, ARTICLE, moved)) == {}
    assert "access-control-allow-origin" not in client.get(
        ARTICLE, headers={"Origin": moved}
    ).headers  # fmt: skip


def test_knowing_the_clinic_sites_costs_no_query_per_request(editing: Editing) -> None:
    """A cached read from a clinic's site costs what the same read without Origin does
    (the one purge-number read, shared); the sites are read once per purge."""
    # Background tasks off: their polls would be counted too.
    app = create_app(editing.settings(scheduler_interval=0, webhook_delivery="worker"))
    with TestClient(app) as client:
        _count_reads(client, app, editing)


def _count_reads(client: TestClient[Any], app: Any, editing: Editing) -> None:
    path = "/api/v1/articles?limit=5"
    client.get(path, headers={"Origin": CALGARY})  # warm: the page and the sites
    with counting(app) as plain:
        client.get(path)
    for origin in (CALGARY, STRANGER, EDMONTON):
        with counting(app) as browser:
            response = client.get(path, headers={"Origin": origin})
        assert response.status_code == 200
        assert browser == plain, origin
    # A preflight reads no content, nor the sites again.
    with counting(app) as pre:
        preflight(client, ARTICLE, CALGARY)
    assert not any("published_entries" in s for s in pre)
    # A write moves the purge number (a draft too, for plugins' answers that name no
    # key): the next browser request reads the sites once more, and only once.
    auth = editing.auth("editor")
    etag = client.get(ARTICLE, headers=auth).headers["etag"]
    patched = client.patch(ARTICLE, json={"summary": "x"}, headers={**auth, "If-Match": etag})
    assert patched.status_code == 200
    with counting(app) as after_write:
        preflight(client, ARTICLE, CALGARY)
        preflight(client, ARTICLE, CALGARY)
    assert sum("published_entries" in s for s in after_write) == 1


# --- CMS_CORS_ORIGINS ---------------------------------------------------------------


def test_a_configured_origin_may_do_what_a_clinic_site_may(
    open_reads: TestClient[Any],
) -> None:
    partner = "https://partner.example:8443"
    response = preflight(open_reads, ARTICLE, partner)
    assert response.headers["access-control-allow-origin"] == partner
    assert response.headers["access-control-allow-methods"] == "DELETE, GET, HEAD, OPTIONS, PATCH"
    assert response.headers["access-control-allow-headers"] == ALL_HEADERS
    got = open_reads.get(ARTICLE, headers={"Origin": partner})
    assert got.headers["access-control-allow-origin"] == partner


def test_star_grants_any_origin_public_reads_only(
    open_reads: TestClient[Any], editing: Editing
) -> None:
    # A public read: allowed to any page, answered `*`.
    got = open_reads.get(ARTICLE, headers={"Origin": STRANGER})
    assert got.headers["access-control-allow-origin"] == "*"
    assert got.headers["access-control-expose-headers"] == EXPOSED
    head = open_reads.head(ARTICLE, headers={"Origin": STRANGER})
    assert head.headers["access-control-allow-origin"] == "*"
    # Its preflight (a revalidation sends If-None-Match) allows reads and nothing else.
    pre = preflight(open_reads, ARTICLE, STRANGER, method="GET")
    assert cors_headers(pre) == {
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "GET, HEAD",
        "access-control-allow-headers": "If-None-Match",
        "access-control-max-age": "600",
    }
    # No write, and no token use, from such a page.
    assert cors_headers(preflight(open_reads, f"{ARTICLE}/publish", STRANGER, "POST")) == {}
    with_token = open_reads.get(ARTICLE, headers={"Origin": STRANGER, **editing.auth("viewer")})
    assert with_token.status_code == 200
    assert cors_headers(with_token) == {}
    write = open_reads.delete(ARTICLE, headers={"Origin": STRANGER})
    assert write.status_code == 401
    assert cors_headers(write) == {}
    # The clinics' sites keep their whole grant.
    assert preflight(open_reads, ARTICLE, CALGARY).headers["access-control-allow-origin"] == CALGARY


def test_cors_origins_setting_is_checked_and_named() -> None:
    settings = Settings.from_env({"CMS_CORS_ORIGINS": "https://a.example, *,http://b.example:81"})
    assert settings.cors_origins == ("https://a.example", "*", "http://b.example:81")
    for bad in ("https://a.example/path", "a.example", "https://a.example?x=1"):
        with pytest.raises(SettingsError, match="CMS_CORS_ORIGINS item 1"):
            Settings.from_env({"CMS_CORS_ORIGINS": bad})


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Calgary.Example.com/", "https://calgary.example.com"),
        ("https://calgary.example.com:443/path?x", "https://calgary.example.com"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://[::1]:8000/", "http://[::1]:8000"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("not a url", None),
        ("", None),
    ],
)
def test_origin_of_a_site_url_is_what_browsers_send(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin
