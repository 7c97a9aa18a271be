"""`cms sync pull`: one clinic of an instance mirrored on another, over real HTTP.

The origin is the demo (with tokens) served by uvicorn on a loopback port;
the mirror is a second, empty database, pulled into through the `cms`
command line and read over HTTP with its own app.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from litestar.testing import TestClient

from cms.app import create_app
from cms.cli import main
from cms.settings import Settings
from tests.conftest import Databases, Editing, edit_entry, loopback_socket, run_cms, serving
from tests.servers import HTTP_TIMEOUT

PLURALS = ("articles", "case-stories", "clinics", "conditions", "practitioners", "series")
CALGARY_ONLY_NOT = "what-happens-in-an-acupuncture-session"  # the one Edmonton-only article


@pytest.fixture(name="origin")
def fixture_origin(editing: Editing) -> Iterator[str]:
    """The demo served over HTTP: the instance the mirror pulls from."""
    with serving(editing.url) as base:
        yield base


@pytest.fixture(name="mirror_url")
def fixture_mirror_url(databases: Databases) -> str:
    """The mirror's database: migrated, empty."""
    return databases.fresh()


@contextmanager
def reading(url: str) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(Settings(database_url=url, scheduler_interval=0))) as client:
        yield client


def pull(url: str, origin: str, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(
        main,
        ["sync", "pull", "--from", origin, "--clinic", "calgary", *args],
        env={"CMS_DATABASE_URL": url, **(env or {})},
    )


def calgary_slugs(client: httpx.Client | TestClient[Any]) -> dict[str, set[str]]:
    """Every public entry shown on Calgary, by plural."""
    out = {}
    for plural in PLURALS:
        response = client.get(f"/api/v1/{plural}?clinic=calgary&limit=100")
        assert response.status_code == 200, response.text
        out[plural] = {d["slug"] for d in response.json()["data"]}
    return out


def assert_same_documents(
    origin: httpx.Client, mirror: TestClient[Any], slugs: dict[str, set[str]]
) -> None:
    """The mirror serves every one of ``slugs`` as the origin does: same id, canonical URL,
    body_html, titles, relations, everything but its own version number."""
    for plural, names in slugs.items():
        for slug in names:
            theirs = origin.get(f"/api/v1/{plural}/{slug}").json()
            ours = mirror.get(f"/api/v1/{plural}/{slug}")
            assert ours.status_code == 200, (plural, slug)
            mine = ours.json()
            theirs.pop("version"), mine.pop("version")
            assert mine == theirs, (plural, slug)


def working(client: httpx.Client, path: str, auth: dict[str, str]) -> tuple[dict[str, Any], str]:
    response = client.get(path, headers=auth)
    assert response.status_code == 200, response.text
    return response.json(), response.headers["etag"]


def change(
    client: httpx.Client,
    method: str,
    entry: str,
    auth: dict[str, str],
    suffix: str = "",
    **kwargs: Any,
) -> None:
    """A write to ``entry`` (``suffix``: a step) through the origin's editors' API."""
    _doc, etag = working(client, entry, auth)
    response = client.request(method, entry + suffix, headers={**auth, "If-Match": etag}, **kwargs)
    assert response.status_code in (200, 204), response.text


def test_a_pull_mirrors_the_clinic_and_a_second_one_changes_nothing(
    editing: Editing, origin: str, mirror_url: str
) -> None:
    result = pull(mirror_url, origin)
    assert result.exit_code == 0, result.output
    assert "caught up" in result.output
    with httpx.Client(base_url=origin, timeout=HTTP_TIMEOUT) as theirs, reading(mirror_url) as ours:
        wanted = calgary_slugs(theirs)
        assert calgary_slugs(ours) == wanted
        assert_same_documents(theirs, ours, wanted)
        # Conditions (they name both clinics here) and the entries Calgary's
        # name (the Edmonton clinic, Edmonton's practitioners) are mirrored;
        # an Edmonton-only article is not.
        assert len(wanted["conditions"]) == 6
        named = {"clinics": {"edmonton"}, "practitioners": {"maren-holt", "daniel-okafor"}}
        assert_same_documents(theirs, ours, named)
        assert ours.get(f"/api/v1/articles/{CALGARY_ONLY_NOT}").status_code == 404
        # Links to it lead where the origin's do, though it is not here.
        linking = "/api/v1/articles/how-acupuncture-may-ease-back-pain"
        assert CALGARY_ONLY_NOT in ours.get(linking).json()["body_html"]
        # Search and the local change feed follow the mirror.
        hits = ours.get("/api/v1/search?q=sciatica").json()["data"]
        assert hits
        feed = ours.get("/api/v1/changes?clinic=calgary&limit=1000").json()
        assert {e["action"] for e in feed["data"]} <= {"sync", "refresh"}
        versions = {
            (p, d["slug"]): d["version"]
            for p in PLURALS
            for d in ours.get(f"/api/v1/{p}?limit=100").json()["data"]
        }

        again = pull(mirror_url, origin)
        assert again.exit_code == 0, again.output
        assert again.stdout.startswith("0 change(s)")
        assert ours.get("/api/v1/changes?limit=1").json()["last_seq"] == feed["last_seq"]
        assert versions == {
            (p, d["slug"]): d["version"]
            for p in PLURALS
            for d in ours.get(f"/api/v1/{p}?limit=100").json()["data"]
        }


def test_changes_at_the_origin_follow_on_the_next_pull(
    editing: Editing, origin: str, mirror_url: str
) -> None:
    assert pull(mirror_url, origin).exit_code == 0
    editor = editing.auth("editor")
    articles = "/api/v1/articles"
    with httpx.Client(base_url=origin, timeout=HTTP_TIMEOUT) as theirs:
        # An edit, published.
        edited = f"{articles}/causes-of-low-back-pain-and-sciatica"
        change(theirs, "PATCH", edited, editor,
               json={"title": "What causes back pain", "body": "## New\n\nRewritten."})  # fmt: skip
        change(theirs, "POST", edited, editor, "/publish")
        # Unpublished: a part of a series here, so the mirror is taken down.
        change(theirs, "POST", f"{articles}/opioids-and-back-pain", editor, "/unpublish?force=true")
        # Moved off Calgary.
        moved = f"{articles}/how-acupuncture-may-ease-back-pain"
        change(theirs, "PATCH", moved, editor, json={"clinics": ["edmonton"]})
        change(theirs, "POST", moved, editor, "/publish")
        # Off Calgary, but Calgary's articles still name her: kept, and kept fresh.
        lena = "/api/v1/practitioners/lena-marchetti"
        change(theirs, "PATCH", lena, editor,
               json={"clinics": ["edmonton"], "origin_clinic": "edmonton"})  # fmt: skip
        change(theirs, "POST", lena, editor, "/publish")
        # Deleted.
        change(theirs, "DELETE", f"{articles}/introducing-our-patient-story-series", editor,
               "?force=true")  # fmt: skip

        result = pull(mirror_url, origin)
        assert result.exit_code == 0, result.output
        assert "caught up" in result.output
        assert "practitioner/lena-marchetti: kept" in result.output
        with reading(mirror_url) as ours:
            assert_same_documents(theirs, ours, {"practitioners": {"lena-marchetti"}})
            wanted = calgary_slugs(theirs)
            assert calgary_slugs(ours) == wanted
            assert_same_documents(theirs, ours, wanted)
            mine = ours.get(edited).json()
            assert mine["title"] == "What causes back pain"
            assert "Rewritten." in mine["body_html"]
            for gone in (
                "opioids-and-back-pain",
                "how-acupuncture-may-ease-back-pain",
                "introducing-our-patient-story-series",
            ):
                assert ours.get(f"{articles}/{gone}").status_code == 404, gone


def test_a_pull_with_a_token_mirrors_published_versions_never_drafts(
    editing: Editing, origin: str, mirror_url: str
) -> None:
    editor = editing.auth("editor")
    article = "/api/v1/articles/causes-of-low-back-pain-and-sciatica"
    with httpx.Client(base_url=origin, timeout=HTTP_TIMEOUT) as theirs:
        published = theirs.get(article).json()
        # A draft waits for review beside the published version; then a
        # change to another entry makes the article's event come round again.
        change(theirs, "PATCH", article, editor, json={"title": "Unreviewed draft title"})
        lena = "/api/v1/practitioners/lena-marchetti"
        change(theirs, "PATCH", lena, editor, json={"title": "Lena Marchetti, R.Ac."})
        change(theirs, "POST", lena, editor, "/publish")
        result = pull(mirror_url, origin, "--token", editing.secrets["editor"])
        assert result.exit_code == 0, result.output
        with reading(mirror_url) as ours:
            mine = ours.get(article).json()
            assert mine["title"] == published["title"] != "Unreviewed draft title"
            assert mine["body_html"] == published["body_html"]
            assert ours.get(lena).json()["title"] == "Lena Marchetti, R.Ac."


def test_a_pull_stopped_after_some_changes_resumes_where_it_stopped(
    databases: Databases, origin: str, mirror_url: str
) -> None:
    first = pull(mirror_url, origin, "--max-events", "4")
    assert first.exit_code == 0, first.output
    assert "4 change(s)" in first.output
    assert "stopped early" in first.output
    second = pull(mirror_url, origin, "--max-events", "3", "--batch", "2")
    assert second.exit_code == 0, second.output
    assert second.stdout.startswith("3 change(s)")
    rest = pull(mirror_url, origin, "--batch", "5")
    assert rest.exit_code == 0, rest.output
    assert "caught up" in rest.output

    whole_url = databases.fresh()
    whole = pull(whole_url, origin)
    assert whole.exit_code == 0, whole.output
    assert whole.stdout.split(";")[-1] == rest.stdout.split(";")[-1]  # at the same change
    with reading(mirror_url) as resumed, reading(whole_url) as once:
        for plural in PLURALS:
            listed = resumed.get(f"/api/v1/{plural}?limit=100").json()["data"]
            assert listed == once.get(f"/api/v1/{plural}?limit=100").json()["data"]
            for item in listed:
                path = f"/api/v1/{plural}/{item['slug']}"
                assert resumed.get(path).json() == once.get(path).json()


def test_mirrored_entries_are_read_only_here(
    origin: str, mirror_url: str, content_copy: Path
) -> None:
    assert pull(mirror_url, origin).exit_code == 0
    minted = run_cms(mirror_url, "tokens", "create", "--name", "t", "--role", "admin")
    auth = {"Authorization": f"Bearer {minted.stdout.strip().splitlines()[-1]}"}
    path = "/api/v1/articles/causes-of-low-back-pain-and-sciatica"
    with reading(mirror_url) as ours:
        doc = ours.get(path, headers=auth)
        assert doc.json()["mirror_source"] == origin
        assert "mirror_source" not in ours.get(path).json()
        etag, version = doc.headers["etag"], doc.json()["version"]
        attempts = [
            ("PATCH", path, {"json": {"title": "Mine now"}}),
            ("DELETE", path, {}),
            *(("POST", f"{path}/{step}", {}) for step in
              ("publish", "unpublish", "archive", "submit", "revisions/1/restore")),
        ]  # fmt: skip
        for method, url, kwargs in attempts:
            response = ours.request(method, url, headers={**auth, "If-Match": etag}, **kwargs)
            assert response.status_code == 409, (url, response.text)
            problem = response.json()
            assert response.headers["content-type"].startswith("application/problem+json")
            assert problem["type"].endswith("mirrored-entry")
            assert origin in problem["detail"]
        after = ours.get(path, headers=auth)
        assert (after.headers["etag"], after.json()["version"]) == (etag, version)

    # Content files may not change a mirror either; nothing is loaded.
    changed = content_copy / "articles" / "causes-of-low-back-pain-and-sciatica.md"
    edit_entry(changed, title="Mine now")
    result = run_cms(mirror_url, "content", "load", str(content_copy))
    assert result.exit_code == 1
    assert f"{changed}: this article is a read-only mirror of {origin}" in result.output
    with reading(mirror_url) as ours:
        assert ours.get(path).json()["title"] != "Mine now"
        assert ours.get(f"/api/v1/articles/{CALGARY_ONLY_NOT}").status_code == 404


class _NotACms(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html>a web page</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_bad_origin_is_an_error_and_moves_nothing(origin: str, mirror_url: str) -> None:
    def fails(*args: str, env: dict[str, str] | None = None, url: str = origin) -> str:
        result = pull(mirror_url, url, *args, env=env)
        assert result.exit_code == 1, result.output
        return result.output

    assert "is not an http(s) URL" in fails(url="ftp://example.org")
    closed = loopback_socket()
    port = closed.getsockname()[1]
    closed.close()
    assert "cannot reach the origin" in fails(url=f"http://127.0.0.1:{port}")
    assert "401" in fails("--token", "not-a-token")
    bad_clinic = CliRunner().invoke(
        main, ["sync", "pull", "--from", origin, "--clinic", "nowhere"],
        env={"CMS_DATABASE_URL": mirror_url},
    )  # fmt: skip
    assert bad_clinic.exit_code == 1
    assert "publishes no clinic 'nowhere'" in bad_clinic.output

    page = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotACms)
    threading.Thread(target=page.serve_forever, daemon=True).start()
    try:
        assert "did not answer JSON" in fails(url=f"http://127.0.0.1:{page.server_port}")
    finally:
        page.shutdown()
        page.server_close()

    # A type whose plugin is off here stops the pull at its first change, after
    # applying those before it; with the plugin on, the next pull goes on from there.
    output = fails(env={"CMS_PLUGINS": "blog_series"})
    assert "'case-story' is not enabled here" in output
    stopped_at = int(output.split("the mirror stays at change ")[1].split()[0].rstrip("."))
    assert stopped_at > 0
    resumed = pull(mirror_url, origin)
    assert resumed.exit_code == 0, resumed.output
    applied = [int(line.split()[0]) for line in resumed.stderr.splitlines()]
    assert applied
    assert min(applied) > stopped_at
    with reading(mirror_url) as ours:
        assert ours.get("/api/v1/case-stories/a-marathon-runner-with-back-pain").status_code == 200
