"""Issue 5's derived data on issue 4's published versions, over HTTP.

Search, backlinks, broken links and the documents other entries show all
follow the published view (``published_entries``), not a working copy's
status; the editors' routes check link integrity, ``force=true`` skips it.
"""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.conftest import Editing, create_article, read_entry_as, step

ARTICLE = "causes-of-low-back-pain-and-sciatica"
CONDITION = "/api/v1/conditions/piriformis-syndrome"


def hits(client: TestClient[Any], q: str) -> list[str]:
    """``type/slug`` of every anonymous search hit for ``q``."""
    response = client.get("/api/v1/search", params={"q": q, "limit": 100})
    assert response.status_code == 200, response.text
    return [f"{h['type']}/{h['slug']}" for h in response.json()["data"]]


def _post(
    client: TestClient[Any], editing: Editing, path: str, etag: str, *, force: bool = False
) -> Any:
    query = "?force=true" if force else ""
    return client.post(f"{path}{query}", headers={**editing.auth("editor"), "If-Match": etag})


# --- search ----------------------------------------------------------------------


def test_search_finds_what_is_published_and_only_that(
    client: TestClient[Any], editing: Editing
) -> None:
    draft, etag = create_article(client, editing, "Quokka stretches for the lower back")
    assert hits(client, "quokka") == []  # a draft is not searchable
    published, etag = step(client, editing, draft["slug"], "publish", etag)
    assert hits(client, "quokka") == [f"article/{draft['slug']}"]

    # An edit awaiting review: the public still finds the published text, not the draft's.
    path = f"/api/v1/articles/{draft['slug']}"
    edited = client.patch(
        path,
        json={"title": "Wombat stretches for the lower back", "body": "## About\n\nWombats."},
        headers={**editing.auth("editor"), "If-Match": etag},
    )
    assert edited.status_code == 200, edited.text
    _doc, etag = step(client, editing, draft["slug"], "submit", edited.headers["etag"])
    assert hits(client, "quokka") == [f"article/{draft['slug']}"]
    assert hits(client, "wombat") == []
    hit = client.get("/api/v1/search", params={"q": "quokka"}).json()["data"][0]
    assert hit["title"] == "Quokka stretches for the lower back"
    assert hit["canonical_url"] == published["canonical_url"]

    # Publishing the edit replaces the searchable text; unpublishing removes it.
    _doc, etag = step(client, editing, draft["slug"], "publish", etag)
    assert hits(client, "wombat") == [f"article/{draft['slug']}"]
    assert hits(client, "quokka") == []
    step(client, editing, draft["slug"], "unpublish", etag)
    assert hits(client, "wombat") == []


# --- link integrity through the editors' routes -------------------------------------


def test_unpublishing_a_linked_condition_is_a_409_unless_forced(
    client: TestClient[Any], editing: Editing
) -> None:
    _doc, etag = read_entry_as(client, editing, CONDITION)
    refused = _post(client, editing, f"{CONDITION}/unpublish", etag)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"] == "urn:clinic-cms:problem:linked-from-published"
    linking = {f"{d['source']['type']}/{d['source']['slug']}" for d in problem["dependents"]}
    assert f"article/{ARTICLE}" in linking
    assert all(d["target"] == "condition/piriformis-syndrome" for d in problem["dependents"])
    assert client.get(CONDITION).status_code == 200  # nothing was written
    assert client.get("/api/v1/links/broken").json()["data"] == []

    forced = _post(client, editing, f"{CONDITION}/unpublish", etag, force=True)
    assert forced.status_code == 200, forced.text
    assert client.get(CONDITION).status_code == 404
    broken = client.get("/api/v1/links/broken?limit=100").json()["data"]
    sources = {f"{b['source']['type']}/{b['source']['slug']}" for b in broken}
    assert sources == linking
    assert {b["reason"] for b in broken} == {"not_published"}
    # The published pages that linked to it keep the text, not the link.
    article = client.get(f"/api/v1/articles/{ARTICLE}").json()
    assert "piriformis-syndrome" not in "".join(
        part.split('"')[0] for part in article["body_html"].split('href="')[1:]
    )


