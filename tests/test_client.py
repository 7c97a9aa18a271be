"""`cms.client` against the real server: a uvicorn process serving the demo with tokens.

Each test writes only entries it creates, or reads what no other test changes:
the module shares one server (see :func:`tests.live.fixture_live`).
"""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
from typing import Any

import frontmatter
import httpx
import msgspec
import pytest

from cms.client import (
    ApiError,
    Change,
    ChangePage,
    Client,
    Entry,
    FieldProblem,
    Moved,
    NotFound,
    PreconditionFailed,
    Problem,
    Revision,
    TransportError,
)
from cms.http.editorial.writes import EntryRevisionDetail
from cms.http.problems import Problem as ServerProblem
from cms.http.problems import ProblemError as ServerProblemError
from cms.http.syndication.changes import ChangePage as ServerChangePage
from cms.schemas import COMMON_FIELDS, DERIVED_FIELDS
from cms.syndication.changes import ChangeEvent
from tests.conftest import CONTENT
from tests.live import Live, fixture_live  # noqa: F401  (the `live` fixture)
from tests.servers import HTTP_TIMEOUT


def published_articles() -> int:
    """Published articles in the demo's content files: what the public list must hold."""
    files = (CONTENT / "articles").glob("*.md")
    return sum(frontmatter.load(path).get("status") == "published" for path in files)


def counting_requests() -> tuple[httpx.Client, list[httpx.Request]]:
    """An httpx client that records every request it sends."""
    sent: list[httpx.Request] = []
    return httpx.Client(event_hooks={"request": [sent.append]}, timeout=HTTP_TIMEOUT), sent


def new_article(title: str) -> dict[str, Any]:
    return {"title": title, "clinics": ["calgary"], "author": "lena-marchetti",
            "body": f"## About\n\n{title}."}  # fmt: skip


# --- The client's Structs follow the server's schemas ---------------------------------

CLIENT_SIDE = {"collection", "etag", "document"}


@pytest.mark.parametrize(
    ("mine", "theirs"),
    [
        (Problem, ServerProblem),
        (FieldProblem, ServerProblemError),
        (ChangePage, ServerChangePage),
        (Change, ChangeEvent),
        (Revision, EntryRevisionDetail),
    ],
)
def test_every_field_the_client_reads_is_one_the_server_sends(
    mine: type[msgspec.Struct], theirs: type[msgspec.Struct]
) -> None:
    assert set(mine.__struct_fields__) <= set(theirs.__struct_fields__)


def test_every_typed_field_of_an_entry_is_a_documented_common_field() -> None:
    sent = {"id", "type", "slug", "version", "created_at", "updated_at", "canonical_url"}
    working = {"published_version", "scheduled_at"}
    documented = set(COMMON_FIELDS) | set(DERIVED_FIELDS) | sent | working
    assert set(Entry.__struct_fields__) - CLIENT_SIDE <= documented


def test_the_client_imports_nothing_of_the_server() -> None:
    code = "import sys, cms.client; print(sorted(m.split('.')[0] for m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout  # fmt: skip
    for server_side in ("litestar", "sqlalchemy", "sqlmodel", "markdown_it", "pluggy"):
        assert f"'{server_side}'" not in loaded
    assert "'httpx'" in loaded


# --- Reading -----------------------------------------------------------------------


def test_iteration_follows_every_page(live: Live) -> None:
    http, sent = counting_requests()
    with http, live.client(http=http) as cms:
        slugs = [entry.slug for entry in cms.iter_entries("articles", limit=2)]
        total = published_articles()
        assert len(slugs) == len(set(slugs)) == total
        assert len(sent) == math.ceil(total / 2)  # one request a page, the last has no cursor
        assert [s for s in sent[1:] if "cursor" not in s.url.params] == []
        assert slugs == [e.slug for e in cms.list_page("articles", limit=100).data]

        # Filters and sorts travel with every page.
        calgary = list(cms.iter_entries("articles", clinic="calgary", sort="title", limit=3))
        one_page = cms.list_page("articles", {"clinic": "calgary", "sort": "title"}, limit=100)
        assert [e.slug for e in calgary] == [e.slug for e in one_page.data]
        assert calgary == one_page.data
        assert [e.title for e in calgary] == sorted(e.title for e in calgary)
        assert all("calgary" in e.clinics for e in calgary)


