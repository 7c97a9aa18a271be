"""Revisions (who, when, what; the entry as it was; restore) and signed preview links."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from cms.app import create_app
from tests.conftest import (
    PUBLIC_BASE,
    Editing,
    ManualClock,
    create_article,
    read_entry_as,
    step,
)

ARTICLES = "/api/v1/articles"


def _token_id(editing: Editing, name: str) -> str:
    return editing.secrets[name].removeprefix("cms_").split("_")[0]


def _patch(
    client: TestClient[Any], editing: Editing, url: str, etag: str, token: str, **fields: Any
) -> tuple[dict[str, Any], str]:
    response = client.patch(url, json=fields, headers={**editing.auth(token), "If-Match": etag})
    assert response.status_code == 200, response.text
    return response.json(), response.headers["etag"]


# --- Revisions ------------------------------------------------------------------


def test_revisions_say_who_changed_what_and_when(editing: Editing, client: TestClient[Any]) -> None:
    draft, etag = create_article(client, editing, "History", token="author")
    url = f"{ARTICLES}/{draft['slug']}"
    _doc, etag = _patch(client, editing, url, etag, "author", summary="First summary")
    _doc, etag = _patch(client, editing, url, etag, "editor", title="History, edited", tags=["x"])
    step(client, editing, draft["slug"], "publish", etag)

    response = client.get(f"{url}/revisions", headers=editing.auth("viewer"))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-store"
    listed = response.json()["data"]
    assert [r["version"] for r in listed] == [4, 3, 2, 1]
    assert [r["action"] for r in listed] == ["publish", "update", "update", "create"]
    assert [r["actor_name"] for r in listed] == ["editor", "editor", "author", "author"]
    assert listed[0]["actor"] == _token_id(editing, "editor")
    assert listed[1]["changed_fields"] == ["tags", "title"]
    assert listed[2]["changed_fields"] == ["summary"]
    assert listed[0]["changed_fields"] == ["published_at", "status"]
    assert listed[0]["status"] == "published"
    assert all(r["created_at"] for r in listed)

    # Paged, newest first.
    page = client.get(f"{url}/revisions?limit=3", headers=editing.auth("viewer")).json()
    assert [r["version"] for r in page["data"]] == [4, 3, 2]
    rest = client.get(
        f"{url}/revisions?limit=3&cursor={page['next_cursor']}", headers=editing.auth("viewer")
    ).json()
    assert [r["version"] for r in rest["data"]] == [1]
    assert rest["next_cursor"] is None

    # One version: the whole entry as it was.
    old = client.get(f"{url}/revisions/2", headers=editing.auth("viewer"))
    assert old.status_code == 200
    body = old.json()
    assert body["version"] == 2
    assert body["actor_name"] == "author"
    entry = body["entry"]
    assert entry["title"] == "History"
    assert entry["summary"] == "First summary"
    assert entry["author"] == "lena-marchetti"  # relations as slugs, as written
    assert entry["body"].startswith("## About")
    assert client.get(f"{url}/revisions/99", headers=editing.auth("viewer")).status_code == 404
    bad = client.get(f"{url}/revisions?cursor=abc", headers=editing.auth("viewer"))
    assert bad.status_code == 400


def test_revisions_need_a_token(client: TestClient[Any]) -> None:
    url = f"{ARTICLES}/opioids-and-back-pain/revisions"
    assert client.get(url).status_code == 401
    assert client.get(f"{url}/1").status_code == 401


def test_restore_is_a_new_version_and_never_rewrites_history(
    editing: Editing, client: TestClient[Any]
) -> None:
    url = f"{ARTICLES}/opioids-and-back-pain"
    original, etag = read_entry_as(client, editing, url)
    _doc, etag = _patch(client, editing, url, etag, "editor", title="Rewritten", body="# Gone")
    _doc, etag = _patch(client, editing, url, etag, "editor", summary="Also rewritten")
    before = client.get(f"{url}/revisions?limit=100", headers=editing.auth("viewer")).json()

    restored = client.post(
        f"{url}/revisions/{original['version']}/restore",
        headers={**editing.auth("author"), "If-Match": etag},
    )
    assert restored.status_code == 200, restored.text
    now = restored.json()
    assert now["title"] == original["title"]
    assert now["summary"] == original["summary"]
    assert now["body_html"] == original["body_html"]
    assert now["author"] == original["author"]
    assert now["version"] == original["version"] + 3
    assert now["status"] == "draft"  # to be published like any change
    after = client.get(f"{url}/revisions?limit=100", headers=editing.auth("viewer")).json()
    assert after["data"][1:] == before["data"]
    newest = after["data"][0]
    assert newest["action"] == "restore"
    assert newest["actor"] == _token_id(editing, "author")
    assert set(newest["changed_fields"]) == {"body", "summary", "title"}
    # The old versions still read as they were.
    middle = client.get(
        f"{url}/revisions/{original['version'] + 1}", headers=editing.auth("viewer")
    )
    assert middle.json()["entry"]["title"] == "Rewritten"
    # Restoring needs If-Match like any change, and a version that exists.
    missing = client.post(f"{url}/revisions/1/restore", headers=editing.auth("author"))
    assert missing.status_code == 428
    unknown = client.post(
        f"{url}/revisions/999/restore",
        headers={**editing.auth("author"), "If-Match": restored.headers["etag"]},
    )
    assert unknown.status_code == 404


def test_restoring_content_that_no_longer_validates_is_a_422(
    editing: Editing, client: TestClient[Any]
) -> None:
    draft, etag = create_article(client, editing, "Points at a temporary practitioner")
    url = f"{ARTICLES}/{draft['slug']}"
    temp = client.post(
        "/api/v1/practitioners",
        json={"title": "Temp Practitioner", "clinics": ["calgary"]},
        headers=editing.auth("editor"),
    )
    assert temp.status_code == 201
    _doc, etag = _patch(client, editing, url, etag, "editor", author="temp-practitioner")
    _doc, etag = _patch(client, editing, url, etag, "editor", author="lena-marchetti")
    deleted = client.delete(
        "/api/v1/practitioners/temp-practitioner",
        headers={**editing.auth("editor"), "If-Match": temp.headers["etag"]},
    )
    assert deleted.status_code == 204
    refused = client.post(
        f"{url}/revisions/2/restore", headers={**editing.auth("editor"), "If-Match": etag}
    )
    assert refused.status_code == 422
    assert [e["name"] for e in refused.json()["errors"]] == ["author"]
    assert read_entry_as(client, editing, url)[1] == etag


def test_restoring_follows_a_renamed_relation(editing: Editing, client: TestClient[Any]) -> None:
    url = f"{ARTICLES}/opioids-and-back-pain"
    original, etag = read_entry_as(client, editing, url)
    _doc, etag = _patch(client, editing, url, etag, "editor", summary="Changed")
    author = "/api/v1/practitioners/daniel-okafor"
    _author, author_etag = read_entry_as(client, editing, author)
    renamed = client.patch(
        author,
        json={"slug": "dr-daniel-okafor"},
        headers={**editing.auth("editor"), "If-Match": author_etag},
    )
    assert renamed.status_code == 200
    # The article's representation names its author: the rename changed its ETag.
    _doc, renamed_etag = read_entry_as(client, editing, url)
    assert renamed_etag != etag
    restored = client.post(
        f"{url}/revisions/{original['version']}/restore",
        headers={**editing.auth("editor"), "If-Match": renamed_etag},
    )
    assert restored.status_code == 200, restored.text
    assert restored.json()["author"] == {"slug": "dr-daniel-okafor", "title": "Daniel Okafor"}


# --- Preview links --------------------------------------------------------------


def _preview(
    client: TestClient[Any], editing: Editing, slug: str, token: str = "viewer", **body: Any
) -> dict[str, Any]:
    response = client.post(
        f"{ARTICLES}/{slug}/preview", json=body or None, headers=editing.auth(token)
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return dict(response.json())


def _path(url: str) -> str:
    return url.removeprefix(PUBLIC_BASE)


def test_a_preview_link_shows_the_draft_without_a_token(
    editing: Editing, client: TestClient[Any]
) -> None:
    url = f"{ARTICLES}/opioids-and-back-pain"
    _doc, etag = read_entry_as(client, editing, url)
    draft, _ = _patch(client, editing, url, etag, "editor", title="Unpublished wording")
    link = _preview(client, editing, "opioids-and-back-pain")
    assert link["url"].startswith(f"{PUBLIC_BASE}/api/v1/preview/")
    shown = client.get(_path(link["url"]))
    assert shown.status_code == 200
    assert shown.json() == draft
    assert shown.headers["cache-control"] == "private, no-store"
    assert shown.headers["x-robots-tag"] == "noindex, nofollow"
    assert client.get(url).json()["title"] != "Unpublished wording"
    # The link names the entry, not its slug: it survives a rename.
    _doc, etag = read_entry_as(client, editing, url)
    _patch(client, editing, url, etag, "editor", slug="opioids-renamed")
    assert client.get(_path(link["url"])).json()["slug"] == "opioids-renamed"


def test_an_expired_preview_link_is_410(editing: Editing) -> None:
    # Whole seconds, so that the link's expiry is exactly 60 s on.
    clock = ManualClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    with TestClient(create_app(editing.settings(), clock=clock)) as client:
        link = _preview(client, editing, "opioids-and-back-pain", expires_in=60)
        assert dt.datetime.fromisoformat(link["expires_at"]) == clock() + dt.timedelta(seconds=60)
        clock.advance(59)
        assert client.get(_path(link["url"])).status_code == 200
        clock.advance(1)
        expired = client.get(_path(link["url"]))
    assert expired.status_code == 410
    assert expired.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("where", ["payload", "signature", "truncated", "garbage"])
def test_a_tampered_preview_link_is_403(
    editing: Editing, client: TestClient[Any], where: str
) -> None:
    link = _preview(client, editing, "opioids-and-back-pain", expires_in=60)
    token = link["token"]
    payload, signature = token.split(".")
    other = _preview(client, editing, "how-acupuncture-may-ease-back-pain")["token"]
    flipped = "A" if signature[0] != "A" else "B"
    forged = {
        # Another entry's payload under this signature.
        "payload": f"{other.split('.')[0]}.{signature}",
        "signature": f"{payload}.{flipped}{signature[1:]}",
        "truncated": payload,
        "garbage": "not-a-token",
    }[where]
    response = client.get(f"/api/v1/preview/{forged}")
    assert response.status_code == 403
    assert "opioids" not in response.text


def test_preview_links_survive_a_restart_and_need_a_readable_entry(
    editing: Editing, client: TestClient[Any]
) -> None:
    link = _preview(client, editing, "opioids-and-back-pain")
    # The signing key is kept in the database: another app instance accepts the link.
    with TestClient(create_app(editing.settings())) as other:
        assert other.get(_path(link["url"])).status_code == 200
    assert client.post(f"{ARTICLES}/opioids-and-back-pain/preview").status_code == 401
    edmonton_only = client.post(
        "/api/v1/practitioners/maren-holt/preview", headers=editing.auth("calgary-viewer")
    )
    assert edmonton_only.status_code == 404
    bad = client.post(
        f"{ARTICLES}/opioids-and-back-pain/preview",
        json={"expires_in": 0},
        headers=editing.auth("viewer"),
    )
    assert bad.status_code == 422
    assert [e["name"] for e in bad.json()["errors"]] == ["expires_in"]


def test_a_preview_of_a_deleted_entry_is_404(editing: Editing, client: TestClient[Any]) -> None:
    draft, etag = create_article(client, editing, "Short-lived draft")
    link = _preview(client, editing, draft["slug"])
    deleted = client.delete(
        f"{ARTICLES}/{draft['slug']}", headers={**editing.auth("editor"), "If-Match": etag}
    )
    assert deleted.status_code == 204
    assert client.get(_path(link["url"])).status_code == 404


def test_with_a_configured_secret_key_links_use_it(editing: Editing) -> None:
    with TestClient(create_app(editing.settings(secret_key="k" * 40))) as first:
        link = _preview(first, editing, "opioids-and-back-pain")
        assert first.get(_path(link["url"])).status_code == 200
    with TestClient(create_app(editing.settings(secret_key="another key of ours"))) as second:
        assert second.get(_path(link["url"])).status_code == 403


def test_a_preview_link_works_only_while_its_token_does(
    editing: Editing, client: TestClient[Any]
) -> None:
    admin = editing.auth("admin")
    made = client.post(
        "/api/v1/tokens", json={"name": "Reviewer", "role": "viewer"}, headers=admin
    ).json()
    bearer = {"Authorization": f"Bearer {made['secret']}"}
    response = client.post(f"{ARTICLES}/opioids-and-back-pain/preview", headers=bearer)
    assert response.status_code == 200, response.text
    path = _path(response.json()["url"])
    other = _path(_preview(client, editing, "opioids-and-back-pain")["url"])
    assert client.get(path).status_code == 200
    # Revoking the token revokes its links; another token's link still works.
    assert client.delete(f"/api/v1/tokens/{made['id']}", headers=admin).status_code == 204
    revoked = client.get(path)
    assert revoked.status_code == 410, revoked.text
    assert revoked.headers["content-type"].startswith("application/problem+json")
    assert "opioids" not in revoked.text
    assert client.get(other).status_code == 200


def test_a_preview_link_needs_its_token_to_read_the_entry_still(
    editing: Editing, client: TestClient[Any]
) -> None:
    draft, etag = create_article(client, editing, "Calgary draft")
    link = _preview(client, editing, draft["slug"], token="calgary-viewer")
    assert client.get(_path(link["url"])).status_code == 200
    _patch(client, editing, f"{ARTICLES}/{draft['slug']}", etag, "admin", clinics=["edmonton"])
    moved = client.get(_path(link["url"]))
    assert moved.status_code == 403, moved.text
    assert "Calgary draft" not in moved.text


def test_a_preview_link_signed_without_its_token_is_410(
    editing: Editing, client: TestClient[Any]
) -> None:
    # Links made before they named their token cannot be revoked: no longer honoured.
    link = _preview(client, editing, "opioids-and-back-pain")
    key = client.app.state.services.keys["preview"]
    payload = base64.urlsafe_b64decode(link["token"].split(".")[0] + "==")
    type_name, entry_id, expires, _token_id = msgspec.json.decode(payload)
    old = base64.urlsafe_b64encode(msgspec.json.encode([type_name, entry_id, expires]))
    old_payload = old.rstrip(b"=").decode()
    signature = hmac.new(key, old_payload.encode(), hashlib.sha256).digest()
    old_sig = base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    response = client.get(f"/api/v1/preview/{old_payload}.{old_sig}")
    assert response.status_code == 410, response.text


def test_a_preview_link_with_non_ascii_characters_is_403(
    editing: Editing, client: TestClient[Any]
) -> None:
    token = _preview(client, editing, "opioids-and-back-pain")["token"]
    payload, _signature = token.split(".")
    response = client.get(f"/api/v1/preview/{payload}.%C3%A9t%C3%A9")
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
