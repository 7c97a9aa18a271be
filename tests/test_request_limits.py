"""Limits on what one request may cost: the length and render time of a body, JSON nesting.

From an outside security audit (issue 15): a body of a million `[` kept the
server from answering anything for 16 s, and 10,000 nested `[` were a 500.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from cms.app import create_app
from cms.cli import main
from cms.http.bodies import MAX_JSON_DEPTH
from cms.settings import MAX_BODY_CHARS
from tests.conftest import Editing, create_article, read_entry_as, write_entry
from tests.servers import HTTP_TIMEOUT, QUIET, cms_serve
from tests.test_markdown import COSTLY, costly

ARTICLE = "/api/v1/articles/opioids-and-back-pain"
HEALTH_WITHIN = 0.1
"""Seconds `/health` may take to answer beyond what it takes on the idle server."""
STALLED = 1.0
"""Seconds no `/health` may take: rendering on the event loop stalled it for the
whole rendering, 2 to 16 s."""
SERVED = ("brackets", "images", "emphasis", "backticks", "quotes", "headings")
"""The costly bodies saved to a served app (each takes seconds): the audit's and the headings."""


def _problem(response: Any, status: int, name: str, reason: str = "") -> None:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = {e["name"]: e["reason"] for e in response.json()["errors"]}
    assert name in errors, response.text[:500]
    assert reason in errors[name], response.text[:500]


def _stored(client: TestClient[Any], editing: Editing) -> tuple[int, int, int, str]:
    """What a refused request must leave as it was: the newest change (working
    copies included), the tokens, the webhooks, and the article's ETag."""
    admin = editing.auth("admin")
    changes = client.get("/api/v1/changes?state=all&since=0&limit=1", headers=admin)
    assert changes.status_code == 200, changes.text
    return (
        changes.json()["last_seq"],
        len(client.get("/api/v1/tokens", headers=admin).json()["data"]),
        len(client.get("/api/v1/webhooks", headers=admin).json()["data"]),
        read_entry_as(client, editing, ARTICLE)[1],
    )


# --- Markdown bodies: the event loop stays free ----------------------------------


@pytest.fixture(name="served")
def fixture_served(editing: Editing, tmp_path: Path) -> Any:
    """`cms serve` on the ``editing`` database, with the default limits; its base URL."""
    env = {**os.environ, **QUIET, "CMS_DATABASE_URL": editing.url}
    with cms_serve(env, tmp_path / "server.log") as base:
        yield base


def _in_background(
    request: Callable[[], httpx.Response],
) -> tuple[threading.Thread, dict[str, httpx.Response]]:
    """``request()`` started in a thread; the thread, and where its response will be."""
    answer: dict[str, httpx.Response] = {}
    thread = threading.Thread(target=lambda: answer.setdefault("response", request()))
    thread.start()
    return thread, answer


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def test_health_answers_within_100_ms_while_the_costliest_bodies_are_saved(
    served: str, editing: Editing
) -> None:
    """`/health` is asked again and again, over HTTP, for as long as each save takes.

    A strict "every answer within 100 ms" would fail on a busy 2-core machine
    whatever the server does: there the idle server's `/health` takes 45 ms
    typically and 200 ms now and then. So: nine in ten answers within 100 ms
    of the idle server's typical one, and none stalled a second.
    """
    with (
        httpx.Client(base_url=served, timeout=HTTP_TIMEOUT) as probe,
        httpx.Client(base_url=served, timeout=HTTP_TIMEOUT) as author,
    ):

        def ask() -> float:
            started = time.perf_counter()
            assert probe.get("/health").status_code == 200
            return time.perf_counter() - started

        idle = _quantile([ask() for _ in range(100)], 0.5)
        during: dict[str, list[float]] = {}
        for name in SERVED:
            saving, saved = _in_background(
                functools.partial(
                    author.post,
                    "/api/v1/articles",
                    json={"title": f"Costly {name}", "clinics": ["calgary"],
                          "body": costly(COSTLY[name])},
                    headers=editing.auth("author"),
                )
            )  # fmt: skip
            latencies = during[name] = []
            while saving.is_alive():
                latencies.append(ask())
            saving.join()
            # Rendered, or refused for taking more than its time: never a 500.
            if saved["response"].status_code != 201:
                _problem(saved["response"], 422, "body", "to render")
            assert latencies, f"{name}: the save was over before /health was asked"
            slowest = max(latencies)
            assert slowest < STALLED, f"{name}: /health took {slowest:.3f} s"
    every = [latency for latencies in during.values() for latency in latencies]
    assert len(every) >= 5 * len(SERVED), "the saves were too quick to tell anything"
    typical = _quantile(every, 0.9)
    assert typical < idle + HEALTH_WITHIN, (
        f"9 in 10 /health answers took up to {typical:.3f} s during the saves, "
        f"{idle:.3f} s on the idle server"
    )


def test_a_body_longer_than_the_limit_is_refused_naming_it(
    client: TestClient[Any], editing: Editing
) -> None:
    before = _stored(client, editing)
    longest = client.post(
        "/api/v1/articles",
        json={"title": "Longest", "body": "x" * MAX_BODY_CHARS},
        headers=editing.auth("author"),
    )
    assert longest.status_code == 201, longest.text[:300]
    before = (before[0] + 1, *before[1:])  # the one change that was made
    too_long = client.post(
        "/api/v1/articles",
        json={"title": "Too long", "body": "x" * (MAX_BODY_CHARS + 1)},
        headers=editing.auth("author"),
    )
    _problem(too_long, 422, "body", f"at most {MAX_BODY_CHARS} are allowed")
    _doc, etag = read_entry_as(client, editing, ARTICLE)
    patched = client.patch(
        ARTICLE,
        json={"body": "[" * (MAX_BODY_CHARS + 1)},
        headers={**editing.auth("editor"), "If-Match": etag},
    )
    _problem(patched, 422, "body", f"is {MAX_BODY_CHARS + 1} characters long")
    assert _stored(client, editing) == before


