"""Reads with a token: working copies, `status=`, clinic scopes and cache headers."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.conftest import CONTENT, Editing


def _slugs(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    return {item["slug"] for item in response.json()["data"]}


def _on(clinic: str, plural: str) -> set[str]:
    import frontmatter

    return {
        path.stem
        for path in (CONTENT / plural).glob("*.md")
        if clinic in frontmatter.load(path).metadata.get("clinics", [])
    }


def test_public_reads_are_cacheable_and_vary_on_authorization(client: TestClient[Any]) -> None:
    for url in ("/api/v1/articles", "/api/v1/articles/opioids-and-back-pain"):
        response = client.get(url)
        assert response.headers["cache-control"].startswith("public, max-age=")
        # Compressed or not, and public or the working copy, depending on the token.
        assert response.headers["vary"] == "Accept-Encoding, Authorization, Origin"


@pytest.mark.parametrize("token", ["viewer", "author", "editor", "admin"])
def test_token_reads_are_private_and_show_the_working_copy(
    editing: Editing, client: TestClient[Any], token: str
) -> None:
    headers = editing.auth(token)
    listed = client.get("/api/v1/articles?limit=100", headers=headers)
    assert listed.headers["cache-control"] == "private, no-store"
    assert listed.headers["vary"] == "Authorization, Origin"
    assert "surrogate-key" not in listed.headers
    assert _slugs(listed) == {p.stem for p in (CONTENT / "articles").glob("*.md")}
    detail = client.get("/api/v1/articles/opioids-and-back-pain", headers=headers)
    assert detail.status_code == 200
    assert detail.headers["cache-control"] == "private, no-store"
    entry = detail.json()
    # Editors see the workflow fields the public does not.
    assert entry["published_version"] == entry["version"]
    assert entry["scheduled_at"] is None
    public = client.get("/api/v1/articles/opioids-and-back-pain").json()
    assert "published_version" not in public
    assert "scheduled_at" not in public
    assert {k: v for k, v in entry.items() if k not in {"published_version", "scheduled_at"}} == (
        public
    )
    # A conditional GET with a token works as for the public.
    again = client.get(
        "/api/v1/articles/opioids-and-back-pain",
        headers={**headers, "If-None-Match": detail.headers["etag"]},
    )
    assert again.status_code == 304


def test_status_needs_a_token(client: TestClient[Any]) -> None:
    response = client.get("/api/v1/articles?status=draft")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_an_unknown_status_is_a_400(editing: Editing, client: TestClient[Any]) -> None:
    response = client.get("/api/v1/articles?status=draft,lost", headers=editing.auth("viewer"))
    assert response.status_code == 400
    assert [e["name"] for e in response.json()["errors"]] == ["status"]


def test_a_clinic_limited_token_reads_only_its_clinics(
    editing: Editing, client: TestClient[Any]
) -> None:
    headers = editing.auth("calgary-viewer")
    for plural in ("articles", "practitioners", "clinics"):
        listed = client.get(f"/api/v1/{plural}?limit=100", headers=headers)
        assert _slugs(listed) == _on("calgary", plural), plural
    edmonton_only = sorted(_on("edmonton", "practitioners") - _on("calgary", "practitioners"))
    assert edmonton_only
    refused = client.get(f"/api/v1/practitioners/{edmonton_only[0]}", headers=headers)
    assert refused.status_code == 404
    # Without the token it is the public's, like any published entry.
    assert client.get(f"/api/v1/practitioners/{edmonton_only[0]}").status_code == 200
