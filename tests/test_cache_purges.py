"""Editors never empty the response cache: a draft save keeps every answer of the core's,
and a publish through any process is read through every other at once.

A publish empties every cache for now: answers do not yet name everything they
depend on, and the scenarios in :data:`STALE_BY_KEY` are the ones a purge by
key alone left stale (each checked against a fresh app's answer).

A cached answer costs no content query (only the read of the purge number,
which these tests leave out), so each read below says whether it came from the
cache by the queries the app ran for it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import text

from cms.app import create_app
from cms.storage.db import create_engine
from cms.syndication.purges import KEPT
from cms.testing import QUIET
from tests.conftest import Editing, concurrent_client, counting, step, wait_for
from tests.servers import HTTP_TIMEOUT, cms_serve
from tests.servers import QUIET as QUIET_ENV
from tests.test_observability import PLUGINS_ENV, get, read_log

API = "/api/v1"
SLUG = "causes-of-low-back-pain-and-sciatica"
ARTICLE = f"{API}/articles/{SLUG}"
# Answers that show the article.
SHOWING = [
    ARTICLE,
    f"{API}/articles?limit=20",
    f"{API}/articles?limit=5&include=author,conditions",
    f"{API}/search?q=sciatica",
    f"{API}/changes?clinic=calgary",
    f"{API}/clinics/calgary/feed.json",
]
# Answers that do not show it.
APART = [
    f"{API}/conditions/upper-back-pain",
    f"{API}/practitioners?limit=20",
    f"{API}/articles/what-happens-in-an-acupuncture-session",
    f"{API}/series/patient-stories",
    f"{API}/series/back-pain-and-medicines",
    f"{API}/articles/opioids-and-back-pain",
]
PART = f"{API}/articles/opioids-and-back-pain"
"""A part of a published series: its save makes the blog_series plugin compute the
series' outline and its parts' navigation again."""
PURGE_NUMBER = ("site_state", "cache_purges")


def content_queries(statements: list[str]) -> list[str]:
    """The queries of a read, but the purge number's (PostgreSQL reads it through the engine)."""
    return [s for s in statements if not any(table in s for table in PURGE_NUMBER)]


def from_cache(app: Litestar, client: TestClient[Any], url: str) -> bool:
    """GET ``url`` anonymously: whether it was answered from the response cache."""
    with counting(app) as statements:
        response = client.get(url)
    assert response.status_code == 200, (url, response.text)
    return not content_queries(statements)


@pytest.fixture(name="site")
def fixture_site(editing: Editing) -> Iterator[tuple[Litestar, TestClient[Any]]]:
    app = create_app(editing.settings(**QUIET))
    with TestClient(app) as client:
        for url in SHOWING + APART:
            assert not from_cache(app, client, url), url  # each read once: now cached
            assert from_cache(app, client, url), url
        yield app, client


def edit_summary(client: TestClient[Any], editing: Editing, summary: str) -> str:
    """Change the article's working copy; its new ETag."""
    auth = editing.auth("editor")
    etag = client.get(ARTICLE, headers=auth).headers["etag"]
    patched = client.patch(ARTICLE, json={"summary": summary}, headers={**auth, "If-Match": etag})
    assert patched.status_code == 200, patched.text
    return str(patched.headers["etag"])


def test_a_draft_save_keeps_every_cached_answer(
    editing: Editing, site: tuple[Litestar, TestClient[Any]]
) -> None:
    app, client = site
    before = client.get(ARTICLE).json()["summary"]
    for n in range(3):
        edit_summary(client, editing, f"A draft summary, take {n}.")
    # The plugin stores the same navigation again: no value changed, nothing purged.
    part_before = client.get(PART).json()
    _patch(client, editing, PART, summary="A draft of a part.")
    for url in SHOWING + APART:
        assert from_cache(app, client, url), url
    assert client.get(ARTICLE).json()["summary"] == before
    assert client.get(PART).json() == part_before


