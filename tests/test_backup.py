"""Backup and restore: `cms backup` and `cms restore`, through the real command line.

The demo content plus some editors' activity (drafts, a publish, an unpublish,
a rename, a token, a webhook with its delivery log, revisions, a preview link)
is backed up, restored into a new database with no tables, and both databases
are served side by side. A crawl that starts at the API's index, follows
every list, page, link and feed, and fills in every GET route of the app from
what it found, asks both the same thing, anonymously and with an admin
token: every answer must be the same status, bytes and ETag. The restored
change feed then goes on from where the original's stopped.
"""

from __future__ import annotations

import asyncio
import gzip
import html
import json
import re
import socket
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from click.testing import Result
from litestar.testing import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from cms.app import create_app
from cms.schemas import STATUSES
from cms.settings import Settings
from cms.storage.backup import read_backup
from cms.storage.db import create_engine
from cms.storage.migrate import upgrade
from cms.testing import QUIET, Databases, require_backend
from tests.conftest import (
    PUBLIC_BASE,
    Editing,
    concurrent_client,
    create_article,
    read_entry_as,
    run_cms,
    step,
    wait_for,
)
from tests.test_plugin_migrations import cms as shelf_cms
from tests.test_plugin_migrations import fixture_shelf  # noqa: F401  (the `shelf` fixture)

API = "/api/v1"
IDENTITY = {"Accept-Encoding": "identity"}
"""Asked of both instances: the exact bytes, uncompressed (the gzip'd ones derive from them)."""
COMPARED_HEADERS = ("etag", "content-type", "cache-control", "surrogate-key", "vary", "location")
UNCRAWLED = ("/schema/assets/", "/schema/{path", "/schema/oauth2-redirect.html", "/metrics")
"""Routes of the documentation pages that no link leads to: static files, whatever the data;
and the metrics, which count what this process answered, not what its database holds."""


def free_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cms_ok(url: str, *args: str) -> Result:
    """Run the `cms` command line on database ``url``; it must succeed."""
    result = run_cms(url, *args)
    assert result.exit_code == 0, result.output
    return result


# --- The original instance ----------------------------------------------------------


def make_activity(editing: Editing) -> list[str]:
    """What editors do over the API, beside the demo content; the preview links' paths.

    A webhook points at a port nothing listens on, with a short retry
    schedule, so that each delivery is tried, logged and given up on quickly
    and its log stands still before the backup.
    """
    settings = editing.settings(
        webhook_poll_interval=0.05, webhook_retry_schedule=(0.05, 0.05), scheduler_interval=0
    )
    admin = editing.auth("admin")
    with TestClient(create_app(settings)) as client:
        hook = client.post(
            f"{API}/webhooks", json={"url": f"http://127.0.0.1:{free_port()}/hooks"}, headers=admin
        )
        assert hook.status_code == 201, hook.text
        # A draft, changed, published, then renamed (a slug redirect).
        draft, etag = create_article(client, editing, "Backups of back pain")
        patched = client.patch(
            f"{API}/articles/{draft['slug']}",
            json={"summary": "A second version.", "tags": ["backups"]},
            headers={**admin, "If-Match": etag},
        )
        assert patched.status_code == 200, patched.text
        _doc, etag = step(client, editing, draft["slug"], "publish", patched.headers["etag"])
        renamed = client.patch(
            f"{API}/articles/{draft['slug']}",
            json={"slug": "restoring-back-pain"},
            headers={**admin, "If-Match": etag},
        )
        assert renamed.status_code == 200, renamed.text
        # Published, then taken down.
        gone, etag = create_article(client, editing, "Short lived advice")
        _doc, etag = step(client, editing, gone["slug"], "publish", etag)
        step(client, editing, gone["slug"], "unpublish", etag)
        # A published entry with a pending draft, and a preview link to the draft.
        url = f"{API}/articles/opioids-and-back-pain"
        _doc, etag = read_entry_as(client, editing, url)
        pending = client.patch(
            url, json={"title": "Opioids: a draft"}, headers={**admin, "If-Match": etag}
        )
        assert pending.status_code == 200, pending.text
        preview = client.post(f"{url}/preview", headers=admin)
        assert preview.status_code == 200, preview.text
        token = client.post(
            f"{API}/tokens", json={"name": "Backup desk", "role": "viewer"}, headers=admin
        )
        assert token.status_code == 201, token.text
        deliveries = f"{API}/webhooks/{hook.json()['id']}/deliveries?limit=100"

        def all_given_up() -> bool:
            log = client.get(deliveries, headers=admin).json()["data"]
            return bool(log) and all(d["status"] == "failed" for d in log)

        wait_for(all_given_up, message="every delivery tried and given up on")
    return [str(preview.json()["url"]).removeprefix(PUBLIC_BASE)]