def test_get_reads_an_entry_with_its_etag_and_every_field(live: Live) -> None:
    with live.client() as public, live.client("viewer") as viewer:
        clinic = public.get("clinics", "calgary")
        assert (clinic.type, clinic.slug, clinic.collection) == ("clinic", "calgary", "clinics")
        assert clinic.status == "published"
        assert clinic.etag.startswith('"')
        assert clinic["city"] == clinic.document["city"] == "Calgary"
        assert clinic.published_version is None  # the public document has no editor fields
        working = viewer.get("clinics", "calgary")
        assert working.published_version == working.version
        assert working.etag != clinic.etag  # the working copy is another document
        with pytest.raises(NotFound) as missing:
            public.get("articles", "no-such-article")
        assert missing.value.status == 404
        assert missing.value.title == "Not found"


def test_create_patch_and_publish_send_the_etag_they_read(live: Live) -> None:
    http, sent = counting_requests()
    with http, live.client("editor", http=http) as cms:
        draft = cms.create("articles", new_article("Heat or ice for a sore back"))
        assert (draft.status, draft.version, draft.collection) == ("draft", 1, "articles")
        assert draft.slug == "heat-or-ice-for-a-sore-back"
        assert draft == cms.get("articles", draft.slug)

        changed = cms.patch(draft, {"summary": "Which one, and when.", "tags": ["self-care"]})
        assert sent[-1].headers["if-match"] == draft.etag
        assert sent[-1].headers["content-type"] == "application/merge-patch+json"
        assert (changed.version, changed.summary, changed.tags) == (2, "Which one, and when.",
                                                                    ["self-care"])  # fmt: skip
        assert changed.etag not in ("", draft.etag)
        assert cms.get("articles", draft.slug).etag == changed.etag

        published = cms.publish(changed)
        assert sent[-1].headers["if-match"] == changed.etag
        assert published.status == "published"
        assert published.published_version == published.version
        with live.client() as public:
            assert public.get("articles", draft.slug).title == "Heat or ice for a sore back"

        # A rename: the old slug leads to the new one, or says where it moved.
        renamed = cms.patch(published, {"slug": "heat-or-ice"})
        assert renamed.slug == "heat-or-ice"
        assert cms.get("articles", draft.slug).slug == "heat-or-ice"
        with pytest.raises(Moved) as moved:
            cms.get("articles", draft.slug, follow_redirects=False)
        assert moved.value.location.endswith("/api/v1/articles/heat-or-ice")

        cms.delete(cms.unpublish(renamed))
        assert sent[-1].method == "DELETE"
        with pytest.raises(NotFound):
            cms.get("articles", "heat-or-ice")


def test_a_change_made_meanwhile_is_a_412_carrying_the_current_version(live: Live) -> None:
    with live.client("editor") as mine, live.client("calgary-editor") as theirs:
        created = mine.create("articles", new_article("Sleeping with back pain"))
        read_by_me = mine.get("articles", created.slug)
        read_by_them = theirs.get("articles", created.slug)
        assert read_by_me.etag == read_by_them.etag

        now = theirs.patch(read_by_them, {"title": "Sleeping well with back pain"})
        for change in (
            lambda: mine.patch(read_by_me, {"summary": "Pillows, positions, mattresses."}),
            lambda: mine.publish(read_by_me),
            lambda: mine.submit(read_by_me),
            lambda: mine.delete(read_by_me),
        ):
            with pytest.raises(PreconditionFailed) as stale:
                change()
            assert stale.value.status == 412
            assert stale.value.current_etag == now.etag
            assert stale.value.current_version == now.version == 2
            assert stale.value.current.title == "Sleeping well with back pain"
            assert stale.value.current.collection == "articles"
            assert [e.name for e in stale.value.errors] == ["If-Match"]

        # Nothing of the stale changes happened; the current version takes the change.
        assert mine.get("articles", created.slug) == now
        current = stale.value.current
        merged = mine.patch(current, {"summary": "Pillows, positions, mattresses."})
        assert (merged.title, merged.summary, merged.version) == (
            "Sleeping well with back pain", "Pillows, positions, mattresses.", 3,
        )  # fmt: skip