def test_a_publish_empties_the_cache_and_the_answers_show_it(
    editing: Editing, site: tuple[Litestar, TestClient[Any]]
) -> None:
    app, client = site
    etag_before = client.get(ARTICLE).headers["etag"]
    step(client, editing, SLUG, "publish", edit_summary(client, editing, "Published anew."))
    for url in SHOWING + APART:
        assert not from_cache(app, client, url), url
    published = client.get(ARTICLE)
    assert published.json()["summary"] == "Published anew."
    assert published.headers["etag"] != etag_before
    listed = client.get(f"{API}/articles?limit=20").json()["data"]
    assert {a["slug"]: a["summary"] for a in listed}[SLUG] == "Published anew."
    # Built again once, then cached again.
    for url in SHOWING + APART:
        assert from_cache(app, client, url), url


def test_a_publish_through_one_process_is_read_through_another(editing: Editing) -> None:
    writer_app = create_app(editing.settings(**QUIET))
    reader_app = create_app(editing.settings(**QUIET))
    with TestClient(writer_app) as writer, TestClient(reader_app) as reader:
        for url in (ARTICLE, *APART):
            reader.get(url)
            assert from_cache(reader_app, reader, url), url
        etag_before = reader.get(ARTICLE).headers["etag"]
        step(writer, editing, SLUG, "publish", edit_summary(writer, editing, "From the writer."))
        answer = reader.get(ARTICLE)
        assert answer.json()["summary"] == "From the writer."
        assert answer.headers["etag"] != etag_before


def test_a_part_taken_down_changes_its_neighbours_navigation_at_once(
    editing: Editing, site: tuple[Litestar, TestClient[Any]]
) -> None:
    # Taking the second patient story down changes the navigation of the first and the
    # third (the blog_series plugin's response field), though no change of theirs is recorded.
    app, client = site
    one, two, three = (
        f"{API}/case-stories/{slug}"
        for slug in (
            "back-pain-after-a-car-accident",
            "a-marathon-runner-with-back-pain",
            "back-pain-that-flares-with-stress",
        )
    )
    for url in (one, three):
        client.get(url)
        assert from_cache(app, client, url), url
    assert client.get(one).json()["series"]["next"]["slug"] == "a-marathon-runner-with-back-pain"
    auth = editing.auth("editor")
    etag = client.get(two, headers=auth).headers["etag"]
    taken = client.post(f"{two}/unpublish", headers={**auth, "If-Match": etag})
    assert taken.status_code == 200, taken.text
    assert client.get(one).json()["series"]["next"]["slug"] == "back-pain-that-flares-with-stress"
    assert client.get(three).json()["series"]["previous"]["slug"] == (
        "back-pain-after-a-car-accident"
    )
    assert client.get(two).status_code == 404


def test_concurrent_misses_of_one_url_build_it_once(editing: Editing) -> None:
    app = create_app(editing.settings(**QUIET))

    async def run() -> tuple[list[str], list[str]]:
        async with concurrent_client(app) as client:
            with counting(app) as alone:
                assert (await client.get(f"{API}/articles?limit=7")).status_code == 200
            with counting(app) as together:
                answers = await asyncio.gather(
                    *(client.get(f"{API}/articles?limit=8") for _ in range(10))
                )
            assert {a.status_code for a in answers} == {200}
            assert len({a.content for a in answers}) == 1
            return content_queries(alone), content_queries(together)

    alone, together = asyncio.run(run())
    assert alone
    assert len(together) == len(alone), together


