"""What the fault tests share: tracked writes over real HTTP, and the check that
everything the database says about an entry agrees with what was acknowledged.

A tracked entry is driven through :data:`STEPS` by one writer, each step a
request whose answer (or its absence) is recorded. After a fault, a step that
was sent but not acknowledged may or may not have been committed; every
acknowledged one must be there, whole.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.conftest import FIRST_PARTY_PLUGINS
from tests.servers import QUIET

STEPS = ("create", "publish", "update", "publish", "update", "publish")
"""What a writer does to each of its entries, in order; each step is one new version."""
TARGETS = ("sciatica", "piriformis-syndrome", "back-strain")
"""Published demo conditions the tracked entries' bodies link to."""
ARTICLES = "/api/v1/articles"


def server_env(url: str, **settings: str) -> dict[str, str]:
    """The environment of a `cms serve` on ``url``: no background work unless ``settings``
    (``CMS_*`` names) turn it on, and the first-party plugins."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CMS_")}
    plugins = ",".join(FIRST_PARTY_PLUGINS)
    return env | QUIET | {"CMS_DATABASE_URL": url, "CMS_PLUGINS": plugins} | settings


def word(number: int, revision: int) -> str:
    """A word found in one revision of one tracked entry and nowhere else.

    Fixed width, so that no word is the start of another (search matches prefixes).
    """
    return f"zq{number:03d}r{revision}x"


def revision_at(step: int) -> int:
    """Which content revision (0, 1, 2) the working copy holds after ``step``."""
    return sum(1 for kind in STEPS[: step + 1] if kind != "publish") - 1


def published_at(step: int) -> int | None:
    """Which content revision the published version holds after ``step``, if any."""
    publishes = [i for i in range(step + 1) if STEPS[i] == "publish"]
    return revision_at(publishes[-1]) if publishes else None


@dataclass
class Tracked:
    """One entry a writer drives through :data:`STEPS`."""

    number: int
    acked: list[dict[str, Any]] = field(default_factory=list)
    """The answer to each acknowledged step, in order (step ``i`` is ``acked[i]``)."""
    unknown: int | None = None
    """The step sent but not acknowledged (the server died, or answered 503): it may
    or may not have been committed."""
    etag: str = ""

    @property
    def slug(self) -> str:
        return f"fault-{self.number:03d}"

    @property
    def path(self) -> str:
        return f"{ARTICLES}/{self.slug}"

    def fields(self, revision: int) -> dict[str, Any]:
        """The content the entry has at ``revision``."""
        return {
            "title": f"Fault {self.number} revision {revision}",
            "summary": f"What revision {revision} of entry {self.number} says.",
            "body": f"## Part {revision}\n\nThe word {word(self.number, revision)} is here. "
            f"See [the condition](cms:condition/{self.target(revision)}).\n",
        }

    def target(self, revision: int) -> str:
        return TARGETS[(self.number + revision) % len(TARGETS)]

    def request(self, step: int) -> tuple[str, str, dict[str, Any] | None]:
        """Method, path and JSON body of ``step``."""
        kind = STEPS[step]
        if kind == "create":
            body = {"slug": self.slug, "clinics": ["calgary"], "author": "lena-marchetti"}
            return "POST", ARTICLES, body | self.fields(revision_at(step))
        if kind == "update":
            return "PATCH", self.path, self.fields(revision_at(step))
        return "POST", f"{self.path}/publish", None

    async def send(
        self, http: httpx.AsyncClient, step: int, auth: dict[str, str]
    ) -> httpx.Response:
        """Send ``step``; it is unknown until :meth:`acknowledge` is called with its answer."""
        self.unknown = step
        method, path, body = self.request(step)
        headers = auth if step == 0 else {**auth, "If-Match": self.etag}
        return await http.request(method, path, json=body, headers=headers)

    def acknowledge(self, response: httpx.Response) -> None:
        """Record a 2xx answer to the step sent last."""
        assert response.is_success, response.text
        assert self.unknown == len(self.acked)
        self.acked.append(response.json())
        self.etag = response.headers["etag"]
        self.unknown = None


def check_entries(http: httpx.Client, tracked: list[Tracked], auth: dict[str, str]) -> int:
    """Every acknowledged write of ``tracked`` is there, whole, and the entry's revisions,
    search hits, links, backlinks and change-feed events agree with it; how many
    entries exist.

    An entry holds the state of its last acknowledged step, or of the step after
    it when that one was sent and its answer lost.
    """
    tracked = [t for t in tracked if t.acked or t.unknown is not None]  # the others never began
    for t in tracked:
        for i, answer in enumerate(t.acked):
            # Every step is one new version: step i makes version i + 1.
            assert answer["version"] == i + 1, (t.slug, i, answer)
    states: dict[str, int] = {}  # slug -> step whose state it holds
    for t in tracked:
        working = http.get(t.path, headers=auth)
        if working.status_code == 404:
            assert not t.acked, f"{t.slug}: acknowledged, then lost"
            continue
        assert working.status_code == 200, working.text
        doc = working.json()
        step = doc["version"] - 1
        last = len(t.acked) - 1
        assert step == last or (step == last + 1 and t.unknown == step), (
            f"{t.slug}: version {doc['version']}, acknowledged up to step {last}, "
            f"unknown step {t.unknown}"
        )
        states[t.slug] = step
        _check_working(http, t, doc, step, auth)
        _check_published(http, t, doc, step)
    _check_search(http, tracked, states)
    _check_backlinks(http, tracked, states)
    _check_changes(http, tracked, states, auth)
    return len(states)


def _check_working(
    http: httpx.Client, t: Tracked, doc: dict[str, Any], step: int, auth: dict[str, str]
) -> None:
    revision = revision_at(step)
    expected = t.fields(revision)
    assert {name: doc[name] for name in expected} == expected, (t.slug, step)
    assert doc["links"] == [f"condition/{t.target(revision)}"], (t.slug, doc["links"])
    assert doc["status"] == ("published" if STEPS[step] == "publish" else "draft"), t.slug
    revisions = http.get(f"{t.path}/revisions?limit=100", headers=auth)
    assert revisions.status_code == 200, revisions.text
    listed = revisions.json()["data"]
    assert [r["version"] for r in listed] == list(range(doc["version"], 0, -1)), t.slug
    assert listed[0]["action"] == STEPS[step], (t.slug, listed[0])
    newest = http.get(f"{t.path}/revisions/{doc['version']}", headers=auth)
    assert newest.status_code == 200, newest.text
    saved = newest.json()["entry"]
    assert {name: saved[name] for name in expected} == expected, (t.slug, saved)


def _check_published(http: httpx.Client, t: Tracked, doc: dict[str, Any], step: int) -> None:
    revision = published_at(step)
    public = http.get(t.path)
    if revision is None:
        assert public.status_code == 404, (t.slug, public.text)
        assert doc["published_version"] is None, t.slug
        return
    assert public.status_code == 200, (t.slug, public.text)
    shown = public.json()
    expected = t.fields(revision)
    assert {name: shown[name] for name in expected} == expected, (t.slug, step)
    assert shown["links"] == [f"condition/{t.target(revision)}"], t.slug
    assert shown["version"] == doc["published_version"], (t.slug, shown["version"])


def _check_search(http: httpx.Client, tracked: list[Tracked], states: dict[str, int]) -> None:
    for t in tracked:
        live = published_at(states[t.slug]) if t.slug in states else None
        for revision in range(revision_at(len(STEPS) - 1) + 1):
            found = http.get("/api/v1/search", params={"q": word(t.number, revision)})
            assert found.status_code == 200, found.text
            slugs = [hit["slug"] for hit in found.json()["data"]]
            assert slugs == ([t.slug] if revision == live else []), (t.slug, revision, slugs)


def _check_backlinks(http: httpx.Client, tracked: list[Tracked], states: dict[str, int]) -> None:
    for target in TARGETS:
        expected = set()
        for t in tracked:
            live = published_at(states[t.slug]) if t.slug in states else None
            if live is not None and t.target(live) == target:
                expected.add(t.slug)
        found = {
            item["slug"]
            for item in pages(http, f"/api/v1/conditions/{target}/backlinks")
            if item["slug"].startswith("fault-")
        }
        assert found == expected, (
            f"backlinks of condition/{target} disagree with the published versions: "
            f"listed but not linking {sorted(found - expected)}, "
            f"linking but not listed {sorted(expected - found)}"
        )


def _check_changes(
    http: httpx.Client,
    tracked: list[Tracked],
    states: dict[str, int],
    auth: dict[str, str],
) -> None:
    latest = {(event["slug"], event["state"]): event for event in changes(http, auth)}
    for t in tracked:
        if t.slug not in states:
            assert (t.slug, "working") not in latest, t.slug
            continue
        step = states[t.slug]
        working = latest[t.slug, "working"]
        assert (working["event"], working["version"]) == ("upsert", step + 1), t.slug
        publishes = [i for i in range(step + 1) if STEPS[i] == "publish"]
        if not publishes:
            assert (t.slug, "published") not in latest, t.slug
            continue
        published = latest[t.slug, "published"]
        assert published["event"] == "upsert", (t.slug, published)
        assert published["version"] == publishes[-1] + 1, (t.slug, published)


def pages(http: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a keyset-paged list."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = http.get(
            path, params={**params, "limit": 100, **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.text
        items.extend(page.json()["data"])
        cursor = page.json()["next_cursor"]
        if not cursor:
            return items


def changes(http: httpx.Client, auth: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The whole change feed, in order: every state with a token, else the public one."""
    events: list[dict[str, Any]] = []
    params: dict[str, Any] = {"since": 0, "limit": 1000}
    if auth:
        params["state"] = "all"
    while True:
        page = http.get("/api/v1/changes", params=params, headers=auth or {})
        assert page.status_code == 200, page.text
        body = page.json()
        events.extend(body["data"])
        if body["next_since"] >= body["last_seq"]:
            return events
        params["since"] = body["next_since"]
