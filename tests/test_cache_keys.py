"""Surrogate keys agree: what a ``cache.purge`` event names is what the public reads carry.

A CDN purges a cached response only when the purge names a key the response
carried in ``Surrogate-Key``, spelled the same. Both come from
:mod:`cms.syndication.cache_keys`; this test reads them where a CDN would: the
headers of the public reads, and the payload of the event (from the endpoint's
delivery log, so no receiver has to be up).
"""

from __future__ import annotations

import socket
from typing import Any

from litestar.testing import TestClient

from cms.app import create_app
from tests.conftest import Editing, create_article, step, wait_for

API = "/api/v1"


def purge_event(client: TestClient[Any], editing: Editing, endpoint_id: str, slug: str) -> Any:
    """The payload of the ``cache.purge`` event about ``slug``, once it is in the log."""
    response = client.get(
        f"{API}/webhooks/{endpoint_id}/deliveries?limit=100", headers=editing.auth("admin")
    )
    assert response.status_code == 200, response.text
    for delivery in response.json()["data"]:
        payload = delivery["payload"]
        if payload["type"] == "cache.purge" and payload["data"]["entry"]["slug"] == slug:
            return payload
    return None


def test_a_purge_names_the_key_of_every_public_read_of_the_entry(editing: Editing) -> None:
    # An address nothing answers on: the event is in the log whether or not it arrives.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/hooks"
        settings = editing.settings(webhook_poll_interval=0.05)
        with TestClient(create_app(settings)) as client:
            subscribed = client.post(
                f"{API}/webhooks",
                json={"url": url, "events": ["cache.purge"]},
                headers=editing.auth("admin"),
            )
            assert subscribed.status_code == 201, subscribed.text
            draft, etag = create_article(client, editing, "Surrogate keys and sciatica")
            article, _etag = step(client, editing, draft["slug"], "publish", etag)
            slug, entry_id = article["slug"], article["id"]

            event = wait_for(lambda: purge_event(client, editing, subscribed.json()["id"], slug))
            purged = event["data"]["surrogate_keys"]

            # Each public read that can show the change, and the key that names it there.
            reads = {
                f"{API}/articles/{slug}": f"entry:{entry_id}",
                f"{API}/articles": "list:article",
                f"{API}/clinics/calgary/feed.json": "list:article",
                f"{API}/articles/{slug}/backlinks": f"backlinks:{entry_id}",
                # A new link shows in the backlinks of the entry it points to.
                f"{API}/conditions/sciatica/backlinks": "backlinks",
                f"{API}/search?q=surrogate": "search",
                f"{API}/links/broken": "links:broken",
                f"{API}/changes": "changes",
            }
            for path, key in reads.items():
                response = client.get(path)
                assert response.status_code == 200, (path, response.text)
                carried = response.headers["surrogate-key"].split()
                assert key in carried, (path, carried)
                assert key in purged, (path, purged)
            # Where the entry itself is shown beside others, it is named by the same key.
            for path in (f"{API}/search?q=surrogate", f"{API}/clinics/calgary/feed.json"):
                assert f"entry:{entry_id}" in client.get(path).headers["surrogate-key"].split()