def test_every_worker_of_cms_serve_answers_a_publish_at_once(
    editing: Editing, tmp_path: Path
) -> None:
    """`cms serve --workers 2`: both workers hold the article in their caches; after a publish
    through either, every read through each worker answers the new version and ETag."""
    env = {**os.environ, **QUIET_ENV, **PLUGINS_ENV, "CMS_DATABASE_URL": editing.url,
           "TMPDIR": str(tmp_path)}  # fmt: skip
    log = tmp_path / "server.log"
    with cms_serve(env, log, "--workers", "2") as base:

        def pids_answering(after: int) -> set[int]:
            lines = read_log(log)[after:]
            return {
                line["pid"]
                for line in lines
                if line["logger"] == "cms.access" and line.get("path") == ARTICLE
            }

        old = get(base, ARTICLE)
        assert old.status_code == 200

        def both_hold_it() -> bool:
            assert get(base, ARTICLE).headers["etag"] == old.headers["etag"]
            return len(pids_answering(0)) == 2

        wait_for(both_hold_it, message="one worker answered every read")
        auth = editing.auth("editor")
        etag = httpx.get(f"{base}{ARTICLE}", headers=auth, timeout=HTTP_TIMEOUT).headers["etag"]
        patched = httpx.patch(
            f"{base}{ARTICLE}",
            json={"summary": "Published through one worker."},
            headers={**auth, "If-Match": etag},
            timeout=HTTP_TIMEOUT,
        )
        assert patched.status_code == 200, patched.text
        published = httpx.post(
            f"{base}{ARTICLE}/publish",
            headers={**auth, "If-Match": patched.headers["etag"]},
            timeout=HTTP_TIMEOUT,
        )
        assert published.status_code == 200, published.text
        written = len(read_log(log))

        def both_answer_it() -> bool:
            answer = get(base, ARTICLE)
            assert answer.json()["summary"] == "Published through one worker."
            assert answer.headers["etag"] != old.headers["etag"]
            return len(pids_answering(written)) == 2

        wait_for(both_answer_it, message="one worker answered every read")


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_concurrent_requests_share_the_read_of_the_purge_number(editing: Editing) -> None:
    """On PostgreSQL the purge number is a query: twenty requests at once make at most two
    (the one under way when they arrived may predate them; the next one does not)."""
    app = create_app(editing.settings(**QUIET))

    async def run() -> list[str]:
        async with concurrent_client(app) as client:
            assert (await client.get(ARTICLE)).status_code == 200  # now cached
            with counting(app) as statements:
                answers = await asyncio.gather(*(client.get(ARTICLE) for _ in range(20)))
            assert {a.status_code for a in answers} == {200}
            return statements

    statements = asyncio.run(run())
    assert not content_queries(statements)
    assert 1 <= sum("purge_seq" in s for s in statements) <= 2, statements


# --- What a purge by key alone left stale ---------------------------------------------


def _patch(client: TestClient[Any], editing: Editing, path: str, **fields: Any) -> None:
    auth = editing.auth("admin")
    etag = client.get(path, headers=auth).headers["etag"]
    patched = client.patch(path, json=fields, headers={**auth, "If-Match": etag})
    assert patched.status_code == 200, patched.text


def _step(
    client: TestClient[Any], editing: Editing, path: str, action: str, force: bool = False
) -> None:
    auth = editing.auth("admin")
    etag = client.get(path, headers=auth).headers["etag"]
    query = "?force=true" if force else ""
    done = client.post(f"{path}/{action}{query}", headers={**auth, "If-Match": etag})
    assert done.status_code == 200, done.text


def _lena_leaves_edmonton(client: TestClient[Any], editing: Editing) -> None:
    _patch(client, editing, f"{API}/practitioners/lena-marchetti", clinics=["calgary"])
    _step(client, editing, f"{API}/practitioners/lena-marchetti", "publish")


def _lena_unpublished(client: TestClient[Any], editing: Editing) -> None:
    _step(client, editing, f"{API}/practitioners/lena-marchetti", "unpublish")


def _edmonton_published_again(client: TestClient[Any], editing: Editing) -> None:
    _step(client, editing, f"{API}/clinics/edmonton", "publish")


def _series_deleted(client: TestClient[Any], editing: Editing) -> None:
    path = f"{API}/series/back-pain-and-medicines"
    auth = editing.auth("admin")
    etag = client.get(path, headers=auth).headers["etag"]
    deleted = client.delete(f"{path}?force=true", headers={**auth, "If-Match": etag})
    assert deleted.status_code == 204, deleted.text


def _edmonton_unpublished(client: TestClient[Any], editing: Editing) -> None:
    # Published entries name it: taken down all the same, leaving their links broken.
    _step(client, editing, f"{API}/clinics/edmonton", "unpublish", force=True)