# --- The crawl -----------------------------------------------------------------------


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    regex = "".join(
        (".+" if part.endswith(":path}") else "[^/]+") if part.startswith("{") else re.escape(part)
        for part in parts
    )
    return re.compile(f"^{regex}$")


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return f"{parts.path}?{urlencode(query)}"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@dataclass
class Crawl:
    """Asks two instances every GET it can find, as one caller, and compares the answers."""

    original: TestClient[Any]
    restored: TestClient[Any]
    headers: dict[str, str]
    seeds: list[str]
    ranked: str | None = None
    """A path whose answers may differ (the search route, between two kinds of database)."""
    templates: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Items of every page fetched, by the page's path: what path parameters are filled from."""
    type_lists: dict[str, str] = field(default_factory=dict)
    differences: list[str] = field(default_factory=list)

    def run(self) -> None:
        """Crawl until neither the answers nor the route templates lead anywhere new."""
        self.templates = sorted(
            route.path
            for route in self.original.app.routes
            if "GET" in getattr(route, "methods", ()) and not route.path.startswith(UNCRAWLED)
        )
        queue = deque(["/", API, *self.seeds])
        while queue:
            while queue:
                url = queue.popleft()
                if url not in self.seen:
                    self.seen.add(url)
                    queue.extend(u for u in self._visit(url) if u not in self.seen)
            queue.extend(u for u in self._expand() if u not in self.seen)

    def uncovered(self) -> list[str]:
        """GET routes of the app that the crawl never asked."""
        paths = {urlsplit(url).path for url in self.seen}
        return [t for t in self.templates if not any(_template_pattern(t).match(p) for p in paths)]

    def _visit(self, url: str) -> list[str]:
        headers = {**IDENTITY, **self.headers}
        one, two = (
            client.get(url, headers=headers, follow_redirects=False)
            for client in (self.original, self.restored)
        )
        answers = [
            (r.status_code, r.content, [r.headers.get(h) for h in COMPARED_HEADERS])
            for r in (one, two)
        ]
        if answers[0] != answers[1] and urlsplit(url).path != self.ranked:
            self.differences.append(f"{url}: {answers[0]!r:.300} != {answers[1]!r:.300}")
        return self._links(url, one)

    def _links(self, url: str, response: httpx.Response) -> list[str]:
        path = urlsplit(url).path
        # JSON (JSON Feed too): URLs are read from its strings, as a client reads them.
        json_type = response.headers.get("content-type", "").startswith(
            ("application/json", "application/feed+json")
        )
        if not json_type or not response.content:
            return [
                html.unescape(m).removeprefix(PUBLIC_BASE)
                for m in re.findall(rf"{re.escape(PUBLIC_BASE)}/[^\s\"'<>]*", response.text)
            ]
        body = response.json()
        found = [s.removeprefix(PUBLIC_BASE) for s in _strings(body) if s.startswith(PUBLIC_BASE)]
        if isinstance(body, dict) and isinstance(body.get("types"), list):  # the index
            self.type_lists.update({t["type"]: t["list"] for t in body["types"]})
        found += [s for s in _strings(body) if s.startswith(f"{API}/") and "{" not in s]
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            return found
        items = [item for item in body["data"] if isinstance(item, dict)]
        self.items.setdefault(path, []).extend(items)
        for item in items:
            # An entry anywhere (a list, a search hit, the change feed) is read in its own list.
            if item.get("type") in self.type_lists and isinstance(item.get("slug"), str):
                self.items.setdefault(self.type_lists[item["type"]], []).append(item)
            for tag in item.get("tags") or ():
                found.append(_with_query(f"{API}/search", q=tag, limit="5"))
        if body.get("next_cursor"):
            found.append(_with_query(url, cursor=body["next_cursor"]))
        if "next_since" in body and body["next_since"] < body["last_seq"]:
            found.append(_with_query(url, since=str(body["next_since"])))
        if "?" not in url:
            found.append(_with_query(url, limit="3"))  # several pages of every list
            if "next_since" in body:
                found += [_with_query(url, state=state) for state in ("working", "all")]
            if path in self.type_lists.values() and self.headers:
                found += [_with_query(url, status=status) for status in STATUSES]
        return found

    def _expand(self) -> list[str]:
        """Every route template, with its parameters filled from the pages fetched so far."""
        urls: list[str] = []
        for template in self.templates:
            prefixes = [""]
            for part in re.split(r"(\{[^}]+\})", template):
                if not part.startswith("{"):
                    prefixes = [p + part for p in prefixes]
                    continue
                name = part[1:-1].split(":")[0]
                prefixes = [
                    f"{p}{value}"
                    for p in prefixes
                    for value in dict.fromkeys(
                        str(item.get(name, item.get("slug", item.get("id"))))
                        for item in self.items.get(p.rstrip("/"), ())
                    )
                ]
            urls += prefixes
        return urls


