"""Webhooks: subscriptions over HTTP, and real deliveries to a real receiver on loopback.

The receiver is a small HTTP server in a thread; it checks every request it
gets with ``standardwebhooks.Webhook(secret).verify(body, headers)``, as a
clinic site would. Schedules and poll intervals are fractions of a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from standardwebhooks import Webhook

from cms.app import create_app
from cms.reading.cursors import pack
from cms.settings import Settings
from tests.conftest import Editing, create_article, step, wait_for

API = "/api/v1/webhooks"
FAST = {"webhook_poll_interval": 0.05, "webhook_retry_schedule": (0.1,) * 40}
"""Settings that make delivery take fractions of a second."""


# --- The receiver -------------------------------------------------------------------


@dataclass
class Received:
    """One request the receiver got, already verified."""

    headers: dict[str, str]
    body: bytes
    message: dict[str, Any]


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 that verifies every request.

    ``answers`` are the status codes of the next requests, in order; after
    them it answers ``default``.
    """

    port: int
    secret: str | None = None
    answers: list[int] = field(default_factory=list)
    default: int = 204
    received: list[Received] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    try:
                        assert receiver.secret is not None, "no secret yet"
                        message = Webhook(receiver.secret).verify(body, headers)
                    except Exception as exc:
                        receiver.unverified.append(f"{type(exc).__name__}: {exc}")
                        code = 400
                    else:
                        receiver.received.append(Received(headers, body, message))
                        code = receiver.answers.pop(0) if receiver.answers else receiver.default
                self.send_response(code)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            # Several senders open connections at once; the default backlog of
            # 5 would drop some (the sender logs and retries them, but the
            # tests count requests).
            request_queue_size = 128

        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def messages(self, slug: str | None = None) -> list[Received]:
        """What arrived (for one entry), in order of arrival."""
        with self.lock:
            found = list(self.received)
        return [r for r in found if slug is None or r.message["data"]["entry"]["slug"] == slug]

    def types(self, slug: str) -> list[str]:
        return [r.message["type"] for r in self.messages(slug)]


def free_port() -> int:
    """A port nothing listens on (for now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(name="receiver")
def fixture_receiver() -> Iterator[Receiver]:
    """A receiver, not started: a test starts it (or leaves it down)."""
    receiver = Receiver(port=free_port())
    yield receiver
    receiver.stop()
    assert receiver.unverified == [], "requests that failed verification"


# --- Helpers over the API -----------------------------------------------------------


def subscribe(
    client: TestClient[Any], editing: Editing, receiver: Receiver, **body: Any
) -> dict[str, Any]:
    """Subscribe the receiver; it learns the secret."""
    response = client.post(API, json={"url": receiver.url, **body}, headers=editing.auth("admin"))
    assert response.status_code == 201, response.text
    created = response.json()
    receiver.secret = created["secret"]
    return created


def log(client: TestClient[Any], editing: Editing, endpoint_id: str) -> list[dict[str, Any]]:
    """The endpoint's whole delivery log, newest first."""
    response = client.get(
        f"{API}/{endpoint_id}/deliveries?limit=100", headers=editing.auth("admin")
    )
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def log_of(
    client: TestClient[Any], editing: Editing, endpoint_id: str, slug: str, event: str
) -> dict[str, Any] | None:
    """The delivery of ``event`` about ``slug``, or None."""
    for delivery in log(client, editing, endpoint_id):
        if delivery["event"] == event and delivery["payload"]["data"]["entry"]["slug"] == slug:
            return delivery
    return None


def dispatched_seq(editing: Editing) -> int:
    """The last change the webhook dispatcher has turned into deliveries (``webhook_state``)."""

    async def read() -> int:
        engine = create_async_engine(editing.url)
        try:
            async with engine.connect() as connection:
                seq = await connection.scalar(text("SELECT seq FROM webhook_state"))
        finally:
            await engine.dispose()
        return int(seq or 0)

    return asyncio.run(read())


def publish_article(
    client: TestClient[Any], editing: Editing, title: str, **fields: Any
) -> dict[str, Any]:
    """Create and publish an article; its published working copy."""
    doc, etag = create_article(client, editing, title, **fields)
    published, _etag = step(client, editing, doc["slug"], "publish", etag)
    return published


# --- Subscriptions -----------------------------------------------------------------