def _part_has_a_draft(client: TestClient[Any], editing: Editing) -> None:
    _patch(client, editing, f"{API}/articles/opioids-and-back-pain", summary="A pending draft.")


# (what is done first, uncached; the answer then cached; the write; that answer again)
STALE_BY_KEY = {
    # A list filtered by another type's relation, matched through that entry's rows.
    "incoming-relation-filter": (None, f"{API}/clinics?practitioner=lena-marchetti",
                                 _lena_leaves_edmonton),
    "filter-target-unpublished": (None, f"{API}/clinics?practitioner=lena-marchetti",
                                  _lena_unpublished),
    # A filter slug that resolves again.
    "filter-target-republished": (_edmonton_unpublished, f"{API}/conditions?clinic=edmonton",
                                  _edmonton_published_again),
    # A relation target that becomes published, in an answer that names only what it shows.
    "relation-target-republished": (_edmonton_unpublished,
                                    f"{API}/conditions/sciatica?fields=title,clinics",
                                    _edmonton_published_again),
    # A plugin's response field dropped by a cascade, on a part with a pending draft.
    "series-deleted": (_part_has_a_draft, f"{API}/articles/opioids-and-back-pain",
                       _series_deleted),
}  # fmt: skip


@pytest.mark.parametrize("scenario", list(STALE_BY_KEY))
def test_a_cached_answer_is_what_a_fresh_app_answers_after_a_publish(
    editing: Editing, scenario: str
) -> None:
    before, url, write = STALE_BY_KEY[scenario]
    app = create_app(editing.settings(**QUIET))
    with TestClient(app) as client:
        if before is not None:
            before(client, editing)
        old = client.get(url)
        assert old.status_code == 200, old.text
        assert from_cache(app, client, url)
        write(client, editing)
        cached = client.get(url)
    with TestClient(create_app(editing.settings(**QUIET))) as fresh:
        expected = fresh.get(url)
    assert cached.json() == expected.json()
    assert cached.json() != old.json()  # the write changed the answer


# --- Old purges go ----------------------------------------------------------------------


def _sql(url: str, *statements: str, **params: Any) -> list[Any]:
    """Run ``statements`` (each with the ``params`` it names) on the database at ``url``;
    the rows of the last."""

    async def run() -> list[Any]:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                rows: list[Any] = []
                for statement in statements:
                    query = text(statement)
                    used = {k: v for k, v in params.items() if f":{k}" in statement}
                    result = await connection.execute(query, used)
                    rows = list(result) if result.returns_rows else []
                return rows
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_a_write_deletes_purges_older_than_the_kept_ones(editing: Editing) -> None:
    # As if KEPT + 2 purges had been recorded, the oldest two still there.
    _sql(
        editing.url,
        "DELETE FROM cache_purges",
        "UPDATE site_state SET purge_seq = :newest",
        "INSERT INTO cache_purges (seq, keys) VALUES (1, '[\"~\"]'), (2, '[\"~\"]')",
        newest=KEPT + 2,
    )
    with TestClient(create_app(editing.settings(**QUIET))) as client:
        edit_summary(client, editing, "One more write.")
    kept = _sql(editing.url, "SELECT seq FROM cache_purges ORDER BY seq")
    assert [row[0] for row in kept] == [KEPT + 3]


def test_a_cache_that_finds_purges_deleted_empties_itself(editing: Editing) -> None:
    reader_app = create_app(editing.settings(**QUIET))
    with (
        TestClient(create_app(editing.settings(**QUIET))) as writer,
        TestClient(reader_app) as reader,
    ):
        reader.get(ARTICLE)
        assert from_cache(reader_app, reader, ARTICLE)
        step(writer, editing, SLUG, "publish", edit_summary(writer, editing, "Published, then"))
        # Its purge is deleted before the reader looks, as an old one would be.
        _sql(editing.url, "DELETE FROM cache_purges")
        assert reader.get(ARTICLE).json()["summary"] == "Published, then"
