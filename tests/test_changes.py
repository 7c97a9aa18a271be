"""The change feed: ``GET /api/v1/changes``, written in the transaction of every change."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from litestar.testing import TestClient

from cms.app import create_app
from tests.conftest import Editing, concurrent_client, create_article, read_entry_as, step

CHANGES = "/api/v1/changes"
ONLY_EDMONTON = "/api/v1/articles/what-happens-in-an-acupuncture-session"
BOTH = "/api/v1/articles/opioids-and-back-pain"


def read_all(
    client: TestClient[Any], query: str = "", headers: dict[str, str] | None = None, since: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """Every change after ``since`` for ``query``, page by page; and where to resume."""
    events: list[dict[str, Any]] = []
    while True:
        response = client.get(f"{CHANGES}?since={since}&limit=7{query}", headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        events += page["data"]
        assert page["next_since"] >= since
        since = page["next_since"]
        if since == page["last_seq"]:
            return events, since


def newest(client: TestClient[Any]) -> int:
    return int(client.get(f"{CHANGES}?limit=1").json()["last_seq"])


def about(events: list[dict[str, Any]], slug: str) -> list[tuple[str, str, str]]:
    return [(e["event"], e["action"], e["state"]) for e in events if e["slug"] == slug]


def test_the_demo_load_is_in_the_feed_and_anonymous_readers_see_published_changes_only(
    client: TestClient[Any],
) -> None:
    events, last = read_all(client)
    assert last == newest(client)
    assert {e["state"] for e in events} == {"published"}
    assert {e["event"] for e in events} == {"upsert"}
    published = {(e["type"], e["slug"]) for e in events}
    assert ("article", "opioids-and-back-pain") in published
    assert ("clinic", "calgary") in published
    assert ("condition", "sciatica") in published
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    first = next(e for e in events if e["slug"] == "opioids-and-back-pain")
    assert sorted(first["clinics"]) == ["calgary", "edmonton"]
    assert first["left_clinics"] == []
    assert first["id"] == client.get(BOTH).json()["id"]
    assert first["at"].endswith("Z")


def test_pages_resume_from_any_sequence_number(client: TestClient[Any]) -> None:
    everything = client.get(f"{CHANGES}?limit=1000&state=published").json()["data"]
    paged, _ = read_all(client)
    assert paged == everything
    middle = everything[len(everything) // 2]["seq"]
    rest, _ = read_all(client, since=middle)
    assert rest == [e for e in everything if e["seq"] > middle]
    past_the_end = client.get(f"{CHANGES}?since={newest(client) + 50}").json()
    assert past_the_end["data"] == []


def test_one_clinic_sees_its_entries_shared_ones_and_nothing_of_the_others(
    editing: Editing, client: TestClient[Any]
) -> None:
    calgary, _ = read_all(client, "&clinic=calgary")
    slugs = {e["slug"] for e in calgary}
    assert "opioids-and-back-pain" in slugs
    assert "what-happens-in-an-acupuncture-session" not in slugs  # Edmonton only
    assert "edmonton" not in slugs
    assert "calgary" in slugs
    edmonton, _ = read_all(client, "&clinic=edmonton")
    assert "what-happens-in-an-acupuncture-session" in {e["slug"] for e in edmonton}

    # An entry that names no clinic is every clinic's.
    mark = newest(client)
    response = client.post(
        "/api/v1/conditions", json={"title": "Shoulder pain"}, headers=editing.auth("editor")
    )
    assert response.status_code == 201, response.text
    response = client.post(
        "/api/v1/conditions/shoulder-pain/publish",
        headers={**editing.auth("editor"), "If-Match": response.headers["etag"]},
    )
    assert response.status_code == 200, response.text
    for clinic in ("calgary", "edmonton"):
        events, _ = read_all(client, f"&clinic={clinic}", since=mark)
        [shared] = [e for e in events if e["slug"] == "shoulder-pain"]
        assert (shared["event"], shared["clinics"]) == ("upsert", [])

    # Naming a clinic later leaves the others.
    _doc, etag = read_entry_as(client, editing, "/api/v1/conditions/shoulder-pain")
    response = client.patch(
        "/api/v1/conditions/shoulder-pain",
        json={"clinics": ["edmonton"]},
        headers={**editing.auth("editor"), "If-Match": etag},
    )
    assert response.status_code == 200, response.text
    mark = newest(client)
    response = client.post(
        "/api/v1/conditions/shoulder-pain/publish",
        headers={**editing.auth("editor"), "If-Match": response.headers["etag"]},
    )
    assert response.status_code == 200, response.text
    calgary, _ = read_all(client, "&clinic=calgary", since=mark)
    assert about(calgary, "shoulder-pain") == [("delete", "publish", "published")]
    edmonton, _ = read_all(client, "&clinic=edmonton", since=mark)
    assert about(edmonton, "shoulder-pain") == [("upsert", "publish", "published")]


def test_type_filter(client: TestClient[Any]) -> None:
    events, _ = read_all(client, "&type=clinic,condition")
    assert {e["type"] for e in events} == {"clinic", "condition"}
    assert len([e for e in events if e["type"] == "clinic"]) >= 2


def test_lifecycle_of_an_entry(editing: Editing, client: TestClient[Any]) -> None:
    start = newest(client)
    draft, etag = create_article(client, editing, "Heat or ice for a back strain")
    slug = draft["slug"]
    public, _ = read_all(client, since=start)
    assert about(public, slug) == [], "a draft is not public"
    working, _ = read_all(client, "&state=working", editing.auth("viewer"), since=start)
    assert about(working, slug) == [("upsert", "create", "working")]

    mark = newest(client)
    _doc, etag = step(client, editing, slug, "publish", etag)
    public, _ = read_all(client, since=mark)
    [published] = [e for e in public if e["slug"] == slug]
    assert (published["event"], published["action"]) == ("upsert", "publish")
    assert published["clinics"] == ["calgary"]
    assert published["version"] == 2
    assert published["id"] == draft["id"]

    # An edit to the working copy is not public until it is published.
    mark = newest(client)
    response = client.patch(
        f"/api/v1/articles/{slug}",
        json={"summary": "Which one, and when."},
        headers={**editing.auth("editor"), "If-Match": etag},
    )
    assert response.status_code == 200, response.text
    etag = response.headers["etag"]
    assert about(read_all(client, since=mark)[0], slug) == []
    both, _ = read_all(client, "&state=all", editing.auth("editor"), since=mark)
    assert about(both, slug) == [("upsert", "update", "working")]

    mark = newest(client)
    _doc, etag = step(client, editing, slug, "unpublish", etag)
    public, _ = read_all(client, since=mark)
    [gone] = [e for e in public if e["slug"] == slug]
    assert (gone["event"], gone["action"], gone["left_clinics"]) == (
        "delete",
        "unpublish",
        ["calgary"],
    )
    calgary, _ = read_all(client, "&clinic=calgary", since=mark)
    assert about(calgary, slug) == [("delete", "unpublish", "published")]

    mark = newest(client)
    response = client.delete(
        f"/api/v1/articles/{slug}", headers={**editing.auth("admin"), "If-Match": etag}
    )
    assert response.status_code == 204, response.text
    both, _ = read_all(client, "&state=all", editing.auth("admin"), since=mark)
    # Nothing was published any more: the delete is a working-copy change only.
    assert about(both, slug) == [("delete", "delete", "working")]


def test_leaving_a_clinic_is_a_delete_there_and_an_upsert_elsewhere(
    editing: Editing, client: TestClient[Any]
) -> None:
    _doc, etag = read_entry_as(client, editing, BOTH)
    response = client.patch(
        BOTH, json={"clinics": ["edmonton"]}, headers={**editing.auth("editor"), "If-Match": etag}
    )
    assert response.status_code == 200, response.text
    mark = newest(client)
    step(client, editing, "opioids-and-back-pain", "publish", response.headers["etag"])
    calgary, _ = read_all(client, "&clinic=calgary", since=mark)
    assert about(calgary, "opioids-and-back-pain") == [("delete", "publish", "published")]
    edmonton, _ = read_all(client, "&clinic=edmonton", since=mark)
    assert about(edmonton, "opioids-and-back-pain") == [("upsert", "publish", "published")]
    site, _ = read_all(client, since=mark)
    [event] = [e for e in site if e["slug"] == "opioids-and-back-pain"]
    assert (event["event"], event["clinics"], event["left_clinics"]) == (
        "upsert",
        ["edmonton"],
        ["calgary"],
    )
    # Removed from the Calgary list, as the feed says.
    listed = client.get("/api/v1/articles?clinic=calgary&limit=100").json()["data"]
    assert "opioids-and-back-pain" not in {a["slug"] for a in listed}


def test_a_clinic_change_is_in_the_feed_with_the_entries_it_moved(
    editing: Editing, client: TestClient[Any]
) -> None:
    mark = newest(client)
    path = "/api/v1/clinics/edmonton"
    clinic, etag = read_entry_as(client, editing, path, token="admin")
    response = client.patch(
        path,
        json={"site_url": "https://edmonton.example.org"},
        headers={**editing.auth("admin"), "If-Match": etag},
    )
    assert response.status_code == 200, response.text
    response = client.post(
        f"{path}/publish", headers={**editing.auth("admin"), "If-Match": response.headers["etag"]}
    )
    assert response.status_code == 200, response.text
    edmonton, _ = read_all(client, "&clinic=edmonton", since=mark)
    assert ("upsert", "publish", "published") in about(edmonton, "edmonton")
    # Entries whose canonical URLs the clinic's site builds were refreshed.
    refreshed = {e["slug"] for e in edmonton if e["action"] == "refresh"}
    assert "what-happens-in-an-acupuncture-session" in refreshed
    url = client.get(ONLY_EDMONTON).json()["canonical_url"]
    assert url.startswith("https://edmonton.example.org/")
    assert clinic["site_url"] != "https://edmonton.example.org"


def test_working_copy_changes_need_a_token_that_may_read_drafts(
    editing: Editing, client: TestClient[Any]
) -> None:
    response = client.get(f"{CHANGES}?state=working")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    response = client.get(f"{CHANGES}?state=all", headers=editing.auth("calgary-viewer"))
    assert response.status_code == 403
    assert response.json()["errors"][0]["name"] == "clinic"
    response = client.get(
        f"{CHANGES}?state=all&clinic=edmonton", headers=editing.auth("calgary-viewer")
    )
    assert response.status_code == 403
    response = client.get(
        f"{CHANGES}?state=all&clinic=calgary", headers=editing.auth("calgary-viewer")
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-store"
    slugs = {e["slug"] for e in response.json()["data"]}
    assert "what-happens-in-an-acupuncture-session" not in slugs

    # A draft that names no clinic: its working copy is not the limited token's to read.
    mark = newest(client)
    created = client.post(
        "/api/v1/conditions", json={"title": "Neck strain"}, headers=editing.auth("editor")
    )
    assert created.status_code == 201, created.text
    query = "&state=all&clinic=calgary"
    everyone, _ = read_all(client, query, editing.auth("viewer"), since=mark)
    assert about(everyone, "neck-strain") == [("upsert", "create", "working")]
    limited, _ = read_all(client, query, editing.auth("calgary-viewer"), since=mark)
    assert about(limited, "neck-strain") == []
    assert client.get(
        "/api/v1/conditions/neck-strain", headers=editing.auth("calgary-viewer")
    ).status_code in (403, 404)


def test_bad_parameters_are_problems_naming_them(client: TestClient[Any]) -> None:
    for query, name in [
        ("since=-1", "since"),
        ("since=soon", "since"),
        (f"since={2**63}", "since"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("type=recipe", "type"),
        ("state=everything", "state"),
        ("clinic=calgary,edmonton", "clinic"),
        ("clinic=Not%20a%20slug", "clinic"),
        ("colour=blue", "colour"),
    ]:
        response = client.get(f"{CHANGES}?{query}")
        assert response.status_code == 400, (query, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert name in response.text, (query, response.text)


def test_etag_and_304_until_something_changes(editing: Editing, client: TestClient[Any]) -> None:
    first = client.get(f"{CHANGES}?clinic=calgary")
    assert first.headers["cache-control"].startswith("public")
    assert "changes" in first.headers["surrogate-key"].split()
    etag = first.headers["etag"]
    again = client.get(f"{CHANGES}?clinic=calgary", headers={"If-None-Match": etag})
    assert again.status_code == 304
    since = first.json()["next_since"]
    before = client.get(f"{CHANGES}?since={since}")
    assert before.json()["data"] == []
    draft, etag = create_article(client, editing, "Sleeping with back pain")
    step(client, editing, draft["slug"], "publish", etag)
    stale = before.headers["etag"]
    after = client.get(f"{CHANGES}?since={since}", headers={"If-None-Match": stale})
    assert after.status_code == 200
    assert [e["slug"] for e in after.json()["data"]] == [draft["slug"]]


def test_concurrent_writers_never_leave_a_reader_behind(editing: Editing) -> None:
    """Readers polling while writers commit in any order see every change once, in order."""

    async def run() -> None:
        headers = editing.auth("editor")
        app = create_app(editing.settings())
        async with concurrent_client(app) as client:
            start = (await client.get(f"{CHANGES}?limit=1")).json()["last_seq"]
            seen: list[dict[str, Any]] = []
            done = asyncio.Event()

            async def reader() -> None:
                since = start
                while True:
                    finished = done.is_set()
                    query = f"{CHANGES}?since={since}&state=all&limit=5"
                    page = (await client.get(query, headers=headers)).json()
                    # Every page continues exactly where the last one stopped.
                    assert [e["seq"] for e in page["data"]] == list(
                        range(since + 1, since + 1 + len(page["data"]))
                    )
                    seen.extend(page["data"])
                    since = page["next_since"]
                    if finished and since == page["last_seq"]:
                        return
                    await asyncio.sleep(0)

            async def writer(n: int) -> None:
                body = {
                    "title": f"Concurrent article {n}",
                    "clinics": ["calgary"],
                    "author": "lena-marchetti",
                    "body": f"Text {n}.",
                }
                created = await client.post("/api/v1/articles", json=body, headers=headers)
                assert created.status_code == 201, created.text
                published = await client.post(
                    f"{created.headers['location']}/publish",
                    headers={**headers, "If-Match": created.headers["etag"]},
                )
                assert published.status_code == 200, published.text

            reading = asyncio.create_task(reader())
            await asyncio.gather(*(writer(n) for n in range(12)))
            done.set()
            await reading
            slugs = [f"concurrent-article-{n}" for n in range(12)]
            for slug in slugs:
                mine = [(e["action"], e["state"]) for e in seen if e["slug"] == slug]
                assert ("create", "working") in mine
                assert ("publish", "published") in mine
            assert len({e["seq"] for e in seen}) == len(seen)

    asyncio.run(run())


def test_concurrent_writers_on_separate_apps_get_distinct_gap_free_numbers(
    editing: Editing,
) -> None:
    """Two app instances (two workers) on one database share one sequence."""

    async def run() -> None:
        headers = editing.auth("editor")
        apps = [create_app(editing.settings()), create_app(editing.settings())]
        async with concurrent_client(apps[0]) as one, concurrent_client(apps[1]) as two:
            start = (await one.get(f"{CHANGES}?limit=1")).json()["last_seq"]

            async def write(client: httpx.AsyncClient, n: int) -> None:
                body = {"title": f"Worker article {n}", "clinics": ["edmonton"],
                        "author": "lena-marchetti", "body": "Text."}  # fmt: skip
                response = await client.post("/api/v1/articles", json=body, headers=headers)
                assert response.status_code == 201, response.text

            await asyncio.gather(*(write((one, two)[n % 2], n) for n in range(10)))
            page = (await two.get(f"{CHANGES}?since={start}&state=working", headers=headers)).json()
            seqs = [e["seq"] for e in page["data"]]
            assert seqs == list(range(start + 1, start + 11))
            assert {e["slug"] for e in page["data"]} == {f"worker-article-{n}" for n in range(10)}

    asyncio.run(run())


def test_only_clinics_says_where_an_entry_is_shown(
    editing: Editing, client: TestClient[Any]
) -> None:
    """A case story's `clinic` (where the treatment took place) is not where it is shown."""
    path = "/api/v1/case-stories/a-marathon-runner-with-back-pain"
    story, etag = read_entry_as(client, editing, path)
    assert story["clinic"] == {"slug": "calgary", "title": story["clinic"]["title"]}
    response = client.patch(
        path,
        json={"clinics": ["edmonton"], "origin_clinic": "edmonton"},
        headers={**editing.auth("editor"), "If-Match": etag},
    )
    assert response.status_code == 200, response.text
    mark = newest(client)
    response = client.post(
        f"{path}/publish", headers={**editing.auth("editor"), "If-Match": response.headers["etag"]}
    )
    assert response.status_code == 200, response.text
    calgary, _ = read_all(client, "&clinic=calgary", since=mark)
    assert about(calgary, "a-marathon-runner-with-back-pain") == [
        ("delete", "publish", "published")
    ]
    [event] = [e for e in read_all(client, since=mark)[0] if e["type"] == "case-story"]
    assert (event["clinics"], event["left_clinics"]) == (["edmonton"], ["calgary"])


