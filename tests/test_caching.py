"""HTTP caching over HTTP: ETags and 304s on every GET, compression, Cache-Control, Vary,
and Surrogate-Key naming every entry a body shows."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from litestar import Request, Response, get
from litestar.testing import TestClient

from cms.app import create_app
from cms.hookspecs import hookimpl
from cms.http.cache_headers import PRIVATE_NO_STORE, TOKEN_VARY, json_response
from cms.settings import Settings
from tests.conftest import edit_entry, run_cms

ARTICLE = "/api/v1/articles/causes-of-low-back-pain-and-sciatica"
GETS = [
    "/api/v1/articles",
    "/api/v1/articles?limit=2&include=author,conditions&fields=slug,author,conditions",
    ARTICLE,
    f"{ARTICLE}?include=author",
    "/api/v1/clinics",
    "/api/v1/conditions?parent=sciatica",
    "/api/v1/search?q=sciatic%20nerve",
    "/api/v1/conditions/sciatica/backlinks",
    "/api/v1/links/broken",
    "/health",
    "/ready",
    "/schema/openapi.json",
    "/schema",
    "/schema/assets/swagger-ui.css",
]
IDENTITY = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}


@pytest.mark.parametrize("url", GETS)
@pytest.mark.parametrize("coding", [IDENTITY, GZIP], ids=["identity", "gzip"])
def test_every_get_has_a_strong_etag_and_answers_304(
    demo: TestClient[Any], url: str, coding: dict[str, str]
) -> None:
    first = demo.get(url, headers=coding)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    again = demo.get(url, headers={**coding, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert demo.get(url, headers={**coding, "If-None-Match": f'"x", W/{etag}'}).status_code == 304
    assert demo.get(url, headers={**coding, "If-None-Match": '"x"'}).status_code == 200
    assert demo.get(url, headers={**coding, "If-None-Match": "*"}).status_code == 304


def test_public_reads_say_how_long_shared_caches_may_keep_them(demo_url: str) -> None:
    settings = Settings(database_url=demo_url, public_max_age=5, stale_while_revalidate=7)
    with TestClient(create_app(settings)) as client:
        for url in ("/api/v1/articles", ARTICLE, "/api/v1/search?q=back"):
            response = client.get(url)
            assert (
                response.headers["cache-control"] == "public, max-age=5, stale-while-revalidate=7"
            )
            assert (
                client.get(url, headers={"If-None-Match": response.headers["etag"]}).headers[
                    "cache-control"
                ]
                == "public, max-age=5, stale-while-revalidate=7"
            )


def test_large_bodies_are_compressed_and_have_their_own_etag(demo: TestClient[Any]) -> None:
    plain = demo.get("/api/v1/articles", headers=IDENTITY)
    packed = demo.get("/api/v1/articles", headers=GZIP)
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.content == plain.content  # the client decompressed it
    assert int(packed.headers["content-length"]) < len(plain.content) / 2
    # A strong ETag names one representation: each coding has its own.
    assert packed.headers["etag"] != plain.headers["etag"]
    # The entry routes also answer tokens (the working copies), so their
    # public answers vary on Authorization too.
    for response in (plain, packed):
        assert response.headers["vary"] == "Accept-Encoding, Authorization, Origin"
    search = demo.get("/api/v1/search?q=sciatic%20nerve", headers=GZIP)
    assert search.headers["vary"] == "Accept-Encoding, Origin"
    stale = demo.get("/api/v1/articles", headers={**GZIP, "If-None-Match": plain.headers["etag"]})
    assert stale.status_code == 200
    refused = demo.get("/api/v1/articles", headers={"Accept-Encoding": "gzip;q=0, br"})
    assert "content-encoding" not in refused.headers


def test_small_bodies_are_sent_as_they_are(demo: TestClient[Any]) -> None:
    url = "/api/v1/clinics?fields=slug&limit=1"
    plain = demo.get(url, headers=IDENTITY)
    packed = demo.get(url, headers=GZIP)
    assert "content-encoding" not in packed.headers
    assert packed.headers["etag"] == plain.headers["etag"]


def test_compressed_bytes_are_the_same_every_time(demo: TestClient[Any]) -> None:
    url = "/api/v1/conditions"
    with demo.stream("GET", url, headers=GZIP) as first:
        raw = b"".join(first.iter_raw())
    with demo.stream("GET", url, headers=GZIP) as second:
        assert b"".join(second.iter_raw()) == raw
    assert gzip.decompress(raw) == demo.get(url, headers=IDENTITY).content


def test_the_etag_changes_with_the_content(database_url: str, content_copy: Path) -> None:
    assert run_cms(database_url, "content", "load", str(content_copy)).exit_code == 0
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        before = {u: client.get(u).headers["etag"] for u in (ARTICLE, "/api/v1/articles")}
        edit_entry(content_copy / "practitioners" / "lena-marchetti.md", title="Lena M.")
        assert run_cms(database_url, "content", "load", str(content_copy)).exit_code == 0
        for url, etag in before.items():
            # The article did not change, but what it shows of its author did.
            response = client.get(url, headers={"If-None-Match": etag})
            assert response.status_code == 200
            assert response.headers["etag"] != etag


# --- Surrogate-Key ---------------------------------------------------------------


def _ids_by_slug(client: TestClient[Any]) -> dict[tuple[str, str], str]:
    ids = {}
    for plural in ("clinics", "practitioners", "conditions", "articles"):
        for item in client.get(f"/api/v1/{plural}?limit=100").json()["data"]:
            ids[(item["type"], item["slug"])] = item["id"]
    return ids


def _named(item: dict[str, Any]) -> list[tuple[str, str]]:
    """(type, slug) of every entry an article's body names."""
    out = [("clinic", slug) for slug in item["clinics"]]
    for name, kind in (("author", "practitioner"), ("reviewed_by", "practitioner")):
        if item.get(name):
            out.append((kind, item[name]["slug"]))
    out += [("condition", c["slug"]) for c in item.get("conditions", [])]
    return out