def test_error_answers_are_problems_naming_the_fields(live: Live) -> None:
    with live.client("author") as cms:
        with pytest.raises(ApiError) as invalid:
            cms.create("articles", {"title": "", "clinics": ["calgary"],
                                    "hero_image_url": "ftp://images"})  # fmt: skip
        problem = invalid.value
        assert (problem.status, problem.title) == (422, "Invalid entry")
        assert problem.problem.type == "urn:clinic-cms:problem:invalid-entry"
        assert {e.name for e in problem.errors} == {"title", "hero_image_url"}
        assert all(e.location == "body" for e in problem.errors)
        assert "title" in str(problem)

        with pytest.raises(ApiError) as bad_parameter:
            cms.list_page("articles", limit=1000)
        assert bad_parameter.value.status == 400
        assert [(e.name, e.location) for e in bad_parameter.value.errors] == [("limit", "query")]

        draft = cms.create("articles", new_article("Stretches for the lower back"))
        with pytest.raises(ApiError) as forbidden:
            cms.publish(draft)  # authors submit; editors publish
        assert forbidden.value.status == 403
        assert forbidden.value.detail

    with live.client() as anonymous, pytest.raises(ApiError) as unauthorized:
        anonymous.create("articles", new_article("Anonymous"))
    assert unauthorized.value.status == 401

    with Client("http://127.0.0.1:9", timeout=5) as nowhere, pytest.raises(TransportError):
        nowhere.get("articles", "x")


# --- The change feed ---------------------------------------------------------------


def test_iter_changes_follows_next_since_to_the_end(live: Live) -> None:
    with live.client() as cms:
        whole = cms.changes_page(0, clinic="calgary", limit=1000)
        assert whole.next_since == whole.last_seq
        paged = list(cms.iter_changes(0, clinic="calgary", limit=4))
        assert paged == whole.data
        assert len(paged) > 8  # several pages
        assert [c.seq for c in paged] == sorted({c.seq for c in paged})
        assert list(cms.iter_changes(whole.last_seq, clinic="calgary")) == []


# --- The async client ------------------------------------------------------------------


def test_the_async_client_does_the_same(live: Live) -> None:
    async def run() -> None:
        async with live.async_client() as public:
            slugs = [e.slug async for e in public.iter_entries("articles", limit=2)]
            assert len(slugs) == len(set(slugs)) == published_articles()
            changes = [c async for c in public.iter_changes(0, clinic="calgary", limit=4)]
            assert changes == (await public.changes_page(0, clinic="calgary", limit=1000)).data

        async with live.async_client("editor") as mine, live.async_client("admin") as theirs:
            draft = await mine.create("articles", new_article("Walking after a flare-up"))
            assert draft == await mine.get("articles", draft.slug)
            seen_by_them = await theirs.get("articles", draft.slug)
            changed = await mine.patch(draft, {"summary": "Start small."})
            assert changed.version == 2
            with pytest.raises(PreconditionFailed) as stale:
                await theirs.patch(seen_by_them, {"summary": "Theirs."})
            assert stale.value.current == changed
            assert stale.value.current_etag == changed.etag
            published = await theirs.publish(stale.value.current)
            assert published.status == "published"
            with pytest.raises(ApiError) as invalid:
                await mine.patch(published, {"clinics": ["nowhere"]})
            assert invalid.value.status == 422
            assert [e.name for e in invalid.value.errors] == ["clinics"]
            archived = await mine.archive(published)
            assert archived.status == "archived"
            with pytest.raises(NotFound):
                await mine.anonymous().get("articles", draft.slug)

    asyncio.run(run())
