"""Writes over HTTP: drafts, merge patches, If-Match, validation, transactions, concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from litestar.testing import TestClient

from cms.app import create_app
from tests.conftest import Editing, concurrent_client, create_article, read_entry_as, step

ARTICLE = "/api/v1/articles/opioids-and-back-pain"


def _revisions(client: TestClient[Any], editing: Editing, path: str) -> list[dict[str, Any]]:
    response = client.get(f"{path}/revisions?limit=100", headers=editing.auth("viewer"))
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def test_create_makes_a_draft_with_a_slug_from_the_title(
    editing: Editing, client: TestClient[Any]
) -> None:
    response = client.post(
        "/api/v1/articles",
        json={
            "title": "Neck pain: what helps?",
            "clinics": ["calgary"],
            "author": "lena-marchetti",
            "conditions": ["sciatica"],
            "body": "## First\n\nSome *text*.",
        },
        headers=editing.auth("author"),
    )
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/api/v1/articles/neck-pain-what-helps"
    assert response.headers["cache-control"] == "private, no-store"
    draft = response.json()
    assert draft["slug"] == "neck-pain-what-helps"
    assert draft["status"] == "draft"
    assert draft["version"] == 1
    assert draft["published_version"] is None
    assert draft["author"] == {"slug": "lena-marchetti", "title": "Lena Marchetti"}
    assert draft["conditions"] == [{"slug": "sciatica", "title": "Sciatica"}]
    # Rendered at write time.
    assert "<em>text</em>" in draft["body_html"]
    assert draft["toc"][0]["text"] == "First"
    # The ETag of the answer is the one GET gives.
    _doc, etag = read_entry_as(client, editing, response.headers["location"])
    assert response.headers["etag"] == etag
    # The public sees nothing of a draft.
    assert client.get("/api/v1/articles/neck-pain-what-helps").status_code == 404
    public = client.get("/api/v1/articles?limit=100").json()["data"]
    assert "neck-pain-what-helps" not in {a["slug"] for a in public}


def test_slugs_are_unique_per_type(editing: Editing, client: TestClient[Any]) -> None:
    first, _ = create_article(client, editing, "Sciatica")
    second, _ = create_article(client, editing, "Sciatica")
    assert (first["slug"], second["slug"]) == ("sciatica", "sciatica-2")  # a condition has it too
    taken = client.post(
        "/api/v1/articles",
        json={"title": "Other", "slug": "sciatica", "clinics": ["calgary"]},
        headers=editing.auth("editor"),
    )
    assert taken.status_code == 422
    assert [e["name"] for e in taken.json()["errors"]] == ["slug"]
    mine, _ = create_article(client, editing, "Whatever", slug="my-own-slug")
    assert mine["slug"] == "my-own-slug"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"clinics": ["calgary"]}, ["title"]),
        ({"title": ""}, ["title"]),
        ({"title": "x", "clinics": ["Not A Slug"]}, ["clinics[0]"]),
        ({"title": "x", "colour": "blue"}, ["colour"]),
        ({"title": "x", "author": "nobody"}, ["author"]),
        ({"title": "x", "conditions": ["sciatica", "nothing-like-it"]}, ["conditions"]),
        ({"title": "x", "status": "published"}, ["status"]),
        ({"title": "x", "slug": "Bad Slug"}, ["slug"]),
        ({"title": "x", "published_at": "2025-01-01T00:00:00"}, ["published_at"]),
        ({"title": 5, "hero_image_url": "ftp://x"}, ["title", "hero_image_url"]),
        (["not", "an", "object"], ["(body)"]),
    ],
)
def test_invalid_drafts_are_422_naming_each_field_and_store_nothing(
    editing: Editing, client: TestClient[Any], body: Any, fields: list[str]
) -> None:
    before = client.get("/api/v1/articles?limit=100", headers=editing.auth("editor")).json()
    response = client.post("/api/v1/articles", json=body, headers=editing.auth("editor"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422
    assert sorted(e["name"] for e in problem["errors"]) == sorted(fields)
    after = client.get("/api/v1/articles?limit=100", headers=editing.auth("editor")).json()
    assert after == before


def test_bad_bodies_are_400_or_415(editing: Editing, client: TestClient[Any]) -> None:
    headers = editing.auth("editor")
    broken = client.post(
        "/api/v1/articles",
        content=b'{"title": ',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert broken.status_code == 400
    _doc, etag = read_entry_as(client, editing, ARTICLE)
    wrong_type = client.patch(
        ARTICLE, content=b"title=x",
        headers={**headers, "If-Match": etag, "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert wrong_type.status_code == 415


def test_patch_is_a_json_merge_patch(editing: Editing, client: TestClient[Any]) -> None:
    before, etag = read_entry_as(client, editing, ARTICLE)
    response = client.patch(
        ARTICLE,
        content=b'{"summary": "New summary", "seo": {"title": "SEO title"}, "tags": null}',
        headers={
            **editing.auth("editor"),
            "If-Match": etag,
            "Content-Type": "application/merge-patch+json",
        },
    )
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["summary"] == "New summary"
    assert after["seo"] == {"title": "SEO title", "description": before["seo"]["description"]}
    assert after["tags"] == []  # null removes: back to the default
    assert after["title"] == before["title"]
    assert after["author"] == before["author"]
    assert after["version"] == before["version"] + 1
    assert after["status"] == "draft"  # changed since it was published
    assert response.headers["etag"] != etag
    assert read_entry_as(client, editing, ARTICLE)[1] == response.headers["etag"]


def test_an_identical_patch_changes_nothing(editing: Editing, client: TestClient[Any]) -> None:
    before, etag = read_entry_as(client, editing, ARTICLE)
    response = client.patch(
        ARTICLE,
        json={"title": before["title"]},
        headers={**editing.auth("editor"), "If-Match": etag},
    )
    assert response.status_code == 200
    assert response.headers["etag"] == etag
    assert response.json()["version"] == before["version"]


@pytest.mark.parametrize(
    ("patch", "field"),
    [({"status": "published"}, "status"), ({"id": "x"}, "id"), ({"slug": None}, "slug")],
)
def test_patch_refuses_fields_it_does_not_own(
    editing: Editing, client: TestClient[Any], patch: dict[str, Any], field: str
) -> None:
    _doc, etag = read_entry_as(client, editing, ARTICLE)
    response = client.patch(
        ARTICLE, json=patch, headers={**editing.auth("editor"), "If-Match": etag}
    )
    assert response.status_code == 422
    assert [e["name"] for e in response.json()["errors"]] == [field]


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_changes_without_if_match_are_428(
    editing: Editing, client: TestClient[Any], method: str
) -> None:
    response = client.request(
        method, ARTICLE, json={"summary": "x"}, headers=editing.auth("editor")
    )
    assert response.status_code == 428
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"] == [
        {"name": "If-Match", "reason": "missing", "location": "header"}
    ]
    assert client.get(ARTICLE).status_code == 200


def test_a_stale_if_match_is_412_with_the_current_version(
    editing: Editing, client: TestClient[Any]
) -> None:
    _doc, old = read_entry_as(client, editing, ARTICLE)
    first = client.patch(
        ARTICLE, json={"summary": "First"}, headers={**editing.auth("editor"), "If-Match": old}
    )
    assert first.status_code == 200
    stale = client.patch(
        ARTICLE, json={"summary": "Second"}, headers={**editing.auth("author"), "If-Match": old}
    )
    assert stale.status_code == 412
    problem = stale.json()
    assert problem["current_version"] == first.json()["version"]
    assert problem["current_etag"] == first.headers["etag"] == stale.headers["etag"]
    assert problem["current"] == first.json()
    assert read_entry_as(client, editing, ARTICLE)[0]["summary"] == "First"
    # Weak ETags never satisfy If-Match; `*` means "whatever it is now".
    weak = client.patch(
        ARTICLE,
        json={"summary": "Weak"},
        headers={**editing.auth("editor"), "If-Match": f"W/{first.headers['etag']}"},
    )
    assert weak.status_code == 412
    star = client.patch(
        ARTICLE, json={"summary": "Any"}, headers={**editing.auth("editor"), "If-Match": "*"}
    )
    assert star.status_code == 200


def test_a_write_is_one_transaction(editing: Editing, client: TestClient[Any]) -> None:
    before, etag = read_entry_as(client, editing, ARTICLE)
    history = _revisions(client, editing, ARTICLE)
    # Valid fields with a relation to nothing: the entry row and its revision
    # are written before the relations are checked, and all are rolled back.
    response = client.patch(
        ARTICLE,
        json={"title": "Half-saved?", "body": "# New", "author": "nobody-at-all"},
        headers={**editing.auth("editor"), "If-Match": etag},
    )
    assert response.status_code == 422
    assert [e["name"] for e in response.json()["errors"]] == ["author"]
    after, after_etag = read_entry_as(client, editing, ARTICLE)
    assert after == before
    assert after_etag == etag
    assert _revisions(client, editing, ARTICLE) == history
    assert client.get(ARTICLE).json()["title"] == before["title"]


def test_delete_removes_the_entry_and_its_references(
    editing: Editing, client: TestClient[Any]
) -> None:
    # Referred to by articles: refused, naming them, and nothing changes.
    path = "/api/v1/practitioners/daniel-okafor"
    _doc, etag = read_entry_as(client, editing, path)
    article, article_etag = read_entry_as(client, editing, ARTICLE)
    history = _revisions(client, editing, ARTICLE)
    refused = client.delete(path, headers={**editing.auth("editor"), "If-Match": etag})
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "article/opioids-and-back-pain" in refused.json()["detail"]
    assert read_entry_as(client, editing, path)[1] == etag
    assert client.get(path).status_code == 200
    assert read_entry_as(client, editing, ARTICLE) == (article, article_etag)
    assert _revisions(client, editing, ARTICLE) == history
    assert client.get(ARTICLE).json()["author"]["slug"] == "daniel-okafor"

    # A published version that still refers to it counts too.
    made = client.post(
        "/api/v1/conditions",
        json={"title": "Test condition", "clinics": ["calgary"]},
        headers=editing.auth("editor"),
    )
    assert made.status_code == 201, made.text
    condition = "/api/v1/conditions/test-condition"
    draft, draft_etag = create_article(client, editing, "Refers", conditions=["test-condition"])
    _doc, draft_etag = step(client, editing, draft["slug"], "publish", draft_etag)
    referrer = f"/api/v1/articles/{draft['slug']}"
    dropped = client.patch(
        referrer, json={"conditions": []},
        headers={**editing.auth("editor"), "If-Match": draft_etag,
                 "Content-Type": "application/merge-patch+json"},
    )  # fmt: skip
    assert dropped.status_code == 200, dropped.text
    _doc, etag = read_entry_as(client, editing, condition)
    refused = client.delete(condition, headers={**editing.auth("editor"), "If-Match": etag})
    assert refused.status_code == 409, refused.text
    assert f"article/{draft['slug']}" in refused.json()["detail"]

    # Once nothing refers to it, it goes with its history.
    step(client, editing, draft["slug"], "publish", dropped.headers["etag"])
    deleted = client.delete(condition, headers={**editing.auth("editor"), "If-Match": etag})
    assert deleted.status_code == 204, deleted.text
    assert client.get(condition, headers=editing.auth("editor")).status_code == 404
    assert client.get(f"{condition}/revisions", headers=editing.auth("editor")).status_code == 404
    assert client.get(referrer).json()["conditions"] == []


def test_a_clinic_limited_token_is_not_redirected_to_an_entry_it_may_not_read(
    editing: Editing, client: TestClient[Any]
) -> None:
    # An Edmonton-only practitioner, renamed: its new slug is not Calgary's to learn.
    old = "/api/v1/practitioners/maren-holt"
    _doc, etag = read_entry_as(client, editing, old)
    renamed = client.patch(
        old, json={"slug": "maren-holt-lac"}, headers={**editing.auth("editor"), "If-Match": etag}
    )
    assert renamed.status_code == 200, renamed.text
    hidden = client.get(old, headers=editing.auth("calgary-viewer"), follow_redirects=False)
    assert hidden.status_code == 404, hidden.text
    assert "maren-holt-lac" not in hidden.text
    assert "location" not in hidden.headers
    # A token that may read it follows it.
    moved = client.get(old, headers=editing.auth("viewer"), follow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["location"] == "/api/v1/practitioners/maren-holt-lac"


def test_concurrent_patches_with_one_etag_let_exactly_one_through(editing: Editing) -> None:
    async def run() -> None:
        headers = editing.auth("editor")
        async with concurrent_client(create_app(editing.settings())) as client:
            first = await client.get(ARTICLE, headers=headers)
            etag, version = first.headers["etag"], first.json()["version"]
            history = (await client.get(f"{ARTICLE}/revisions", headers=headers)).json()["data"]
            responses = await asyncio.gather(
                *(
                    client.patch(
                        ARTICLE,
                        json={"summary": f"Change number {n}", "tags": [f"tag-{n}"]},
                        headers={**headers, "If-Match": etag},
                    )
                    for n in range(20)
                )
            )
            codes = sorted(r.status_code for r in responses)
            assert codes == [200] + [412] * 19, codes
            winner = next(r.json() for r in responses if r.status_code == 200)
            now = (await client.get(ARTICLE, headers=headers)).json()
            # The winner's change, whole: nothing of the others merged in.
            assert now == winner
            assert now["version"] == version + 1
            assert now["tags"] == [f"tag-{now['summary'].split()[-1]}"]
            for refused in (r.json() for r in responses if r.status_code == 412):
                assert refused["current_version"] == version + 1
                assert refused["current"] == winner
            after = (await client.get(f"{ARTICLE}/revisions", headers=headers)).json()["data"]
            assert len(after) == len(history) + 1
            assert after[0]["changed_fields"] == ["status", "summary", "tags"]

    asyncio.run(run())


def test_renaming_keeps_the_old_slug_as_a_redirect(
    editing: Editing, client: TestClient[Any]
) -> None:
    old, new = ARTICLE, "/api/v1/articles/opioids-and-chronic-back-pain"
    _doc, etag = read_entry_as(client, editing, old)
    renamed = client.patch(
        old,
        json={"slug": "opioids-and-chronic-back-pain"},
        headers={**editing.auth("editor"), "If-Match": etag},
    )
    assert renamed.status_code == 200, renamed.text
    # Editors follow the working copy at once.
    moved = client.get(old, headers=editing.auth("editor"), follow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["location"] == new
    assert moved.headers["cache-control"] == "private, no-store"
    # The public still reads the published version under its published slug...
    assert client.get(old).status_code == 200
    assert client.get(new).status_code == 404
    published = client.post(
        f"{new}/publish", headers={**editing.auth("editor"), "If-Match": renamed.headers["etag"]}
    )
    assert published.status_code == 200, published.text
    # ...until the rename is published: then the old slug answers 301.
    public = client.get(old, follow_redirects=False)
    assert public.status_code == 301
    assert public.headers["location"] == new
    assert public.headers["cache-control"].startswith("public")
    assert client.get(old).json()["slug"] == "opioids-and-chronic-back-pain"  # followed
    # Writes do not follow redirects.
    stale = client.patch(
        old, json={"summary": "x"}, headers={**editing.auth("editor"), "If-Match": "*"}
    )
    assert stale.status_code == 404


def test_a_new_entry_may_take_a_slug_that_only_redirects(
    editing: Editing, client: TestClient[Any]
) -> None:
    draft, etag = create_article(client, editing, "Old name")
    renamed = client.patch(
        "/api/v1/articles/old-name",
        json={"slug": "new-name"},
        headers={**editing.auth("editor"), "If-Match": etag},
    )
    assert renamed.status_code == 200
    taker, _ = create_article(client, editing, "Old name")
    assert taker["slug"] == "old-name"
    assert read_entry_as(client, editing, "/api/v1/articles/old-name")[0]["id"] == taker["id"]
    assert read_entry_as(client, editing, "/api/v1/articles/new-name")[0]["id"] == draft["id"]


def test_a_published_slug_stays_reserved_while_its_entry_is_renamed_in_draft(
    editing: Editing, client: TestClient[Any]
) -> None:
    _doc, etag = read_entry_as(client, editing, ARTICLE)
    renamed = client.patch(
        ARTICLE,
        json={"slug": "opioids-renamed"},
        headers={**editing.auth("editor"), "If-Match": etag},
    )
    assert renamed.status_code == 200
    # The public still reads the old slug, so nothing else may take it yet.
    taken = client.post(
        "/api/v1/articles",
        json={"title": "x", "slug": "opioids-and-back-pain", "clinics": ["calgary"]},
        headers=editing.auth("editor"),
    )
    assert taken.status_code == 422
    assert [e["name"] for e in taken.json()["errors"]] == ["slug"]
