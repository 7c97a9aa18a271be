"""Where webhooks are delivered from: servers, `cms worker`, several at once, across restarts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from cms.app import create_app
from tests.conftest import Editing, wait_for
from tests.test_webhooks import (
    API,
    FAST,
    Receiver,
    fixture_receiver,  # noqa: F401  (the `receiver` fixture)
    log,
    log_of,
    publish_article,
    subscribe,
)

CMS = str(Path(sys.executable).parent / "cms")


@contextmanager
def cms_worker(url: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`cms worker` on ``url``, stopped with SIGTERM (as a service manager would) at the end."""
    env = {
        **os.environ,
        "CMS_DATABASE_URL": url,
        "CMS_WEBHOOK_POLL_INTERVAL": "0.05",
        "CMS_WEBHOOK_RETRY_SCHEDULE": ",".join(["0.1"] * 40),
    }
    with (tmp_path / "worker.log").open("wb") as output:
        worker = subprocess.Popen([CMS, "worker"], env=env, stdout=output, stderr=output)
        try:
            yield worker
        finally:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
                raise


def worker_output(tmp_path: Path) -> str:
    return (tmp_path / "worker.log").read_text()


def all_delivered(client: TestClient[Any], editing: Editing, endpoint_id: str, count: int) -> Any:
    """The log, once it holds ``count`` or more deliveries and all are delivered."""
    entries = log(client, editing, endpoint_id)
    done = len(entries) >= count and all(d["status"] == "delivered" for d in entries)
    return entries if done else None


def messages_since(client: TestClient[Any], editing: Editing, start: int) -> int:
    """How many messages the changes after ``start`` make for an endpoint that wants
    everything: one per change, two per published change (with its cache.purge)."""
    made = client.get(
        f"/api/v1/changes?since={start}&state=all&limit=1000", headers=editing.auth("admin")
    ).json()["data"]
    return sum(2 if c["state"] == "published" else 1 for c in made)


def test_two_servers_and_a_worker_send_each_attempt_once(
    editing: Editing, receiver: Receiver, tmp_path: Path
) -> None:
    # Every message fails a few times first, so the runners race on retries too.
    receiver.answers = [500] * 6
    receiver.start()
    first = TestClient(create_app(editing.settings(**FAST)))
    second = TestClient(create_app(editing.settings(**FAST)))
    with first, second, cms_worker(editing.url, tmp_path):
        endpoint = subscribe(first, editing, receiver)
        start = first.get("/api/v1/changes?limit=1").json()["last_seq"]
        slugs = [
            publish_article(client, editing, f"Raced article {n}")["slug"]
            for n, client in enumerate([first, second, first, second, first, second])
        ]
        # Each article: its draft, its publication and the purge (and refreshes
        # of the entries that show it).
        expected = messages_since(first, editing, start)
        assert expected >= 3 * len(slugs)
        wait_for(lambda: all_delivered(first, editing, endpoint["id"], expected), timeout=60)
        entries = log(first, editing, endpoint["id"])
        assert len(entries) == expected
    # Every runner has stopped: what the receiver holds now is all it will ever get.

    received = receiver.messages()
    ids = Counter(r.headers["webhook-id"] for r in received)
    # Every message arrived, and each delivered once: one 2xx per webhook-id.
    assert set(ids) == {d["id"] for d in entries}
    successes = Counter(
        r.headers["webhook-id"] for r in received[6:]
    )  # after the six 500s, every request was answered 204
    assert all(n == 1 for n in successes.values()), successes
    # No attempt went twice: the receiver got exactly the attempts the log shows.
    answered = [a for d in entries for a in d["attempt_log"] if a["status_code"] is not None]
    assert sum(ids.values()) == len(answered) == len(entries) + 6
    for slug in slugs:
        assert {"entry.created", "entry.published", "cache.purge"} <= set(receiver.types(slug))


def test_the_delivery_log_pages_newest_first(editing: Editing, receiver: Receiver) -> None:
    receiver.start()
    with TestClient(create_app(editing.settings(**FAST))) as client:
        endpoint = subscribe(client, editing, receiver)
        start = client.get("/api/v1/changes?limit=1").json()["last_seq"]
        for n in range(3):
            publish_article(client, editing, f"Logged article {n}")
        expected = messages_since(client, editing, start)
        assert expected >= 12
        whole = wait_for(lambda: all_delivered(client, editing, endpoint["id"], expected))
        assert len(whole) == expected
        pages: list[dict[str, Any]] = []
        url = f"{API}/{endpoint['id']}/deliveries?limit=4"
        while True:
            page = client.get(url, headers=editing.auth("admin")).json()
            assert len(page["data"]) <= 4
            pages.extend(page["data"])
            if page["next_cursor"] is None:
                break
            url = f"{API}/{endpoint['id']}/deliveries?limit=4&cursor={page['next_cursor']}"
        bad = client.get(
            f"{API}/{endpoint['id']}/deliveries?cursor=nonsense", headers=editing.auth("admin")
        )
        unknown = client.get(
            f"{API}/{endpoint['id']}/deliveries?colour=red", headers=editing.auth("admin")
        )
    assert [d["id"] for d in pages] == [d["id"] for d in whole]
    keys = [(d["seq"], d["event"]) for d in pages]
    assert keys == sorted(keys, reverse=True)
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["name"] == "cursor"
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["name"] == "colour"


def test_with_delivery_worker_only_cms_worker_delivers(
    editing: Editing, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.start()
    settings = editing.settings(**FAST, webhook_delivery="worker")
    with TestClient(create_app(settings)) as client:
        endpoint = subscribe(client, editing, receiver, events=["entry.published"])
        slug = publish_article(client, editing, "Sent by the worker")["slug"]
        time.sleep(0.5)
        # The server did not deliver (nor even dispatch the change).
        assert receiver.messages() == []
        assert log(client, editing, endpoint["id"]) == []

        with cms_worker(editing.url, tmp_path) as worker:
            wait_for(lambda: receiver.types(slug) == ["entry.published"])
            delivered = wait_for(
                lambda: (
                    (d := log_of(client, editing, endpoint["id"], slug, "entry.published"))
                    and d["status"] == "delivered"
                    and d
                )
            )
        assert worker.returncode == 0, worker_output(tmp_path)
    assert delivered["attempts"] == 1
    assert "worker stopped" in worker_output(tmp_path)


def test_deliveries_survive_a_restart(editing: Editing, receiver: Receiver) -> None:
    # The receiver is down while the first server runs.
    with TestClient(create_app(editing.settings(**FAST))) as client:
        endpoint = subscribe(client, editing, receiver, events=["entry.published"])
        slug = publish_article(client, editing, "Outlived its server")["slug"]
        failing = wait_for(
            lambda: (
                (d := log_of(client, editing, endpoint["id"], slug, "entry.published"))
                and d["attempt_log"]
                and d
            )
        )
    assert failing["status"] == "pending"
    assert receiver.messages() == []

    receiver.start()
    with TestClient(create_app(editing.settings(**FAST))) as client:
        wait_for(lambda: receiver.types(slug) == ["entry.published"])
        delivered = wait_for(
            lambda: (
                (d := log_of(client, editing, endpoint["id"], slug, "entry.published"))
                and d["status"] == "delivered"
                and d
            )
        )
    assert receiver.messages(slug)[0].headers["webhook-id"] == failing["id"] == delivered["id"]
    assert delivered["attempt_log"][-1]["status_code"] == 204
    assert all(a["status_code"] is None for a in delivered["attempt_log"][:-1])