def test_subscriptions_are_admin_only_and_keep_their_secret(
    client: TestClient[Any], editing: Editing
) -> None:
    body = {
        "url": "https://calgary.example.com/hooks",
        "clinics": ["calgary"],
        "events": ["entry.published", "cache.purge"],
        "description": "Calgary site",
    }
    anonymous = client.post(API, json=body)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    assert anonymous.json()["errors"][0]["name"] == "Authorization"
    editor = client.post(API, json=body, headers=editing.auth("editor"))
    assert editor.status_code == 403
    assert editor.json()["type"] == "urn:clinic-cms:problem:forbidden"
    for path in (API, f"{API}/ep_x", f"{API}/ep_x/deliveries"):
        assert client.get(path, headers=editing.auth("editor")).status_code == 403
        assert client.get(path).status_code == 401

    created = client.post(API, json=body, headers=editing.auth("admin"))
    assert created.status_code == 201, created.text
    endpoint = created.json()
    assert endpoint["secret"].startswith("whsec_")
    # Standard Webhooks: base64 of 24 to 64 random bytes; the package accepts it.
    import base64

    assert 24 <= len(base64.b64decode(endpoint["secret"].removeprefix("whsec_"))) <= 64
    Webhook(endpoint["secret"])
    assert endpoint["status"] == "enabled"
    assert endpoint["clinics"] == ["calgary"]
    assert endpoint["events"] == ["entry.published", "cache.purge"]
    assert endpoint["description"] == "Calgary site"
    assert created.headers["cache-control"] == "no-store"

    listed = client.get(API, headers=editing.auth("admin")).json()["data"]
    assert [e["id"] for e in listed] == [endpoint["id"]]
    assert "secret" not in listed[0]
    one = client.get(f"{API}/{endpoint['id']}", headers=editing.auth("admin"))
    assert one.status_code == 200
    assert "secret" not in one.json()
    assert one.json()["url"] == body["url"]

    assert (
        client.delete(f"{API}/{endpoint['id']}", headers=editing.auth("admin")).status_code == 204
    )
    for path in (f"{API}/{endpoint['id']}", f"{API}/{endpoint['id']}/deliveries"):
        gone = client.get(path, headers=editing.auth("admin"))
        assert gone.status_code == 404
        assert gone.json()["type"] == "urn:clinic-cms:problem:not-found"
    assert (
        client.delete(f"{API}/{endpoint['id']}", headers=editing.auth("admin")).status_code == 404
    )
    assert client.get(API, headers=editing.auth("admin")).json()["data"] == []