def test_a_body_that_takes_longer_than_its_time_to_render_is_refused(editing: Editing) -> None:
    # "[" * 200,000 takes seconds of CPU to parse: far over 0.05 s on any machine.
    with TestClient(create_app(editing.settings(max_render_seconds=0.05))) as client:
        before = _stored(client, editing)
        response = client.post(
            "/api/v1/articles",
            json={"title": "Brackets", "body": costly("[")},
            headers=editing.auth("author"),
        )
        _problem(response, 422, "body", "takes more than 0.05 s to render")
        assert _stored(client, editing) == before
        # An ordinary body is well within it.
        create_article(client, editing, "Ordinary", body="## About\n\nA *short* body.")


def test_content_load_keeps_to_the_same_limit(database_url: str, tmp_path: Path) -> None:
    path = write_entry(tmp_path, "clinics", "banff", "x" * 1001, title="Banff")
    env = {"CMS_DATABASE_URL": database_url, "CMS_MAX_BODY_CHARS": "1000"}
    result = CliRunner().invoke(main, ["content", "load", str(tmp_path)], env=env)
    assert result.exit_code == 1
    assert f"{path}: body: is 1001 characters long; at most 1000 are allowed" in result.output
    assert "nothing was written" in result.output


# --- Request JSON: nesting -------------------------------------------------------


def _nested_objects(depth: int, leaf: Any = 1) -> str:
    """``{"a": {"a": ... leaf}}``, ``depth`` objects deep."""
    return '{"a": ' * depth + str(leaf) + "}" * depth


DEEP = {
    "unclosed-arrays": "[" * 10_000,
    "arrays": "[" * 10_000 + "]" * 10_000,
    "objects": _nested_objects(10_000),
    # Within the decoder's own limit (which the stack above it lowers: 980
    # deep was a 500 here), so refused by ours.
    "objects-900": _nested_objects(900),
    "one-too-deep": '{"title": "Deep", "seo": ' + _nested_objects(MAX_JSON_DEPTH) + "}",
}
# Every kind of route that takes a body, with its media type.
BODY_ROUTES = {
    "create": ("POST", "/api/v1/articles", "application/json"),
    "create-plugin-type": ("POST", "/api/v1/case-stories", "application/json"),
    "merge-patch": ("PATCH", ARTICLE, "application/merge-patch+json"),
    "patch-as-json": ("PATCH", ARTICLE, "application/json"),
    "publish": ("POST", f"{ARTICLE}/publish", "application/json"),
    "preview": ("POST", f"{ARTICLE}/preview", "application/json"),
    "token": ("POST", "/api/v1/tokens", "application/json"),
    "webhook": ("POST", "/api/v1/webhooks", "application/json"),
}


@pytest.mark.parametrize("route", list(BODY_ROUTES))
def test_json_nested_too_deep_is_a_400_on_every_route_and_stores_nothing(
    client: TestClient[Any], editing: Editing, route: str
) -> None:
    method, path, media_type = BODY_ROUTES[route]
    before = _stored(client, editing)
    for name, body in DEEP.items():
        response = client.request(
            method,
            path,
            content=body.encode(),
            headers={**editing.auth("admin"), "Content-Type": media_type, "If-Match": before[3]},
        )
        assert response.status_code == 400, f"{name}: {response.status_code} {response.text[:300]}"
        _problem(response, 400, "(body)", f"nests more than {MAX_JSON_DEPTH} deep")
    assert _stored(client, editing) == before


def test_json_as_deep_as_the_limit_is_read(client: TestClient[Any], editing: Editing) -> None:
    # 64 deep: read, then refused for what it says (`seo` has no field `a`).
    deepest = '{"title": "Deep", "seo": ' + _nested_objects(MAX_JSON_DEPTH - 1) + "}"
    response = client.post(
        "/api/v1/articles",
        content=deepest.encode(),
        headers={**editing.auth("author"), "Content-Type": "application/json"},
    )
    _problem(response, 422, "seo.a")


# --- PATCH needs a body ----------------------------------------------------------


@pytest.mark.parametrize("body", [None, b"", b"  \n"], ids=["none", "empty", "blank"])
def test_a_patch_without_a_body_is_a_400_naming_it(
    client: TestClient[Any], editing: Editing, body: bytes | None
) -> None:
    _doc, etag = read_entry_as(client, editing, ARTICLE)
    headers = {**editing.auth("editor"), "If-Match": etag}
    if body is not None:
        headers["Content-Type"] = "application/merge-patch+json"
    response = client.patch(ARTICLE, content=body, headers=headers)
    _problem(response, 400, "(body)", "is missing")
    assert read_entry_as(client, editing, ARTICLE)[1] == etag


def test_an_empty_merge_patch_changes_nothing(client: TestClient[Any], editing: Editing) -> None:
    doc, etag = read_entry_as(client, editing, ARTICLE)
    response = client.patch(
        ARTICLE,
        content=b"{}",
        headers={**editing.auth("editor"), "If-Match": etag,
                 "Content-Type": "application/merge-patch+json"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == etag
    assert response.json()["version"] == doc["version"]
