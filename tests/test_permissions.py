"""Every role's writes going through (or refused, changing nothing), and clinic scopes in detail.

Who may call which route is :data:`tests.test_access_matrix.RULES`; the matrix
there calls every route as every kind of caller. Here the article routes are
called with real ETags on entries in the state each step needs, so that a role
the table allows succeeds, and one it refuses leaves the entry as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from tests.conftest import Editing, create_article, read_entry_as, step
from tests.test_access_matrix import ANYONE, RULES, allows

ARTICLES = "/api/v1/articles"
ROLES = ("admin", "editor", "author", "viewer")

Send = Callable[[TestClient[Any], str, dict[str, str]], httpx.Response]


def _later() -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat()


ITEM = "/api/v1/{type}/{slug}"
# route -> (state the entry starts in, the request, its rule in RULES, success status)
ROUTES: dict[str, tuple[str, Send, str, int]] = {
    "create": (
        "none",
        lambda c, slug, h: c.post(ARTICLES, json={"title": f"New {slug}", "clinics": ["calgary"]},
                                  headers=h),
        "POST /api/v1/{type}", 201,
    ),
    "update": ("draft",
               lambda c, s, h: c.patch(f"{ARTICLES}/{s}", json={"summary": "x"}, headers=h),
               f"PATCH {ITEM}", 200),
    "delete": ("draft", lambda c, s, h: c.delete(f"{ARTICLES}/{s}", headers=h), f"DELETE {ITEM}",
               204),
    "submit": ("draft", lambda c, s, h: c.post(f"{ARTICLES}/{s}/submit", headers=h),
               f"POST {ITEM}/submit", 200),
    "publish": ("in_review", lambda c, s, h: c.post(f"{ARTICLES}/{s}/publish", headers=h),
                f"POST {ITEM}/publish", 200),
    "schedule": ("draft", lambda c, s, h: c.post(f"{ARTICLES}/{s}/publish", json={"at": _later()},
                                                 headers=h), f"POST {ITEM}/publish", 200),
    "unpublish": ("published", lambda c, s, h: c.post(f"{ARTICLES}/{s}/unpublish", headers=h),
                  f"POST {ITEM}/unpublish", 200),
    "archive": ("draft", lambda c, s, h: c.post(f"{ARTICLES}/{s}/archive", headers=h),
                f"POST {ITEM}/archive", 200),
    "restore": ("two versions", lambda c, s, h: c.post(f"{ARTICLES}/{s}/revisions/1/restore",
                                                       headers=h),
                f"POST {ITEM}/revisions/{{version}}/restore", 200),
    "preview": ("draft", lambda c, s, h: c.post(f"{ARTICLES}/{s}/preview", headers=h),
                f"POST {ITEM}/preview", 200),
    "revisions": ("draft", lambda c, s, h: c.get(f"{ARTICLES}/{s}/revisions", headers=h),
                  f"GET {ITEM}/revisions", 200),
    "revision": ("draft", lambda c, s, h: c.get(f"{ARTICLES}/{s}/revisions/1", headers=h),
                 f"GET {ITEM}/revisions/{{version}}", 200),
    "read drafts": ("draft", lambda c, s, h: c.get(f"{ARTICLES}/{s}", headers=h), f"GET {ITEM}",
                    200),
}  # fmt: skip


def _prepare(client: TestClient[Any], editing: Editing, state: str, name: str) -> tuple[str, str]:
    """An article in ``state``, made by the admin; its slug and ETag."""
    if state == "none":
        return name.lower().replace(" ", "-"), ""  # the slug the create will be given
    draft, etag = create_article(client, editing, name)
    slug = draft["slug"]
    if state == "in_review":
        _doc, etag = step(client, editing, slug, "submit", etag, token="admin")
    elif state == "published":
        _doc, etag = step(client, editing, slug, "publish", etag, token="admin")
    elif state == "two versions":
        response = client.patch(
            f"{ARTICLES}/{slug}", json={"summary": "v2"},
            headers={**editing.auth("admin"), "If-Match": etag},
        )  # fmt: skip
        etag = response.headers["etag"]
    return slug, etag


@pytest.mark.parametrize("route", list(ROUTES))
def test_each_role_on_each_write_route(
    editing: Editing, client: TestClient[Any], route: str
) -> None:
    state, send, key, success = ROUTES[route]
    rule = RULES[key]
    for role in (*ROLES, None):
        slug, etag = _prepare(client, editing, state, f"{route} by {role}")
        headers = {"If-Match": etag} if etag else {}
        if role is not None:
            headers.update(editing.auth(role))
        response = send(client, slug, headers)
        if role is not None and allows(rule, role):
            assert response.status_code == success, (route, role, response.text)
            continue
        expected = 403
        if role is None:
            # Anonymous: asked for a token, except on a public read, where a
            # draft simply does not exist.
            expected = 404 if rule.who == ANYONE else 401
        assert response.status_code == expected, (route, role, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        if etag:  # refused: nothing changed
            assert read_entry_as(client, editing, f"{ARTICLES}/{slug}", "admin")[1] == etag
        elif route == "create":
            created = client.get(f"{ARTICLES}/new-{slug}", headers=editing.auth("admin"))
            assert created.status_code == 404, created.text


# --- Clinic scopes ----------------------------------------------------------------


def _problem_fields(response: httpx.Response) -> list[str]:
    return [e["name"] for e in response.json()["errors"]]


@pytest.mark.parametrize(
    ("clinics", "allowed"),
    [(["calgary"], True), (["calgary", "edmonton"], False), (["edmonton"], False), ([], False)],
)
def test_a_clinic_limited_token_creates_only_on_its_clinics(
    editing: Editing, client: TestClient[Any], clinics: list[str], allowed: bool
) -> None:
    response = client.post(
        ARTICLES,
        json={"title": "Scoped", "clinics": clinics},
        headers=editing.auth("calgary-author"),
    )
    if allowed:
        assert response.status_code == 201
        return
    assert response.status_code == 403, response.text
    assert _problem_fields(response) == ["clinics"]
    assert client.get(f"{ARTICLES}/scoped", headers=editing.auth("admin")).status_code == 404


def test_a_clinic_limited_token_changes_only_entries_of_its_clinics(
    editing: Editing, client: TestClient[Any]
) -> None:
    token = "calgary-editor"
    mine, etag = create_article(client, editing, "Calgary only")
    url = f"{ARTICLES}/{mine['slug']}"
    changed = client.patch(
        url, json={"summary": "Fine"}, headers={**editing.auth(token), "If-Match": etag}
    )
    assert changed.status_code == 200
    etag = changed.headers["etag"]
    # It may not move the entry onto a clinic outside its own.
    spread = client.patch(
        url, json={"clinics": ["calgary", "edmonton"]},
        headers={**editing.auth(token), "If-Match": etag},
    )  # fmt: skip
    assert spread.status_code == 403
    assert _problem_fields(spread) == ["clinics"]
    assert read_entry_as(client, editing, url, "admin")[1] == etag
    _doc, etag = step(client, editing, mine["slug"], "publish", etag, token=token)

    # Shown on Calgary and Edmonton: readable, but changing it changes Edmonton's site.
    shared = f"{ARTICLES}/opioids-and-back-pain"
    doc, shared_etag = read_entry_as(client, editing, shared, token)
    assert doc["clinics"] == ["edmonton", "calgary"]
    for method, path, body in (
        ("PATCH", shared, {"summary": "x"}),
        ("DELETE", shared, None),
        ("POST", f"{shared}/unpublish", None),
        ("POST", f"{shared}/revisions/1/restore", None),
    ):
        refused = client.request(
            method, path, json=body, headers={**editing.auth(token), "If-Match": shared_etag}
        )
        assert refused.status_code == 403, (method, path, refused.text)
    assert client.get(f"{shared}/revisions", headers=editing.auth(token)).status_code == 200
    assert read_entry_as(client, editing, shared, "admin")[1] == shared_etag

    # Edmonton only: as if it did not exist.
    other = "/api/v1/practitioners/maren-holt"
    _doc, other_etag = read_entry_as(client, editing, other, "admin")
    for method, path in (("PATCH", other), ("POST", f"{other}/publish"), ("GET", other),
                         ("GET", f"{other}/revisions"), ("POST", f"{other}/preview")):  # fmt: skip
        hidden = client.request(
            method, path, json={"summary": "x"} if method == "PATCH" else None,
            headers={**editing.auth(token), "If-Match": other_etag},
        )  # fmt: skip
        assert hidden.status_code == 404, (method, path)
    assert read_entry_as(client, editing, other, "admin")[1] == other_etag


def test_a_clinic_limited_token_reads_only_drafts_of_its_clinics(
    editing: Editing, client: TestClient[Any]
) -> None:
    create_article(client, editing, "Calgary draft", clinics=["calgary"])
    create_article(client, editing, "Edmonton draft", clinics=["edmonton"])
    create_article(client, editing, "Shared draft", clinics=["edmonton", "calgary"])
    everyone = client.get(f"{ARTICLES}?status=draft", headers=editing.auth("viewer")).json()
    assert {a["slug"] for a in everyone["data"]} == {
        "calgary-draft", "edmonton-draft", "shared-draft"
    }  # fmt: skip
    calgary = client.get(f"{ARTICLES}?status=draft", headers=editing.auth("calgary-viewer")).json()
    assert {a["slug"] for a in calgary["data"]} == {"calgary-draft", "shared-draft"}
    hidden = client.get(f"{ARTICLES}/edmonton-draft", headers=editing.auth("calgary-viewer"))
    assert hidden.status_code == 404


def test_a_clinic_limited_token_embeds_only_entries_it_may_read(
    editing: Editing, client: TestClient[Any]
) -> None:
    # Maren Holt is Edmonton's alone: a Calgary token reads no working copy of
    # hers, neither at her own URL nor embedded in an entry it may read.
    token = "calgary-editor"
    other = "/api/v1/practitioners/maren-holt"
    _doc, etag = read_entry_as(client, editing, other, "admin")
    changed = client.patch(other, json={"summary": "Not for Calgary's eyes."},
                           headers={**editing.auth("admin"), "If-Match": etag})  # fmt: skip
    assert changed.status_code == 200, changed.text
    mine, _etag = create_article(client, editing, "Calgary's own", author="maren-holt")
    assert client.get(other, headers=editing.auth(token)).status_code == 404
    detail = f"{ARTICLES}/{mine['slug']}?include=author"
    for path in (detail, f"{ARTICLES}?status=draft&include=author"):
        embedded = client.get(path, headers=editing.auth(token))
        assert embedded.status_code == 200, embedded.text
        assert "Not for Calgary" not in embedded.text, path
    # The relation stays a reference, as without `include`.
    author = client.get(detail, headers=editing.auth(token)).json()["author"]
    assert set(author) == {"slug", "title"}
    assert author["slug"] == "maren-holt"
    # A token limited to no clinic embeds her working copy.
    assert "Not for Calgary" in client.get(detail, headers=editing.auth("editor")).text
    # Clinics too: Edmonton's clinic entry stays a slug beside Calgary's object.
    shared = client.get(f"{ARTICLES}/opioids-and-back-pain?include=clinics",
                        headers=editing.auth(token)).json()  # fmt: skip
    assert [c if isinstance(c, str) else c["slug"] for c in shared["clinics"]] == [
        "edmonton", "calgary"
    ]  # fmt: skip
    assert shared["clinics"][0] == "edmonton"
    assert isinstance(shared["clinics"][1], dict)


def test_a_clinic_limited_author_still_cannot_publish(
    editing: Editing, client: TestClient[Any]
) -> None:
    draft, etag = create_article(client, editing, "Author's own", token="calgary-author")
    refused = client.post(
        f"{ARTICLES}/{draft['slug']}/publish",
        headers={**editing.auth("calgary-author"), "If-Match": etag},
    )
    assert refused.status_code == 403
    assert client.get(f"{ARTICLES}/{draft['slug']}").status_code == 404


def test_only_a_token_limited_to_no_clinic_changes_clinics(
    editing: Editing, client: TestClient[Any]
) -> None:
    # Calgary's own entry is shown on Calgary alone, yet unpublishing or
    # renaming it changes every entry Calgary shares with Edmonton.
    token = "calgary-editor"
    clinic = "/api/v1/clinics/calgary"
    doc, etag = read_entry_as(client, editing, clinic, token)
    assert doc["clinics"] == ["calgary"]
    for method, path, body in (
        ("PATCH", clinic, {"summary": "x"}),
        ("POST", f"{clinic}/unpublish", None),
        ("POST", f"{clinic}/archive", None),
        ("POST", f"{clinic}/revisions/1/restore", None),
        ("DELETE", clinic, None),
        ("POST", "/api/v1/clinics", {"title": "Calgary North", "clinics": ["calgary"]}),
    ):
        refused = client.request(
            method, path, json=body, headers={**editing.auth(token), "If-Match": etag}
        )
        assert refused.status_code == 403, (method, path, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert read_entry_as(client, editing, clinic, "admin")[1] == etag
    assert client.get(clinic).status_code == 200
    assert (
        client.get("/api/v1/clinics/calgary-north", headers=editing.auth("admin")).status_code
        == 404
    )
    # A token limited to no clinic may.
    changed = client.patch(
        clinic, json={"summary": "Changed by the group."},
        headers={**editing.auth("editor"), "If-Match": etag},
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