def compare_instances(
    original_url: str,
    restored_url: str,
    admin: str,
    seeds: list[str],
    ranked: str | None = None,
) -> int:
    """Crawl both instances as admin and anonymously; the fewest URLs either crawl asked.

    Args:
        ranked: a path whose answers are not compared (see :attr:`Crawl.ranked`).
    """
    asked: list[int] = []
    with (
        TestClient(create_app(Settings(database_url=original_url, **QUIET))) as original,
        TestClient(create_app(Settings(database_url=restored_url, **QUIET))) as restored,
    ):
        # The admin's crawl first: anonymous readers are then asked every URL it
        # found too (a draft, a revision, a webhook's log), besides their own.
        for headers in ({"Authorization": f"Bearer {admin}"}, {}):
            crawl = Crawl(original, restored, headers, seeds, ranked)
            crawl.run()
            seeds = sorted(crawl.seen)
            assert crawl.differences == [], "\n".join(crawl.differences[:10])
            assert crawl.uncovered() == [], f"routes the crawl never reached ({headers or 'anon'})"
            asked.append(len(crawl.seen))
    return min(asked)


def change_feed(client: TestClient[Any], admin: dict[str, str]) -> list[dict[str, Any]]:
    """Every change of the feed, working copies and published versions alike."""
    events: list[dict[str, Any]] = []
    since = 0
    while True:
        page = client.get(f"{API}/changes?state=all&limit=1000&since={since}", headers=admin)
        assert page.status_code == 200, page.text
        body = page.json()
        events += body["data"]
        if body["next_since"] == body["last_seq"]:
            return events
        since = body["next_since"]


# --- Restoring: every answer the same ----------------------------------------------------


@pytest.fixture(name="activity")
def fixture_activity(editing: Editing) -> list[str]:
    """The demo plus the editors' activity, in ``editing``; the preview links to seed a crawl."""
    return make_activity(editing)


def test_a_restored_instance_answers_every_get_as_the_original(
    editing: Editing, activity: list[str], databases: Databases, tmp_path: Path
) -> None:
    backup = tmp_path / "site.cms-backup.gz"
    assert "written to" in cms_ok(editing.url, "backup", str(backup)).output
    restored_url = databases.blank()
    assert "restored" in cms_ok(restored_url, "restore", str(backup)).output
    asked = compare_instances(editing.url, restored_url, editing.secrets["admin"], activity)
    assert asked > 300  # the demo and the activity make this many pages at least

    # The restored instance goes on where the original stopped: the next
    # number, no gap, none used twice. Publishing writes search rows too,
    # whose ids come from a sequence on PostgreSQL.
    admin = editing.auth("admin")
    with (
        TestClient(create_app(editing.settings(**QUIET))) as original,
        TestClient(create_app(Settings(database_url=restored_url, **QUIET))) as restored,
    ):
        before = change_feed(original, admin)
        # The crawl asked the old slug of the renamed article too (the change
        # feed names it): its redirect came back (for editors until republished).
        old_slug = f"{API}/articles/backups-of-back-pain"
        moved = restored.get(old_slug, headers=admin, follow_redirects=False)
        assert moved.status_code == 301
        assert moved.headers["location"].endswith(f"{API}/articles/restoring-back-pain")
        restored_editing = Editing(url=restored_url, secrets=editing.secrets)
        doc, etag = create_article(restored, restored_editing, "Written after a restore")
        step(restored, restored_editing, doc["slug"], "publish", etag)
        after = change_feed(restored, admin)
        found = restored.get(f"{API}/search?q=restore").json()["data"]
    assert after[: len(before)] == before
    seqs = [event["seq"] for event in after]
    assert seqs == list(range(1, len(after) + 1))
    assert len(after) > len(before)
    assert after[len(before)]["seq"] == before[-1]["seq"] + 1
    assert doc["slug"] in [hit["slug"] for hit in found]


