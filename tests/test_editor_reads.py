"""Reads with a token: working copies, `status=`, clinic scopes and cache headers."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from cms.schemas import STATUSES
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


# --- `status` on every list (issue 15) -------------------------------------------------

PLURALS = ("clinics", "practitioners", "conditions", "articles", "series", "case-stories")


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


def _change(
    client: TestClient[Any], editing: Editing, path: str, action: str | None, **body: Any
) -> dict[str, Any]:
    """PATCH ``path`` with ``body`` (``action`` None), or run a workflow step on it, as admin."""
    read = client.get(path, headers=editing.auth("admin"))
    headers = {**editing.auth("admin"), "If-Match": read.headers["etag"]}
    if action is None:
        response = client.patch(path, json=body, headers=headers)
    else:
        response = client.post(f"{path}/{action}", json=body or None, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


# How an article gets each status from a draft: a workflow step and its body.
STEPS: dict[str, tuple[str, dict[str, Any]]] = {
    "in_review": ("submit", {}),
    "scheduled": ("publish", {"at": "2099-01-01T00:00:00Z"}),
    "archived": ("archive", {}),
}


def test_each_status_lists_the_articles_in_it(editing: Editing, client: TestClient[Any]) -> None:
    made: dict[str, str] = {}
    for status in ("draft", "in_review", "scheduled", "archived"):
        body = {"title": f"Status {status}", "clinics": ["calgary"], "body": "Hello."}
        created = client.post("/api/v1/articles", json=body, headers=editing.auth("admin"))
        assert created.status_code == 201, created.text
        path = f"/api/v1/articles/{created.json()['slug']}"
        if status in STEPS:
            action, step_body = STEPS[status]
            assert _change(client, editing, path, action, **step_body)["status"] == status
        made[status] = created.json()["id"]
    published = _ids(client.get("/api/v1/articles?limit=100"))
    mine = set(made.values())
    for status in STATUSES:
        listed = client.get(
            f"/api/v1/articles?status={status}&limit=100", headers=editing.auth("viewer")
        )
        ids = _ids(listed)
        assert {item["status"] for item in listed.json()["data"]} <= {status}
        if status == "published":
            assert set(ids) == set(published)
        else:
            assert set(ids) & mine == {made[status]}, status
    # The review queue and the drafts together.
    both = client.get("/api/v1/articles?status=draft,in_review", headers=editing.auth("viewer"))
    assert set(_ids(both)) & mine == {made["draft"], made["in_review"]}


@pytest.mark.parametrize("plural", PLURALS)
def test_status_filters_every_types_list(
    editing: Editing, client: TestClient[Any], plural: str
) -> None:
    # A published entry of each type, core and plugin, changed and submitted for review.
    first = client.get(f"/api/v1/{plural}?limit=1").json()["data"][0]
    path = f"/api/v1/{plural}/{first['slug']}"
    _change(client, editing, path, None, summary="Waiting for review.")
    assert _change(client, editing, path, "submit")["status"] == "in_review"
    for status in STATUSES:
        listed = client.get(
            f"/api/v1/{plural}?status={status}&limit=100", headers=editing.auth("editor")
        )
        ids = _ids(listed)
        assert {item["status"] for item in listed.json()["data"]} <= {status}
        assert (first["id"] in ids) is (status == "in_review"), status
    queue = client.get(f"/api/v1/{plural}?status=in_review", headers=editing.auth("editor"))
    assert _ids(queue) == [first["id"]]
    # The public still reads the published version.
    assert client.get(path).json()["status"] == "published"


@pytest.mark.parametrize("status", [*STATUSES, "draft,in_review"])
def test_status_without_a_token_is_a_401_whatever_it_names(
    client: TestClient[Any], status: str
) -> None:
    response = client.get(f"/api/v1/articles?status={status}")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "`status`" in response.json()["detail"]
    assert "data" not in response.json()