def test_archiving_and_deleting_a_linked_entry_are_refused_unless_forced(
    client: TestClient[Any], editing: Editing
) -> None:
    _doc, etag = read_entry_as(client, editing, CONDITION)
    assert _post(client, editing, f"{CONDITION}/archive", etag).status_code == 409
    _doc, etag = read_entry_as(client, editing, CONDITION, token="admin")
    headers = {**editing.auth("admin"), "If-Match": etag}
    # Articles' relations name this condition: `force` skips link checks,
    # never the refusal to change other entries behind their backs.
    refused = client.delete(f"{CONDITION}?force=true", headers=headers)
    assert refused.status_code == 409
    assert "article/causes-of-low-back-pain-and-sciatica" in refused.json()["detail"]
    assert client.get(CONDITION).status_code == 200
    # An article only linked to from other entries' text can go, when forced.
    linked_only = "/api/v1/articles/our-approach-to-treating-back-pain"
    _doc, etag = read_entry_as(client, editing, linked_only, token="admin")
    headers = {**editing.auth("admin"), "If-Match": etag}
    linked = client.delete(linked_only, headers=headers)
    assert linked.status_code == 409
    assert linked.json()["type"] == "urn:clinic-cms:problem:linked-from-published"
    assert client.delete(f"{linked_only}?force=true", headers=headers).status_code == 204
    assert client.get(linked_only, headers=editing.auth("admin")).status_code == 404
    broken = client.get("/api/v1/links/broken?limit=100").json()["data"]
    assert {b["reason"] for b in broken} == {"missing"}
    assert all(b["target"] == "article/our-approach-to-treating-back-pain" for b in broken)


def test_publishing_a_broken_link_is_a_422_unless_forced(
    client: TestClient[Any], editing: Editing
) -> None:
    draft, etag = create_article(
        client, editing, "Gout and the back", body="See [gout](cms:condition/gout)."
    )
    path = f"/api/v1/articles/{draft['slug']}"
    refused = _post(client, editing, f"{path}/publish", etag)
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"] == "urn:clinic-cms:problem:broken-links"
    assert [e["reason"] for e in refused.json()["errors"]] == [
        "links to condition/gout, which does not exist"
    ]
    assert client.get(path).status_code == 404
    # Scheduling checks the same links.
    scheduled = client.post(
        f"{path}/publish",
        json={"at": "2099-01-01T00:00:00Z"},
        headers={**editing.auth("editor"), "If-Match": etag},
    )
    assert scheduled.status_code == 422, scheduled.text
    forced = _post(client, editing, f"{path}/publish", etag, force=True)
    assert forced.status_code == 200, forced.text
    assert client.get(path).status_code == 200
    broken = client.get("/api/v1/links/broken?limit=100").json()["data"]
    assert [(b["source"]["slug"], b["target"], b["reason"]) for b in broken] == [
        (draft["slug"], "condition/gout", "missing")
    ]


# --- what other documents show -----------------------------------------------------


def _about(client: TestClient[Any], slug: str) -> dict[str, str]:
    """The conditions an article's public JSON-LD is about: name -> URL."""
    doc = client.get(f"/api/v1/articles/{slug}").json()
    return {c["name"]: c["url"] for c in doc["json_ld"]["@graph"][0]["about"]}


def test_a_draft_rename_shows_nowhere_until_it_is_published(
    client: TestClient[Any], editing: Editing
) -> None:
    assert "Piriformis syndrome" in _about(client, ARTICLE)
    _doc, etag = read_entry_as(client, editing, CONDITION)
    renamed = client.patch(
        CONDITION,
        json={"title": "Piriformis muscle syndrome"},
        headers={**editing.auth("editor"), "If-Match": etag},
    )
    assert renamed.status_code == 200, renamed.text
    # The public documents that show it keep the published name.
    assert "Piriformis syndrome" in _about(client, ARTICLE)
    published = _post(client, editing, f"{CONDITION}/publish", renamed.headers["etag"])
    assert published.status_code == 200, published.text
    # Published: the article (no draft of its own) is rebuilt with the new name.
    about = _about(client, ARTICLE)
    assert "Piriformis muscle syndrome" in about
    assert "Piriformis syndrome" not in about