def test_every_table_of_the_metadata_is_in_a_backup(editing: Editing, tmp_path: Path) -> None:
    backup = tmp_path / "site.cms-backup.gz"
    cms_ok(editing.url, "backup", str(backup))
    header, specs = read_backup(backup)
    metadata = SQLModel.metadata.tables
    assert set(header.tables) == set(metadata)
    for spec in specs:
        assert [name for name, _kind in spec.columns] == list(metadata[spec.name].columns.keys())
    # Parents before children: a restore inserts in this order with foreign keys on.
    for position, name in enumerate(header.tables):
        parents = {key.column.table.name for key in metadata[name].foreign_keys} - {name}
        assert parents <= set(header.tables[:position]), name


def _sql(url: str, statement: str) -> list[tuple[Any, ...]]:
    async def run() -> list[tuple[Any, ...]]:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                result = await connection.execute(text(statement))
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_a_plugins_own_tables_come_back(shelf: Path, databases: Databases, tmp_path: Path) -> None:
    """A plugin's table, kept off the metadata by design, is backed up and restored too."""
    original, target = databases.blank(), databases.blank()
    assert shelf_cms(original, "db", "upgrade").exit_code == 0
    _sql(original, "INSERT INTO shelf_items (id, entry_id, position) VALUES (1, NULL, 7)")
    _sql(original, "INSERT INTO shelf_items (id, entry_id, position) VALUES (2, NULL, 9)")
    backup = tmp_path / "shelf.cms-backup.gz"
    assert shelf_cms(original, "backup", str(backup)).exit_code == 0
    header, _specs = read_backup(backup)
    assert "shelf_items" in header.tables
    assert header.revisions == ("shelf_0001",)
    # Without the plugin its revision is unknown here: refused, naming it, and nothing written.
    refused = shelf_cms(target, "restore", str(backup), plugins="blog_series")
    _refused(refused, "shelf_0001", "plugin that is not enabled")
    restored = shelf_cms(target, "restore", str(backup))
    assert restored.exit_code == 0, restored.output
    assert _sql(target, "SELECT id, position FROM shelf_items ORDER BY id") == [(1, 7), (2, 9)]
    # New rows are numbered after the restored ones (on PostgreSQL, by a sequence moved on).
    _sql(target, "INSERT INTO shelf_items (entry_id, position) VALUES (NULL, 11)")
    assert _sql(target, "SELECT max(id) FROM shelf_items") == [(3,)]
    with TestClient(create_app(Settings(database_url=target, plugins=("shelf",)))) as client:
        assert client.get(f"{API}/shelf").json() == {"items": 3}