@pytest.mark.parametrize(
    ("body", "field_name"),
    [
        ({"url": "ftp://example.com/hooks"}, "url"),
        ({"url": "example.com/hooks"}, "url"),
        ({"url": "https://"}, "url"),
        ({"url": "https://user:pw@example.com/"}, "url"),
        ({"url": "https://example.com/", "events": ["entry.renamed"]}, "events[0]"),
        ({"url": "https://example.com/", "clinics": ["banff"]}, "clinics"),
        ({"url": "https://example.com/", "clinics": ["Not A Slug"]}, "clinics[0]"),
        ({"url": "https://example.com/", "colour": "red"}, "colour"),
        ({}, "url"),
    ],
)
def test_bad_subscriptions_are_422_problems_naming_the_field(
    client: TestClient[Any], editing: Editing, body: dict[str, Any], field_name: str
) -> None:
    response = client.post(API, json=body, headers=editing.auth("admin"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "urn:clinic-cms:problem:invalid-body"
    assert [e["name"] for e in problem["errors"]] == [field_name], problem
    assert client.get(API, headers=editing.auth("admin")).json()["data"] == []


def test_the_default_retry_schedule_spans_more_than_a_day() -> None:
    schedule = Settings().webhook_retry_schedule
    # Even with every delay jittered 20 % short.
    assert sum(schedule) * 0.8 > 24 * 3600
    assert list(schedule) == sorted(schedule)  # backing off, never speeding up


@pytest.mark.parametrize(
    ("env", "variable"),
    [({"CMS_WEBHOOK_RETRY_SCHEDULE": "5,soon"}, "CMS_WEBHOOK_RETRY_SCHEDULE item 2"),
     ({"CMS_WEBHOOK_RETRY_SCHEDULE": "5,0"}, "CMS_WEBHOOK_RETRY_SCHEDULE item 2"),
     ({"CMS_WEBHOOK_RETRY_SCHEDULE": ","}, "CMS_WEBHOOK_RETRY_SCHEDULE"),
     ({"CMS_WEBHOOK_POLL_INTERVAL": "0"}, "CMS_WEBHOOK_POLL_INTERVAL"),
     ({"CMS_WEBHOOK_DELIVERY": "cron"}, "CMS_WEBHOOK_DELIVERY")],
)  # fmt: skip
def test_bad_webhook_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    from cms.settings import SettingsError

    with pytest.raises(SettingsError, match=variable):
        Settings.from_env(env)
    assert Settings.from_env(
        {"CMS_WEBHOOK_RETRY_SCHEDULE": "0.5, 2,10", "CMS_WEBHOOK_POLL_INTERVAL": "0.25"}
    ) == Settings(webhook_retry_schedule=(0.5, 2.0, 10.0), webhook_poll_interval=0.25)


# --- Deliveries ---------------------------------------------------------------------


def test_publishing_delivers_signed_entry_published_and_cache_purge(
    editing: Editing, receiver: Receiver
) -> None:
    receiver.start()
    with TestClient(create_app(editing.settings(**FAST))) as client:
        endpoint = subscribe(client, editing, receiver)
        article = publish_article(client, editing, "Webhooks and back pain")
        slug = article["slug"]
        expected = {"entry.created", "entry.published", "cache.purge"}
        wait_for(lambda: expected <= set(receiver.types(slug)))
        # The draft was an event too, of the working copy. (Messages are sent
        # at once, so they may arrive in any order: data.seq orders them.)

        by_type = {r.message["type"]: r for r in receiver.messages(slug)}
        published = by_type["entry.published"]
        assert published.headers["content-type"] == "application/json"
        assert published.headers["webhook-id"].startswith("msg_")
        assert abs(int(published.headers["webhook-timestamp"]) - time.time()) < 60
        assert published.headers["webhook-signature"].startswith("v1,")
        # The body is what was signed, byte for byte.
        assert json.loads(published.body) == published.message
        data = published.message["data"]
        assert data["action"] == "publish"
        assert data["state"] == "published"
        assert data["entry"] == {
            "type": "article", "id": article["id"], "slug": slug,
            "version": article["version"], "path": f"/api/v1/articles/{slug}",
        }  # fmt: skip
        assert data["clinics"] == ["calgary"]
        assert data["left_clinics"] == []
        assert data["seq"] > 0
        assert published.message["timestamp"].endswith("Z")
        # The entry is served where the message says.
        assert client.get(data["entry"]["path"]).status_code == 200

        purge = by_type["cache.purge"].message
        keys = purge["data"]["surrogate_keys"]
        assert {f"entry:{article['id']}", "list:article", "search", "changes"} <= set(keys)
        assert purge["data"]["seq"] == data["seq"]
        # A public read names the keys it depends on; the purge covers them.
        page = client.get("/api/v1/articles?limit=1")
        assert set(page.headers["surrogate-key"].split()) & set(keys)
        # The entry's own pages are purged by a key they carry.
        for path in (data["entry"]["path"], f"{data['entry']['path']}/backlinks"):
            response = client.get(path)
            assert response.status_code == 200, response.text
            assert set(response.headers["surrogate-key"].split()) & set(keys) - {"changes"}, path

        # Each message went once, with its own id, and the log says so.
        ids = [r.headers["webhook-id"] for r in receiver.messages()]
        assert len(ids) == len(set(ids))
        delivered = log_of(client, editing, endpoint["id"], slug, "entry.published")
        assert delivered is not None
        assert delivered["id"] == published.headers["webhook-id"]
        assert delivered["status"] == "delivered"
        assert delivered["attempts"] == 1
        assert delivered["last_status_code"] == 204
        assert delivered["payload"] == published.message
        [attempt] = delivered["attempt_log"]
        assert attempt["status_code"] == 204
        assert attempt["error"] is None
        assert attempt["trigger"] == "auto"
        assert attempt["duration_ms"] >= 0


def test_an_endpoint_gets_only_changes_made_after_it_subscribed(
    editing: Editing, receiver: Receiver
) -> None:
    receiver.start()
    with TestClient(create_app(editing.settings(**FAST))) as client:
        before = publish_article(client, editing, "Before the subscription")
        subscribe(client, editing, receiver)
        after = publish_article(client, editing, "After the subscription")
        wait_for(lambda: "cache.purge" in receiver.types(after["slug"]))
        assert receiver.messages(before["slug"]) == []


def test_clinic_and_event_filters(editing: Editing, receiver: Receiver) -> None:
    receiver.start()
    everything = Receiver(port=free_port())
    everything.start()
    try:
        with TestClient(create_app(editing.settings(**FAST))) as client:
            subscribe(client, editing, receiver, clinics=["calgary"],
                                events=["entry.published", "entry.unpublished"])  # fmt: skip
            subscribe(client, editing, everything)

            edmonton_only = publish_article(client, editing, "Only in Edmonton",
                                            clinics=["edmonton"])  # fmt: skip
            both = publish_article(client, editing, "In both cities",
                                   clinics=["calgary", "edmonton"])  # fmt: skip
            wait_for(lambda: "entry.published" in receiver.types(both["slug"]))
            wait_for(lambda: "cache.purge" in everything.types(edmonton_only["slug"]))

            # The entry leaves Calgary: a delete for Calgary, still an upsert elsewhere.
            etag = client.get(
                f"/api/v1/articles/{both['slug']}", headers=editing.auth("editor")
            ).headers["etag"]
            patched = client.patch(
                f"/api/v1/articles/{both['slug']}",
                json={"clinics": ["edmonton"]},
                headers={**editing.auth("editor"), "If-Match": etag},
            )
            assert patched.status_code == 200, patched.text
            step(client, editing, both["slug"], "publish", patched.headers["etag"])
            wait_for(lambda: "entry.unpublished" in receiver.types(both["slug"]))
            wait_for(lambda: len(everything.types(both["slug"])) >= 2 + 2 + 2)
            # Anything after this would have arrived by the time its cache.purge did.
            publish_article(client, editing, "A marker for Calgary")
            wait_for(lambda: receiver.types("a-marker-for-calgary") == ["entry.published"])

        # Calgary never heard of the Edmonton-only article, nor of drafts or purges.
        assert receiver.messages(edmonton_only["slug"]) == []
        assert receiver.types(both["slug"]) == ["entry.published", "entry.unpublished"]
        left = receiver.messages(both["slug"])[1].message["data"]
        assert left["left_clinics"] == ["calgary"]
        assert left["clinics"] == ["edmonton"]
        assert left["action"] == "publish"
        # The subscriber of everything saw it stay published, having left Calgary.
        published = [
            r.message["data"] for r in everything.messages(both["slug"])
            if r.message["type"] == "entry.published"
        ]  # fmt: skip
        assert published[-1]["left_clinics"] == ["calgary"]
        assert "entry.unpublished" not in everything.types(both["slug"])
        assert "entry.created" in everything.types(edmonton_only["slug"])
        assert "entry.updated" in everything.types(both["slug"])
    finally:
        everything.stop()
        assert everything.unverified == []


def test_unpublishing_and_deleting(editing: Editing, receiver: Receiver) -> None:
    receiver.start()
    with TestClient(create_app(editing.settings(**FAST))) as client:
        subscribe(client, editing, receiver, clinics=["calgary"])
        article = publish_article(client, editing, "Short lived")
        slug = article["slug"]
        wait_for(lambda: "cache.purge" in receiver.types(slug))
        etag = client.get(f"/api/v1/articles/{slug}", headers=editing.auth("editor")).headers[
            "etag"
        ]
        _doc, etag = step(client, editing, slug, "unpublish", etag)
        deleted = client.delete(
            f"/api/v1/articles/{slug}", headers={**editing.auth("editor"), "If-Match": etag}
        )
        assert deleted.status_code == 204, deleted.text
        # Deliveries run concurrently: any of the four may land last.
        wait_for(
            lambda: (
                "entry.deleted" in (seen := receiver.types(slug))
                and "entry.unpublished" in seen
                and seen.count("cache.purge") >= 2
            )
        )
        types = receiver.types(slug)
        assert types.count("entry.unpublished") == 1
        assert types.count("cache.purge") == 2
        gone = next(r for r in receiver.messages(slug) if r.message["type"] == "entry.unpublished")
        assert gone.message["data"]["action"] == "unpublish"
        assert gone.message["data"]["left_clinics"] == ["calgary"]


def test_a_receiver_that_is_down_then_comes_up(editing: Editing, receiver: Receiver) -> None:
    # Nothing listens on the receiver's port yet.
    with TestClient(create_app(editing.settings(**FAST))) as client:
        endpoint = subscribe(client, editing, receiver, events=["entry.published"])
        slug = publish_article(client, editing, "Delivered late")["slug"]

        def failed_twice() -> dict[str, Any] | None:
            found = log_of(client, editing, endpoint["id"], slug, "entry.published")
            return found if found and len(found["attempt_log"]) >= 2 else None

        failing = wait_for(failed_twice)
        assert failing["status"] == "pending"
        assert failing["last_status_code"] is None
        assert failing["last_error"]
        assert failing["next_attempt_at"] is not None
        for attempt in failing["attempt_log"]:
            assert attempt["status_code"] is None
            assert "Connect" in attempt["error"], attempt

        receiver.start()
        wait_for(lambda: receiver.types(slug) == ["entry.published"])
        done = wait_for(
            lambda: (
                (d := log_of(client, editing, endpoint["id"], slug, "entry.published"))
                and d["status"] == "delivered"
                and d
            )
        )
    log_lines = done["attempt_log"]
    assert [a["number"] for a in log_lines] == list(range(1, len(log_lines) + 1))
    assert all(a["status_code"] is None for a in log_lines[:-1])
    assert log_lines[-1]["status_code"] == 204
    assert log_lines[-1]["error"] is None
    assert done["attempts"] == len(log_lines) >= 3
    assert done["last_error"] is None
    assert done["next_attempt_at"] is None
    assert receiver.messages(slug)[0].headers["webhook-id"] == done["id"]


def test_a_500_is_retried_with_the_same_id(editing: Editing, receiver: Receiver) -> None:
    receiver.answers = [500, 503]
    receiver.start()
    with TestClient(create_app(editing.settings(**FAST))) as client:
        endpoint = subscribe(client, editing, receiver, events=["entry.published"])
        slug = publish_article(client, editing, "Third time lucky")["slug"]
        wait_for(lambda: len(receiver.messages(slug)) == 3)
        done = wait_for(
            lambda: (
                (d := log_of(client, editing, endpoint["id"], slug, "entry.published"))
                and d["status"] == "delivered"
                and d
            )
        )
    assert [a["status_code"] for a in done["attempt_log"]] == [500, 503, 204]
    ids = {r.headers["webhook-id"] for r in receiver.messages(slug)}
    assert ids == {done["id"]}
    # Each attempt is signed anew; the body is the same.
    assert len({r.body for r in receiver.messages(slug)}) == 1


def test_giving_up_then_redelivering_by_hand(editing: Editing, receiver: Receiver) -> None:
    receiver.default = 500
    receiver.start()
    settings = editing.settings(webhook_poll_interval=0.05, webhook_retry_schedule=(0.05, 0.05))
    with TestClient(create_app(settings)) as client:
        endpoint = subscribe(client, editing, receiver, events=["entry.published"])
        slug = publish_article(client, editing, "Given up on")["slug"]
        failed = wait_for(
            lambda: (
                (d := log_of(client, editing, endpoint["id"], slug, "entry.published"))
                and d["status"] == "failed"
                and d
            )
        )
        # The first try and one per retry of the schedule, then no more.
        assert [a["status_code"] for a in failed["attempt_log"]] == [500, 500, 500]
        assert failed["next_attempt_at"] is None
        # Each attempt is logged after its answer came, and a failed delivery
        # is never claimed again: the receiver has all it will get.
        assert len(receiver.messages(slug)) == 3

        receiver.default = 200
        path = f"{API}/{endpoint['id']}/deliveries/{failed['id']}/redeliver"
        assert client.post(path, headers=editing.auth("editor")).status_code == 403
        response = client.post(path, headers=editing.auth("admin"))
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "pending"
        done = wait_for(
            lambda: (
                (d := log_of(client, editing, endpoint["id"], slug, "entry.published"))
                and d["status"] == "delivered"
                and d
            )
        )
        assert [(a["status_code"], a["trigger"]) for a in done["attempt_log"]] == [
            (500, "auto"), (500, "auto"), (500, "auto"), (200, "manual"),
        ]  # fmt: skip
        assert receiver.messages(slug)[-1].headers["webhook-id"] == failed["id"]

        # A delivered message can be sent again too; it keeps its id.
        assert client.post(path, headers=editing.auth("admin")).status_code == 202
        wait_for(lambda: len(receiver.messages(slug)) == 5)
        assert {r.headers["webhook-id"] for r in receiver.messages(slug)} == {failed["id"]}

        missing = client.post(
            f"{API}/{endpoint['id']}/deliveries/msg_nope/redeliver", headers=editing.auth("admin")
        )
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")


def test_410_disables_the_endpoint_until_it_is_enabled(
    editing: Editing, receiver: Receiver
) -> None:
    receiver.answers = [410]
    receiver.start()
    with TestClient(create_app(editing.settings(**FAST))) as client:
        endpoint = subscribe(client, editing, receiver, events=["entry.published"])
        first = publish_article(client, editing, "Gone")["slug"]
        wait_for(
            lambda: (
                client.get(f"{API}/{endpoint['id']}", headers=editing.auth("admin")).json()[
                    "status"
                ]
                == "disabled"
            )
        )
        info = client.get(f"{API}/{endpoint['id']}", headers=editing.auth("admin")).json()
        assert "410" in info["disabled_reason"]
        assert info["disabled_at"] is not None
        gone = log_of(client, editing, endpoint["id"], first, "entry.published")
        assert gone is not None
        assert gone["status"] == "cancelled"
        assert [a["status_code"] for a in gone["attempt_log"]] == [410]

        # Disabled: nothing more is sent, nor queued, once the dispatcher has
        # passed the change.
        second = publish_article(client, editing, "Not sent")["slug"]
        last = client.get("/api/v1/changes?limit=1").json()["last_seq"]
        wait_for(lambda: dispatched_seq(editing) >= last)
        assert receiver.types(second) == []
        assert log_of(client, editing, endpoint["id"], second, "entry.published") is None
        redeliver = client.post(
            f"{API}/{endpoint['id']}/deliveries/{gone['id']}/redeliver",
            headers=editing.auth("admin"),
        )
        assert redeliver.status_code == 409

        enabled = client.post(f"{API}/{endpoint['id']}/enable", headers=editing.auth("admin"))
        assert enabled.status_code == 200, enabled.text
        assert enabled.json()["status"] == "enabled"
        assert enabled.json()["disabled_reason"] is None
        third = publish_article(client, editing, "Sent again")["slug"]
        wait_for(lambda: receiver.types(third) == ["entry.published"])
        assert receiver.types(second) == []


def test_a_receiver_that_trickles_its_answer_times_out_as_a_whole(
    editing: Editing, receiver: Receiver
) -> None:
    """httpx's timeout is per read; an attempt must end within the timeout in all, so it
    ends before its claim does and no other runner sends it meanwhile."""
    stop = threading.Event()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", receiver.port))
    listener.listen()
    listener.settimeout(0.1)

    def trickle() -> None:
        while not stop.is_set():
            try:
                connection, _address = listener.accept()
            except TimeoutError:
                continue
            # The sender hangs up when its timeout ends: that is what is tested.
            with connection, contextlib.suppress(BrokenPipeError, ConnectionResetError):
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                # One byte every 0.2 s: no read waits a second, the whole takes 4 s.
                for _ in range(20):
                    if stop.is_set():
                        break
                    connection.sendall(b"x")
                    time.sleep(0.2)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        settings = editing.settings(**FAST, webhook_timeout=1.0)
        with TestClient(create_app(settings)) as client:
            endpoint = subscribe(client, editing, receiver, events=["entry.published"])
            article = publish_article(client, editing, "Slow answers")

            def first_attempt() -> dict[str, Any] | None:
                found = log_of(client, editing, endpoint["id"], article["slug"], "entry.published")
                return found["attempt_log"][0] if found and found["attempt_log"] else None

            attempt = wait_for(first_attempt)
            assert attempt["status_code"] is None
            assert "timed out" in attempt["error"]
            assert attempt["duration_ms"] < 2500, attempt
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_a_forged_cursor_with_a_huge_number_is_a_problem(
    client: TestClient[Any], editing: Editing
) -> None:
    created = client.post(
        API, json={"url": "https://example.com/hooks"}, headers=editing.auth("admin")
    ).json()
    forged = pack(f"deliveries:{created['id']}", 10**20, "entry.published")
    response = client.get(
        f"{API}/{created['id']}/deliveries?cursor={forged}", headers=editing.auth("admin")
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["name"] == "cursor"
