"""The workflow over HTTP: review, publishing, the published version beside the draft,
scheduling (across a restart), unpublishing and archiving."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from cms.app import create_app
from cms.settings import Settings
from tests.conftest import (
    Editing,
    ManualClock,
    create_article,
    load_folder,
    read_entry_as,
    step,
    wait_for,
)

ARTICLES = "/api/v1/articles"


def _token_id(editing: Editing, name: str) -> str:
    return editing.secrets[name].removeprefix("cms_").split("_")[0]


def _public_slugs(client: TestClient[Any], query: str = "") -> set[str]:
    response = client.get(f"{ARTICLES}?limit=100{query}")
    assert response.status_code == 200
    return {item["slug"] for item in response.json()["data"]}


def _wait_for_scheduler(client: TestClient[Any]) -> None:
    """Return once the scheduler of ``client``'s app has made a whole look since the call.

    The scheduler reads the app's clock once at the start of each look, and
    the test sends no request meanwhile: two more reads mean one look began
    and ended after this call.
    """
    clock = client.app.state.services.clock
    seen = clock.reads
    wait_for(lambda: clock.reads >= seen + 2, message="the scheduler did not look again")


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def test_the_full_workflow(editing: Editing, client: TestClient[Any]) -> None:
    draft, etag = create_article(client, editing, "Sleep and back pain", token="author")
    slug, url = draft["slug"], f"{ARTICLES}/{draft['slug']}"

    # An author submits for review but cannot publish.
    reviewed, etag = step(client, editing, slug, "submit", etag, token="author")
    assert reviewed["status"] == "in_review"
    refused = client.post(f"{url}/publish", headers={**editing.auth("author"), "If-Match": etag})
    assert refused.status_code == 403
    assert client.get(url).status_code == 404

    # An editor publishes: it is public, in lists and filters.
    live, etag = step(client, editing, slug, "publish", etag)
    assert live["status"] == "published"
    assert live["published_version"] == live["version"]
    assert live["published_at"] is not None
    public = client.get(url)
    assert public.status_code == 200
    assert public.json()["status"] == "published"
    assert "published_version" not in public.json()
    assert slug in _public_slugs(client)
    assert slug in _public_slugs(client, "&clinic=calgary&practitioner=lena-marchetti")
    again = client.post(f"{url}/publish", headers={**editing.auth("editor"), "If-Match": etag})
    assert again.status_code == 409

    # Unpublished: gone from the public, back to a draft.
    down, etag = step(client, editing, slug, "unpublish", etag)
    assert down["status"] == "draft"
    assert down["published_version"] is None
    assert client.get(url).status_code == 404
    assert slug not in _public_slugs(client)

    # Published again, then archived: gone, and kept with its history.
    _live, etag = step(client, editing, slug, "publish", etag)
    archived, etag = step(client, editing, slug, "archive", etag)
    assert archived["status"] == "archived"
    assert client.get(url).status_code == 404
    assert read_entry_as(client, editing, url)[0]["status"] == "archived"
    actions = [
        r["action"]
        for r in client.get(f"{url}/revisions", headers=editing.auth("viewer")).json()["data"]
    ]
    assert actions == ["archive", "publish", "unpublish", "publish", "submit", "create"]
    assert (
        client.post(
            f"{url}/archive", headers={**editing.auth("editor"), "If-Match": etag}
        ).status_code
        == 409
    )

    # Submitting is for drafts only.
    assert (
        client.post(
            f"{url}/submit", headers={**editing.auth("author"), "If-Match": etag}
        ).status_code
        == 409
    )


def test_a_published_entry_keeps_serving_its_published_version_while_edited(
    editing: Editing, client: TestClient[Any]
) -> None:
    url = f"{ARTICLES}/opioids-and-back-pain"
    published = client.get(url).json()
    before_list = client.get(f"{ARTICLES}?limit=100").json()
    _doc, etag = read_entry_as(client, editing, url)
    changed = client.patch(
        url,
        json={"title": "Opioids: a draft rewrite", "conditions": ["sciatica"], "tags": ["draft"]},
        headers={**editing.auth("author"), "If-Match": etag},
    )
    assert changed.status_code == 200
    draft = changed.json()
    assert draft["status"] == "draft"
    assert draft["published_version"] == published["version"]
    assert draft["version"] == published["version"] + 1

    # The public sees the published version, everywhere...
    assert client.get(url).json() == published
    assert client.get(f"{ARTICLES}?limit=100").json() == before_list
    assert "opioids-and-back-pain" in _public_slugs(client, "&condition=low-back-pain")
    assert "opioids-and-back-pain" not in _public_slugs(client, "&condition=sciatica")
    assert "opioids-and-back-pain" not in _public_slugs(client, "&tag=draft")
    # ...editors the draft, in lists too.
    assert read_entry_as(client, editing, url)[0] == draft
    drafts = client.get(f"{ARTICLES}?status=draft&limit=100", headers=editing.auth("viewer"))
    assert "Opioids: a draft rewrite" in {a["title"] for a in drafts.json()["data"]}
    with_tag = client.get(f"{ARTICLES}?tag=draft", headers=editing.auth("viewer")).json()["data"]
    assert [a["slug"] for a in with_tag] == ["opioids-and-back-pain"]

    # Publishing the draft replaces the published version.
    _live, _etag = step(
        client, editing, "opioids-and-back-pain", "publish", changed.headers["etag"]
    )
    now_public = client.get(url).json()
    assert now_public["title"] == "Opioids: a draft rewrite"
    assert now_public["published_at"] == published["published_at"]  # first publication date
    assert "opioids-and-back-pain" in _public_slugs(client, "&condition=sciatica")
    assert "opioids-and-back-pain" not in _public_slugs(client, "&condition=low-back-pain")


def test_unpublishing_an_edited_entry_takes_its_published_version_down(
    editing: Editing, client: TestClient[Any]
) -> None:
    url = f"{ARTICLES}/opioids-and-back-pain"
    _doc, etag = read_entry_as(client, editing, url)
    edited = client.patch(
        url, json={"summary": "Pending"}, headers={**editing.auth("editor"), "If-Match": etag}
    )
    # Forced: published entries link to it (the 409 is tested in test_links).
    down, _ = step(
        client, editing, "opioids-and-back-pain", "unpublish", edited.headers["etag"], force=True
    )
    assert down["status"] == "draft"
    assert down["summary"] == "Pending"
    assert down["published_version"] is None
    assert down["version"] == edited.json()["version"] + 1
    assert client.get(url).status_code == 404


def test_a_scheduled_entry_goes_live_within_seconds(editing: Editing) -> None:
    # The app's clock stands still until the test moves it past the time: the
    # entry cannot go live early, nor the time pass before it is scheduled.
    clock = ManualClock()
    with TestClient(create_app(editing.settings(scheduler_interval=0.2), clock=clock)) as client:
        draft, etag = create_article(client, editing, "Scheduled post")
        url = f"{ARTICLES}/{draft['slug']}"
        at = clock() + dt.timedelta(minutes=10)
        scheduled, etag = step(client, editing, draft["slug"], "publish", etag, at=_iso(at))
        assert scheduled["status"] == "scheduled"
        assert scheduled["scheduled_at"] == _iso(at)
        assert scheduled["published_at"] == _iso(at)
        clock.advance(599)
        # The scheduler has looked at least once more since: still not live.
        _wait_for_scheduler(client)
        assert client.get(url).status_code == 404
        clock.advance(1)
        wait_for(lambda: client.get(url).status_code == 200, message="not published")
        live = read_entry_as(client, editing, url)[0]
        assert live["status"] == "published"
        assert live["scheduled_at"] is None
        assert client.get(url).json()["published_at"] == _iso(at)
        # The revision that put it live names the token that scheduled it.
        latest = client.get(f"{url}/revisions", headers=editing.auth("viewer")).json()["data"][0]
        assert latest["action"] == "publish"
        assert latest["actor"] == _token_id(editing, "editor")
        assert latest["actor_name"] == "editor"


def test_a_schedule_survives_a_restart(editing: Editing) -> None:
    settings = editing.settings(scheduler_interval=0.2)
    clock = ManualClock()
    with TestClient(create_app(settings, clock=clock)) as client:
        draft, etag = create_article(client, editing, "Goes live while we are down")
        url = f"{ARTICLES}/{draft['slug']}"
        at = clock() + dt.timedelta(minutes=10)
        step(client, editing, draft["slug"], "publish", etag, at=_iso(at))
    # The server is down when the time comes.
    clock.advance(600)
    with TestClient(create_app(settings, clock=clock)) as client:
        wait_for(lambda: client.get(url).status_code == 200, message="not published after restart")
        assert read_entry_as(client, editing, url)[0]["status"] == "published"


def test_scheduling_rules(editing: Editing, client: TestClient[Any]) -> None:
    draft, etag = create_article(client, editing, "Rules")
    url = f"{ARTICLES}/{draft['slug']}"
    headers = {**editing.auth("editor"), "If-Match": etag}
    naive = client.post(f"{url}/publish", json={"at": "2999-01-01T09:00:00"}, headers=headers)
    assert naive.status_code == 422
    assert [e["name"] for e in naive.json()["errors"]] == ["at"]
    later = _iso(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    scheduled, etag = step(client, editing, draft["slug"], "publish", etag, at=later)
    assert scheduled["status"] == "scheduled"
    # Changing a scheduled entry cancels the schedule: what was approved is not what it says.
    edited = client.patch(
        url, json={"summary": "Changed"}, headers={**editing.auth("author"), "If-Match": etag}
    )
    assert edited.json()["status"] == "draft"
    assert edited.json()["scheduled_at"] is None
    # A time in the past publishes at once.
    past = _iso(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    live, etag = step(client, editing, draft["slug"], "publish", edited.headers["etag"], at=past)
    assert live["status"] == "published"
    assert client.get(url).status_code == 200
    # Scheduling changes to a live entry keeps the published version until then.
    edited = client.patch(
        url, json={"title": "Rules, revised"}, headers={**editing.auth("editor"), "If-Match": etag}
    )
    scheduled, etag = step(
        client, editing, draft["slug"], "publish", edited.headers["etag"], at=later
    )
    assert scheduled["status"] == "scheduled"
    assert scheduled["published_version"] == live["version"]
    assert client.get(url).json()["title"] == "Rules"
    # Unpublishing a scheduled entry cancels the schedule and takes it down.
    down, _ = step(client, editing, draft["slug"], "unpublish", etag)
    assert down["status"] == "draft"
    assert down["scheduled_at"] is None
    assert client.get(url).status_code == 404


def test_a_content_file_can_schedule_an_entry(database_url: str, content_copy: Path) -> None:
    # An hour ahead: the load (on the real clock) cannot outlast it; the app's
    # clock is then moved past it.
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).replace(microsecond=0)
    (content_copy / "articles" / "coming-soon.md").write_text(
        f"---\ntitle: Coming soon\nstatus: scheduled\nclinics:\n- calgary\n"
        f"published_at: '{_iso(at)}'\n---\n\nSoon.\n",
        encoding="utf-8",
    )
    load_folder(database_url, content_copy)
    clock = ManualClock()
    settings = Settings(database_url=database_url, scheduler_interval=0.2)
    with TestClient(create_app(settings, clock=clock)) as client:
        _wait_for_scheduler(client)
        assert client.get(f"{ARTICLES}/coming-soon").status_code == 404
        clock.now = at
        wait_for(
            lambda: client.get(f"{ARTICLES}/coming-soon").status_code == 200,
            message="the scheduled file did not go live",
        )
        assert client.get(f"{ARTICLES}/coming-soon").json()["published_at"] == _iso(at)