@pytest.fixture(scope="session")
def other_databases(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    """The database maker of the other kind: PostgreSQL beside SQLite, and the reverse."""
    other = require_backend("postgres" if backend == "sqlite" else "sqlite")
    made = Databases(other, tmp_path_factory.mktemp(f"db-{other}-other"))
    yield made
    made.drop_all()


def test_a_backup_restores_into_the_other_kind_of_database_and_back(
    editing: Editing,
    activity: list[str],
    databases: Databases,
    other_databases: Databases,
    tmp_path: Path,
) -> None:
    """SQLite to PostgreSQL and back (or the reverse): the same rows, the same answers.

    Search ranks with each database's own full-text engine (FTS5's bm25,
    PostgreSQL's ts_rank), so on the other kind search may order hits, and
    word its cursors, differently: there every answer but search's must be
    the same, and back on the original's kind every answer.
    """
    first, second, third = (tmp_path / f"{n}.cms-backup.gz" for n in ("one", "two", "three"))
    cms_ok(editing.url, "backup", str(first))
    there, back = other_databases.blank(), databases.blank()
    cms_ok(there, "restore", str(first))
    admin = editing.secrets["admin"]
    compare_instances(editing.url, there, admin, activity, ranked=f"{API}/search")
    cms_ok(there, "backup", str(second))
    cms_ok(back, "restore", str(second))
    cms_ok(back, "backup", str(third))
    compare_instances(editing.url, back, admin, activity)
    # Every row, every value, as the original had it: only the header differs
    # (the database kind, the time of the backup).
    files = [gzip.decompress(path.read_bytes()).split(b"\n", 1) for path in (first, second, third)]
    assert files[0][1] == files[1][1] == files[2][1]
    kind = "postgresql" if other_databases.backend == "postgres" else "sqlite"
    assert json.loads(files[1][0])["database"] == kind


# --- Online: a backup taken while writes run -------------------------------------------


def test_a_backup_taken_during_writes_holds_every_acknowledged_write(
    editing: Editing, databases: Databases, tmp_path: Path
) -> None:
    """Writes go on through the app while `cms backup` runs beside them.

    The file must be one instant of the database: everything acknowledged
    before the backup began is in it, and of the writes made while it ran,
    exactly those whose change numbers are at most the file's last one: the
    restored change feed is a prefix of the original's, with the entries it names.
    """
    backup = tmp_path / "site.cms-backup.gz"
    admin = editing.auth("admin")

    async def run() -> tuple[list[str], list[str], Result]:
        app = create_app(editing.settings(**QUIET))
        async with concurrent_client(app) as client:
            count = 0

            async def write() -> str:
                nonlocal count
                count += 1
                body = {"title": f"Written during a backup {count}", "clinics": ["calgary"],
                        "author": "lena-marchetti", "body": f"Text {count}."}  # fmt: skip
                response = await client.post(f"{API}/articles", json=body, headers=admin)
                assert response.status_code == 201, response.text
                return str(response.json()["slug"])

            before = [await write() for _ in range(3)]
            during: list[str] = []
            finished = asyncio.Event()

            async def writer() -> None:
                while not finished.is_set():
                    during.append(await write())

            writing = asyncio.create_task(writer())
            try:
                result = await asyncio.to_thread(run_cms, editing.url, "backup", str(backup))
            finally:
                finished.set()
                await writing
        return before, during, result

    before, during, result = asyncio.run(run())
    assert result.exit_code == 0, result.output
    assert during, "no write was acknowledged while the backup ran: it held writers back"
    restored_url = databases.blank()
    cms_ok(restored_url, "restore", str(backup))
    with (
        TestClient(create_app(editing.settings(**QUIET))) as original,
        TestClient(create_app(Settings(database_url=restored_url, **QUIET))) as restored,
    ):
        kept, everything = change_feed(restored, admin), change_feed(original, admin)
        assert kept == everything[: len(kept)]
        created = {e["slug"]: e["seq"] for e in everything if e["action"] == "create"}
        last = kept[-1]["seq"]
        for slug in before + during:
            path = f"{API}/articles/{slug}"
            one = original.get(path, headers=admin)
            two = restored.get(path, headers=admin)
            if created[slug] <= last:
                assert (two.status_code, two.content) == (200, one.content), slug
            else:
                assert two.status_code == 404, slug
        assert all(created[slug] <= last for slug in before)


# --- Refusals ----------------------------------------------------------------------------


def _refused(result: Result, *words: str) -> None:
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    for word in words:
        assert word in result.output, result.output


def _rewrite(source: Path, target: Path, edit: Any) -> Path:
    lines = gzip.decompress(source.read_bytes()).decode().splitlines()
    target.write_bytes(gzip.compress(("\n".join(edit(lines)) + "\n").encode()))
    return target


@pytest.fixture(name="backup_file")
def fixture_backup_file(editing: Editing, tmp_path: Path) -> Path:
    """A backup of the demo with tokens."""
    path = tmp_path / "site.cms-backup.gz"
    cms_ok(editing.url, "backup", str(path))
    return path


def test_bad_files_are_refused_with_a_reason(
    backup_file: Path, databases: Databases, tmp_path: Path
) -> None:
    def header(**changes: Any) -> Any:
        def edit(lines: list[str]) -> list[str]:
            return [json.dumps({**json.loads(lines[0]), **changes}), *lines[1:]]

        return edit

    def bad_row(lines: list[str]) -> list[str]:
        # The first change: its second column is the time it was made.
        at = next(i for i, line in enumerate(lines) if '"table":"changes"' in line) + 1
        row = json.loads(lines[at])
        return [*lines[:at], json.dumps([*row[:1], "not a time", *row[2:]]), *lines[at + 1 :]]

    cases = {
        "missing.gz": (None, ("does not exist",)),
        "text.gz": (b"hello", ("corrupt",)),
        "other.gz": (gzip.compress(b'{"hello": 1}\n'), ("not a backup",)),
        "cut.gz": (backup_file.read_bytes()[: backup_file.stat().st_size // 2], ("cut short",)),
        "version.gz": (header(version=99), ("format version 99", "newer cms")),
        "newer.gz": (header(revisions=["9999_future"]), ("newer schema", "9999_future")),
        "row.gz": (bad_row, ("corrupt at line", "not a time")),
        "short.gz": (lambda lines: lines[:-1], ("cut short",)),
    }
    target = databases.blank()
    for name, (content, words) in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            _rewrite(backup_file, path, content)
        result = run_cms(target, "restore", str(path))
        assert result.exit_code != 0, f"{name} was taken: {result.output}"
        _refused(result, *words)
    # None of them wrote anything: the database is still blank, and takes the good file.
    cms_ok(target, "restore", str(backup_file))


def test_only_an_empty_database_is_restored_into(
    backup_file: Path, databases: Databases, editing: Editing
) -> None:
    _refused(run_cms(editing.url, "restore", str(backup_file)), "not empty", "nothing was written")
    older = databases.blank()
    upgrade(older, "0006")
    _refused(run_cms(older, "restore", str(backup_file)), "not empty", "at revision 0006")
    # A database migrated by `cms db upgrade` and never written to is empty.
    migrated = databases.fresh()
    cms_ok(migrated, "restore", str(backup_file))
    _refused(run_cms(migrated, "restore", str(backup_file)), "holds rows")


def test_a_backup_of_an_older_schema_is_restored_then_migrated(
    backup_file: Path, editing: Editing, databases: Databases, tmp_path: Path
) -> None:
    """A file at revision 0006 comes back, then is migrated on (0008 makes the published
    link and facet rows from the published documents)."""
    # The tables 0007, 0008 and 0009 add, and the column 0009 adds.
    later = {"content_files", "published_links", "published_facets", "cache_purges"}
    later_columns = {"site_state": "purge_seq"}

    def at_0006(lines: list[str]) -> list[str]:
        kept, skipping, dropping = [], False, None
        for line in lines[1:]:
            if line.startswith("{"):
                item = json.loads(line)
                skipping = item.get("table") in later
                dropping = None
                if item.get("table") in later_columns:
                    names = [c[0] for c in item["columns"]]
                    dropping = names.index(later_columns[item["table"]])
                    del item["columns"][dropping]
                    line = json.dumps(item)
                if item.get("end"):
                    item["rows"] = {t: n for t, n in item["rows"].items() if t not in later}
                    line = json.dumps(item)
            elif dropping is not None:
                row = json.loads(line)
                del row[dropping]
                line = json.dumps(row)
            if not skipping:
                kept.append(line)
        head = json.loads(lines[0])
        tables = [t for t in head["tables"] if t not in later]
        return [json.dumps({**head, "revisions": ["0006"], "tables": tables}), *kept]

    older = _rewrite(backup_file, tmp_path / "older.gz", at_0006)
    target = databases.blank()
    output = cms_ok(target, "restore", str(older)).output
    assert "at revision 0006; then migrated to the newest schema" in output
    with (
        TestClient(create_app(editing.settings(**QUIET))) as original,
        TestClient(create_app(Settings(database_url=target, **QUIET))) as restored,
    ):
        for path in (
            f"{API}/articles",
            f"{API}/conditions/sciatica",
            f"{API}/changes",
            f"{API}/conditions/sciatica/backlinks",
            f"{API}/practitioners?modality=cupping",
        ):
            assert restored.get(path).content == original.get(path).content, path


def test_backups_refuse_what_they_cannot_do(
    databases: Databases, backend: str, tmp_path: Path
) -> None:
    fresh = databases.fresh()
    _refused(run_cms(fresh, "backup", str(tmp_path / "no" / "such" / "folder.gz")), "cannot write")
    assert not list(tmp_path.rglob("*.partial"))
    blank = databases.blank()
    # A SQLite file that is not there is not made by trying to back it up.
    words = ("there is no database",) if backend == "sqlite" else ("cms db upgrade",)
    _refused(run_cms(blank, "backup", str(tmp_path / "b.gz")), *words)
    assert backend != "sqlite" or not Path(str(make_url(blank).database)).exists()