def test_a_clinic_is_named_by_its_published_slug_until_its_rename_is_published(
    editing: Editing, client: TestClient[Any]
) -> None:
    path = "/api/v1/clinics/calgary"
    _clinic, etag = read_entry_as(client, editing, path, token="admin")
    response = client.patch(
        path,
        json={"slug": "calgary-south", "clinics": ["calgary-south"], "origin_clinic": None},
        headers={**editing.auth("admin"), "If-Match": etag},
    )
    assert response.status_code == 200, response.text
    renamed_etag = response.headers["etag"]
    # A draft rename is not public: Calgary's readers still get Calgary's changes.
    mark = newest(client)
    draft, etag = create_article(client, editing, "Walking with back pain")
    step(client, editing, draft["slug"], "publish", etag)
    calgary, _ = read_all(client, "&clinic=calgary", since=mark)
    assert [(e["slug"], e["clinics"]) for e in calgary] == [(draft["slug"], ["calgary"])]
    assert read_all(client, "&clinic=calgary-south", since=mark)[0] == []
    # Published, the rename moves the clinic's readers: a delete under the old
    # slug, an upsert under the new one.
    mark = newest(client)
    response = client.post(
        "/api/v1/clinics/calgary-south/publish",
        headers={**editing.auth("admin"), "If-Match": renamed_etag},
    )
    assert response.status_code == 200, response.text
    old, _ = read_all(client, "&clinic=calgary", since=mark)
    assert ("delete", "publish", "published") in about(old, "calgary-south")
    new, _ = read_all(client, "&clinic=calgary-south", since=mark)
    assert ("upsert", "publish", "published") in about(new, "calgary-south")