def test_a_dependent_with_a_pending_draft_keeps_its_published_copy(
    client: TestClient[Any], editing: Editing
) -> None:
    path = f"/api/v1/articles/{ARTICLE}"
    before = client.get(path).json()
    _doc, etag = read_entry_as(client, editing, path)
    pending = client.patch(
        path,
        json={"summary": "Pending review"},
        headers={**editing.auth("editor"), "If-Match": etag},
    )
    assert pending.status_code == 200, pending.text
    _doc, etag = read_entry_as(client, editing, CONDITION)
    renamed = client.patch(
        CONDITION,
        json={"title": "Piriformis muscle syndrome"},
        headers={**editing.auth("editor"), "If-Match": etag},
    )
    assert (
        _post(client, editing, f"{CONDITION}/publish", renamed.headers["etag"]).status_code == 200
    )
    # The article's published copy is what was published; its working copy is rebuilt.
    assert client.get(path).json()["json_ld"] == before["json_ld"]
    working, _etag = read_entry_as(client, editing, path)
    names = {c["name"] for c in working["json_ld"]["@graph"][0]["about"]}
    assert "Piriformis muscle syndrome" in names
    assert working["summary"] == "Pending review"


# --- the response cache and compression ---------------------------------------------


def test_the_cache_keeps_both_codings_and_token_reads_are_uncompressed(
    client: TestClient[Any], editing: Editing
) -> None:
    url = "/api/v1/articles?limit=100"
    first = [client.get(url, headers={"Accept-Encoding": c}) for c in ("gzip", "identity")]
    again = [client.get(url, headers={"Accept-Encoding": c}) for c in ("gzip", "identity")]
    for built, cached in zip(first, again, strict=True):
        assert built.headers["etag"] == cached.headers["etag"]
        assert built.content == cached.content
    assert first[0].headers["content-encoding"] == "gzip"
    assert first[0].headers["etag"] != first[1].headers["etag"]
    gzip_etag = first[0].headers["etag"]
    revalidated = client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": gzip_etag})
    assert revalidated.status_code == 304
    token = client.get(url, headers={**editing.auth("editor"), "Accept-Encoding": "gzip"})
    assert token.headers["cache-control"] == "private, no-store"
    assert token.headers["vary"] == "Authorization, Origin"
    assert "content-encoding" not in token.headers


def test_token_reads_take_fields_and_include_of_the_working_copies(
    client: TestClient[Any], editing: Editing
) -> None:
    path = f"/api/v1/articles/{ARTICLE}"
    query = "?fields=slug,title,author,published_version&include=author"
    token = client.get(path + query, headers=editing.auth("editor"))
    assert token.status_code == 200, token.text
    doc = token.json()
    assert set(doc) == {"slug", "title", "author", "published_version"}
    assert doc["author"]["type"] == "practitioner"
    public = client.get(path + query.replace(",published_version", ""))
    assert public.status_code == 200, public.text
    assert "published_version" not in public.json()
    listed = client.get(
        "/api/v1/articles?status=draft,published&fields=slug,author&include=author",
        headers=editing.auth("editor"),
    )
    assert listed.status_code == 200, listed.text
    assert all(isinstance(a["author"], dict) for a in listed.json()["data"] if a["author"])


# --- a draft's links and facet values show nowhere public (issue 15) --------------------


def _public(client: TestClient[Any], url: str) -> tuple[list[dict[str, Any]], str]:
    """An anonymous list answer's ``data`` and its ETag."""
    response = client.get(url)
    assert response.status_code == 200, response.text
    return response.json()["data"], response.headers["etag"]


def _patch(client: TestClient[Any], editing: Editing, path: str, **fields: Any) -> str:
    """Change the working copy at ``path`` (a draft of it); the new ETag."""
    _doc, etag = read_entry_as(client, editing, path)
    changed = client.patch(path, json=fields, headers={**editing.auth("editor"), "If-Match": etag})
    assert changed.status_code == 200, changed.text
    return str(changed.headers["etag"])


def _unchanged(client: TestClient[Any], url: str, before: tuple[list[Any], str]) -> None:
    """The anonymous answer at ``url`` is still ``before``: same body, same ETag, a 304."""
    assert _public(client, url) == before
    assert client.get(url, headers={"If-None-Match": before[1]}).status_code == 304