def keys_of(response: Any) -> list[str]:
    """The Surrogate-Key header, split."""
    keys: list[str] = response.headers["surrogate-key"].split()
    return keys


def test_a_list_names_itself_its_items_and_every_entry_they_show(demo: TestClient[Any]) -> None:
    ids = _ids_by_slug(demo)
    response = demo.get("/api/v1/articles?limit=3")
    items = response.json()["data"]
    keys = keys_of(response)
    assert keys[0] == "list:article"
    assert keys[1:4] == [f"entry:{i['id']}" for i in items]
    named = {f"entry:{ids[n]}" for item in items for n in _named(item)}
    assert set(keys[4:]) == named - set(keys[1:4])
    assert len(keys) == len(set(keys))


def test_embedded_entries_are_named_too(demo: TestClient[Any]) -> None:
    ids = _ids_by_slug(demo)
    response = demo.get(f"{ARTICLE}?include=author")
    author = response.json()["author"]
    keys = set(keys_of(response))
    assert f"entry:{author['id']}" in keys
    # What the embedded author shows: their clinics and specialties.
    for slug in author["clinics"]:
        assert f"entry:{ids[('clinic', slug)]}" in keys
    for condition in author["specialties"]:
        assert f"entry:{ids[('condition', condition['slug'])]}" in keys


def test_a_detail_names_the_entry_first(demo: TestClient[Any]) -> None:
    response = demo.get(ARTICLE)
    assert keys_of(response)[0] == f"entry:{response.json()['id']}"
    assert "list:article" not in keys_of(response)


def test_search_names_its_hits(demo: TestClient[Any]) -> None:
    response = demo.get("/api/v1/search?q=sciatica")
    hits = response.json()["data"]
    assert keys_of(response) == ["search", *(f"entry:{h['id']}" for h in hits)]


# --- token reads ----------------------------------------------------------------


class TokenReadPlugin:
    """A route answering as token reads will: private, varying on Authorization."""

    name = "token-read"

    @hookimpl
    def register_routes(self) -> Sequence[Any]:
        @get("/api/v1/drafts-of-the-day")
        async def drafts(request: Request[Any, Any, Any]) -> Response[bytes]:
            return json_response(
                request, b'{"drafts": []}', cache_control=PRIVATE_NO_STORE, vary=TOKEN_VARY,
                surrogate_keys=["entry:x"],
            )  # fmt: skip

        return [drafts]


def test_token_reads_are_private_and_vary_on_the_token(demo_url: str) -> None:
    app = create_app(Settings(database_url=demo_url), plugins=[TokenReadPlugin()])
    with TestClient(app) as client:
        response = client.get("/api/v1/drafts-of-the-day")
        assert response.headers["cache-control"] == "private, no-store"
        assert response.headers["vary"] == "Accept-Encoding, Authorization, Origin"
        assert "surrogate-key" not in response.headers  # no shared cache may keep it
        etag = response.headers["etag"]
        assert (
            client.get("/api/v1/drafts-of-the-day", headers={"If-None-Match": etag}).status_code
            == 304
        )
