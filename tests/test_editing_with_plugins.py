"""The editors' API and the plugins together: publish checks, series navigation, caches.

Each branch of work tested its own side; these tests cross them, through
HTTP, with the first-party plugins installed as they are in production.
"""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from tests.conftest import Editing, create_article, read_entry_as

STORIES = "patient-stories"
ONE, TWO, THREE = (
    "back-pain-after-a-car-accident",
    "a-marathon-runner-with-back-pain",
    "back-pain-that-flares-with-stress",
)


def _nav(client: TestClient[Any], slug: str) -> Any:
    response = client.get(f"/api/v1/case-stories/{slug}")
    assert response.status_code == 200, response.text
    return response.json()["series"]


def _patch(
    client: TestClient[Any], editing: Editing, path: str, patch: dict[str, Any]
) -> dict[str, Any]:
    _doc, etag = read_entry_as(client, editing, path)
    response = client.patch(
        path,
        json=patch,
        headers={**editing.auth("editor"), "If-Match": etag,
                 "Content-Type": "application/merge-patch+json"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return dict(response.json())


def _step(
    client: TestClient[Any], editing: Editing, path: str, step: str, *, force: bool = False
) -> Any:
    _doc, etag = read_entry_as(client, editing, path)
    query = "?force=true" if force else ""
    return client.post(
        f"{path}/{step}{query}", headers={**editing.auth("editor"), "If-Match": etag}
    )


def test_publishing_through_the_api_runs_the_plugins_checks(
    client: TestClient[Any], editing: Editing
) -> None:
    path = f"/api/v1/case-stories/{ONE}"
    before = client.get(path).json()
    _patch(client, editing, path, {
        "illustrative": False,
        "consent_on_file": False,
        "outcome": "Call 403-555-0199 or write to jane@example.com for details.",
    })  # fmt: skip
    refused = _step(client, editing, path, "publish")
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    reasons = " ".join(e["reason"] for e in refused.json()["errors"])
    assert "consent" in reasons
    assert "phone" in reasons
    assert "e-mail" in reasons
    # Nothing changed: the public keeps the published version, the draft stays a draft.
    assert client.get(path).json() == before
    assert read_entry_as(client, editing, path)[0]["status"] == "draft"


def test_unpublishing_a_part_through_the_api_relinks_its_neighbours(
    client: TestClient[Any], editing: Editing
) -> None:
    assert _nav(client, ONE)["next"]["slug"] == TWO
    assert _step(client, editing, f"/api/v1/case-stories/{TWO}", "unpublish").status_code == 200
    assert client.get(f"/api/v1/case-stories/{TWO}").status_code == 404
    assert _nav(client, ONE)["next"]["slug"] == THREE
    assert _nav(client, THREE)["previous"]["slug"] == ONE


def test_an_edit_pending_review_keeps_a_part_in_its_series(
    client: TestClient[Any], editing: Editing
) -> None:
    # The working copy becomes a draft; the published version stays live,
    # and so does its place in the series.
    _patch(client, editing, f"/api/v1/case-stories/{TWO}", {"title": "Renamed while in review"})
    assert _nav(client, ONE)["next"]["slug"] == TWO
    nav = _nav(client, TWO)
    assert nav["part"] == 2
    series = client.get(f"/api/v1/series/{STORIES}").json()
    titles = [p["title"] for p in series["outline"] if p["status"] == "published"]
    assert "Renamed while in review" not in titles


def test_deleting_a_part_renumbers_the_series(client: TestClient[Any], editing: Editing) -> None:
    path = f"/api/v1/case-stories/{TWO}"
    series = f"/api/v1/series/{STORIES}"
    _doc, etag = read_entry_as(client, editing, path, token="admin")
    # A part of the series: refused, naming the series; nothing changes.
    refused = client.delete(path, headers={**editing.auth("admin"), "If-Match": etag})
    assert refused.status_code == 409, refused.text
    assert f"series/{STORIES}" in refused.json()["detail"]
    assert _nav(client, ONE)["next"]["slug"] == TWO
    # Taken out of the series (and published so), it may go.
    _patch(client, editing, series, {"parts": [f"case-story/{ONE}", f"case-story/{THREE}"]})
    assert _step(client, editing, series, "publish").status_code == 200
    assert _nav(client, ONE)["next"]["slug"] == THREE
    _doc, etag = read_entry_as(client, editing, path, token="admin")
    deleted = client.delete(path, headers={**editing.auth("admin"), "If-Match": etag})
    assert deleted.status_code == 204, deleted.text
    assert client.get(path).status_code == 404
    assert _nav(client, ONE)["next"]["slug"] == THREE
    assert _nav(client, THREE)["part"] == 2


def test_public_reads_see_every_api_write_at_once(
    client: TestClient[Any], editing: Editing
) -> None:
    # The same app answers from its response cache; each write moves the
    # content generation on, so no read after it is stale.
    listed = [a["slug"] for a in client.get("/api/v1/articles?limit=100").json()["data"]]
    assert "opioids-and-back-pain" in listed
    path = "/api/v1/articles/opioids-and-back-pain"
    # Forced: published entries link to it.
    assert _step(client, editing, path, "unpublish", force=True).status_code == 200
    listed = [a["slug"] for a in client.get("/api/v1/articles?limit=100").json()["data"]]
    assert "opioids-and-back-pain" not in listed
    assert client.get(path).status_code == 404
    assert _step(client, editing, path, "publish").status_code == 200
    assert client.get(path).status_code == 200
    # Deleting (an entry nothing refers to) is seen at once too.
    draft, etag = create_article(client, editing, "Published then deleted")
    path = f"/api/v1/articles/{draft['slug']}"
    assert _step(client, editing, path, "publish").status_code == 200
    listed = [a["slug"] for a in client.get("/api/v1/articles?limit=100").json()["data"]]
    assert draft["slug"] in listed
    _doc, etag = read_entry_as(client, editing, path, token="admin")
    assert (
        client.delete(
            f"{path}?force=true", headers={**editing.auth("admin"), "If-Match": etag}
        ).status_code
        == 204
    )
    assert client.get(path).status_code == 404
    listed = [a["slug"] for a in client.get("/api/v1/articles?limit=100").json()["data"]]
    assert draft["slug"] not in listed


def test_a_series_with_parts_is_edited_and_published_through_the_api(
    client: TestClient[Any], editing: Editing
) -> None:
    # Its parts may be of several types, so they are named type/slug; the
    # document a patch applies to names them so too, and stays valid.
    path = f"/api/v1/series/{STORIES}"
    doc, _etag = read_entry_as(client, editing, path)
    assert doc["parts"][0]["slug"] == ONE
    patched = _patch(client, editing, path, {"title": "Patient stories, renamed"})
    assert [p["slug"] for p in patched["parts"]] == [ONE, TWO, THREE]
    published = _step(client, editing, path, "publish")
    assert published.status_code == 200, published.text
    public = client.get(path).json()
    assert public["title"] == "Patient stories, renamed"
    assert [p["slug"] for p in public["parts"]] == [ONE, TWO, THREE]
    assert _nav(client, TWO)["title"] == "Patient stories, renamed"


def test_draft_changes_to_a_series_and_its_parts_stay_out_of_public_reads(
    client: TestClient[Any], editing: Editing
) -> None:
    series_path = f"/api/v1/series/{STORIES}"
    part_path = f"/api/v1/case-stories/{TWO}"
    before = client.get(series_path).json()
    navigation = _nav(client, ONE)
    # An author's draft of a published part, and a draft of the series.
    _doc, etag = read_entry_as(client, editing, part_path, token="author")
    response = client.patch(
        part_path,
        json={"summary": "Draft summary, not yet reviewed."},
        headers={**editing.auth("author"), "If-Match": etag,
                 "Content-Type": "application/merge-patch+json"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    planned = {"title": "Draft planned part", "summary": "Draft planned summary."}
    _patch(client, editing, series_path, {"planned_parts": [planned]})

    public = client.get(series_path).json()
    assert public["outline"] == before["outline"]
    assert "Draft" not in client.get(series_path).text
    for slug in (ONE, TWO, THREE):
        assert _nav(client, slug)["total"] == navigation["total"]

    # Published, both show.
    assert _step(client, editing, part_path, "publish").status_code == 200
    assert _step(client, editing, series_path, "publish").status_code == 200
    outline = client.get(series_path).json()["outline"]
    assert outline[1]["slug"] == TWO
    assert outline[1]["summary"] == "Draft summary, not yet reviewed."
    assert outline[-1]["status"] == "planned"
    assert outline[-1]["title"] == "Draft planned part"
    assert _nav(client, ONE)["total"] == navigation["total"] + 1