def test_a_drafts_links_show_nowhere_public_until_it_is_published(
    client: TestClient[Any], editing: Editing
) -> None:
    # The audit's case: a published entry whose draft links to an unannounced one.
    created, etag = create_article(client, editing, "Spring hours")
    _doc, etag = step(client, editing, created["slug"], "publish", etag)
    path = f"/api/v1/articles/{created['slug']}"
    broken_url = "/api/v1/links/broken?limit=100"
    backlinks_url = "/api/v1/conditions/sciatica/backlinks?limit=100"
    broken = _public(client, broken_url)
    backlinks = _public(client, backlinks_url)
    assert broken[0] == []
    assert created["id"] not in {e["id"] for e in backlinks[0]}

    etag = _patch(
        client, editing, path,
        body="Ahead of [the launch](cms:article/unannounced-launch), see "
        "[sciatica](cms:condition/sciatica).",
    )  # fmt: skip
    # Anonymous readers see the published version's links: none. The answers,
    # and so their ETags, are what they were before the draft was saved.
    _unchanged(client, broken_url, broken)
    _unchanged(client, backlinks_url, backlinks)
    # A token reads these public lists as anyone does.
    assert client.get(broken_url, headers=editing.auth("editor")).json()["data"] == []

    # Published (forced past its link to a missing entry), its links are public.
    _doc, _etag = step(client, editing, created["slug"], "publish", etag, force=True)
    listed, _etag = _public(client, broken_url)
    assert [(b["source"]["id"], b["target"], b["reason"]) for b in listed] == [
        (created["id"], "article/unannounced-launch", "missing")
    ]
    linking, _etag = _public(client, backlinks_url)
    assert created["id"] in {e["id"] for e in linking}


def test_a_published_version_keeps_its_links_while_its_draft_drops_them(
    client: TestClient[Any], editing: Editing
) -> None:
    path = f"/api/v1/articles/{ARTICLE}"
    backlinks_url = f"{CONDITION}/backlinks?limit=100"
    before = _public(client, backlinks_url)
    article = client.get(path).json()
    assert article["id"] in {e["id"] for e in before[0]}

    etag = _patch(client, editing, path, body="## About\n\nNo links in this draft.")
    _unchanged(client, backlinks_url, before)
    # Its published version still links to the condition: taking it down would break it.
    _doc, condition_etag = read_entry_as(client, editing, CONDITION)
    refused = _post(client, editing, f"{CONDITION}/unpublish", condition_etag)
    assert refused.status_code == 409, refused.text
    dependents = {d["source"]["id"] for d in refused.json()["dependents"]}
    assert article["id"] in dependents

    # Once the draft is published, it no longer links there.
    step(client, editing, ARTICLE, "publish", etag)
    after, _etag = _public(client, backlinks_url)
    assert article["id"] not in {e["id"] for e in after}


@pytest.mark.parametrize(
    ("plural", "slug"), [("practitioners", "maren-holt"), ("conditions", "back-strain")]
)
def test_a_drafts_facet_values_filter_no_public_list(
    client: TestClient[Any], editing: Editing, plural: str, slug: str
) -> None:
    path = f"/api/v1/{plural}/{slug}"
    old, new = (
        f"/api/v1/{plural}?modality={m}&limit=100" for m in ("electro-acupuncture", "tui-na")
    )
    entry_id = client.get(path).json()["id"]
    listed_old, listed_new = _public(client, old), _public(client, new)
    assert entry_id in {e["id"] for e in listed_old[0]}
    assert listed_new[0] == []

    etag = _patch(client, editing, path, modalities=["tui-na"])
    # The public lists filter on the published values: unchanged, ETags and all.
    _unchanged(client, old, listed_old)
    _unchanged(client, new, listed_new)
    # Editors' lists are of working copies, and filter on the draft's values.
    drafts = client.get(new, headers=editing.auth("editor")).json()["data"]
    assert [e["id"] for e in drafts] == [entry_id]
    assert entry_id not in {
        e["id"] for e in client.get(old, headers=editing.auth("editor")).json()["data"]
    }

    published = _post(client, editing, f"{path}/publish", etag)
    assert published.status_code == 200, published.text
    assert [e["id"] for e in _public(client, new)[0]] == [entry_id]
    assert entry_id not in {e["id"] for e in _public(client, old)[0]}
