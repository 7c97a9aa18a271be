"""Metrics at /metrics, request ids, JSON logs and the access log, over HTTP.

The metrics are read as Prometheus reads them (prometheus-client's own parser),
and compared before and after the requests a test makes, so that tests sharing
a server never see each other's counts. The logs are those of `cms serve` in a
process of its own (:mod:`tests.servers`), read back line by line.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from alembic.script import ScriptDirectory
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from cms.app import create_app
from cms.logs import JsonFormatter, TextFormatter
from cms.settings import Settings
from cms.storage.migrate import alembic_config
from cms.testing import QUIET
from tests.conftest import (
    FIRST_PARTY_PLUGINS,
    Editing,
    ManualClock,
    create_article,
    serving,
    step,
    wait_for,
)
from tests.servers import HTTP_TIMEOUT, cms_serve
from tests.servers import QUIET as QUIET_ENV
from tests.test_webhooks import Receiver, fixture_receiver, free_port, subscribe

__all__ = ["fixture_receiver"]  # the webhook tests' receiver, a fixture here too

ARTICLE_SLUG = "causes-of-low-back-pain-and-sciatica"
ARTICLE = f"/api/v1/articles/{ARTICLE_SLUG}"
ENTRY_ROUTE = "/api/v1/articles/{slug}"
MADE_ID = re.compile(r"^[0-9a-f]{32}$")
PLUGINS_ENV = {"CMS_PLUGINS": ",".join(FIRST_PARTY_PLUGINS)}


# --- Reading metrics ------------------------------------------------------------------


def scrape(base: str, **headers: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``GET /metrics``, by name and labels."""
    response = httpx.get(f"{base}/metrics", headers=headers, timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text
    return parse(response.text)


def parse(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
          **labels: str) -> float:  # fmt: skip
    """One sample's value; 0 when the series does not exist (yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests_of(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], method: str,
                route: str, status: int) -> float:  # fmt: skip
    return value(samples, "cms_http_requests_total", method=method, route=route, status=str(status))


def get(base: str, path: str, **headers: str) -> httpx.Response:
    """One GET over a connection of its own (``If_None_Match=`` sends ``If-None-Match``)."""
    sent = {name.replace("_", "-"): v for name, v in headers.items()}
    return httpx.get(f"{base}{path}", headers=sent, timeout=HTTP_TIMEOUT)


@pytest.fixture(name="base", scope="module")
def fixture_base(demo_url: str) -> Iterator[str]:
    """The demo, served over HTTP by uvicorn (read only: tests compare counts before and after)."""
    with serving(demo_url, {**PLUGINS_ENV, "CMS_CORS_ORIGINS": "https://app.example"}) as base:
        yield base


# --- Requests and the response cache ------------------------------------------------------


def test_requests_are_counted_by_route_template_never_by_path(base: str) -> None:
    before = scrape(base)
    assert get(base, ARTICLE).status_code == 200
    assert get(base, ARTICLE).status_code == 200
    assert get(base, "/api/v1/articles/no-such-article-zq7").status_code == 404
    assert get(base, "/no/such/place-zq7").status_code == 404
    assert httpx.head(f"{base}/api/v1/articles", timeout=HTTP_TIMEOUT).status_code == 200
    assert httpx.request("PROPFIND", f"{base}/health", timeout=HTTP_TIMEOUT).status_code == 405
    response = httpx.get(f"{base}/metrics", timeout=HTTP_TIMEOUT)
    after = parse(response.text)

    def moved(method: str, route: str, status: int) -> float:
        return requests_of(after, method, route, status) - requests_of(
            before, method, route, status
        )

    assert moved("GET", ENTRY_ROUTE, 200) == 2
    assert moved("GET", ENTRY_ROUTE, 404) == 1
    assert moved("GET", "unmatched", 404) == 1
    assert moved("HEAD", "/api/v1/articles", 200) == 1
    assert moved("other", "unmatched", 405) == 1  # an unknown method is no label of its own
    latency = "cms_http_request_duration_seconds_count"
    assert value(after, latency, method="GET", route=ENTRY_ROUTE) - value(
        before, latency, method="GET", route=ENTRY_ROUTE
    ) == 3  # fmt: skip
    # No series names a path: not the missing slug, not the unknown place.
    assert "zq7" not in response.text
    assert "PROPFIND" not in response.text
    # Scraping counts nothing: no series of its own, and two scrapes in a row agree.
    assert 'route="/metrics"' not in response.text
    again = scrape(base)
    assert {k: v for k, v in again.items() if k[0] == "cms_http_requests_total"} == {
        k: v for k, v in after.items() if k[0] == "cms_http_requests_total"
    }
    # Never stored by a cache, and never from the response cache.
    assert response.headers["cache-control"] == "no-store"
    assert "surrogate-key" not in response.headers
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"


def test_response_cache_hits_and_misses_are_counted(base: str) -> None:
    path = "/api/v1/articles?limit=3&sort=title&tag=sciatica"
    before = scrape(base)
    assert get(base, path).status_code == 200
    middle = scrape(base)
    assert get(base, path).status_code == 200
    assert get(base, path).status_code == 200
    after = scrape(base)
    misses, hits = "cms_response_cache_misses_total", "cms_response_cache_hits_total"
    assert value(middle, misses) - value(before, misses) == 1
    assert value(middle, hits) - value(before, hits) == 0
    assert value(after, misses) - value(middle, misses) == 0
    assert value(after, hits) - value(middle, hits) == 2


def test_the_database_pool_is_reported(base: str) -> None:
    samples = scrape(base)
    assert value(samples, "cms_db_pool_size") == 5  # SQLAlchemy's default, one process
    assert value(samples, "cms_db_pool_checked_out") >= 0
    assert value(samples, "cms_db_pool_idle") >= 1  # the scrape's own query returned one
    assert value(samples, "cms_database_up") == 1


# --- Request ids ----------------------------------------------------------------------


def test_a_sane_request_id_is_echoed_on_every_kind_of_answer(base: str) -> None:
    given = {"X-Request-ID": "checkout-7f3a.b:c"}
    etag = get(base, ARTICLE).headers["etag"]
    answers = {
        "200": get(base, ARTICLE, **given),
        "304": get(base, ARTICLE, **given, If_None_Match=etag),
        "HEAD": httpx.head(f"{base}{ARTICLE}", headers=given, timeout=HTTP_TIMEOUT),
        "404": get(base, "/api/v1/articles/nowhere", **given),
        "unmatched": get(base, "/nowhere", **given),
        "405": httpx.delete(f"{base}/health", headers=given, timeout=HTTP_TIMEOUT),
        "401": get(base, ARTICLE, **given, Authorization="Bearer cms_0000000000000000_nope"),
        "preflight": httpx.options(
            f"{base}{ARTICLE}",
            headers={
                **given,
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "GET",
            },
            timeout=HTTP_TIMEOUT,
        ),
        "metrics": get(base, "/metrics", **given),
        "ready": get(base, "/ready", **given),
    }
    assert answers["304"].status_code == 304
    assert answers["405"].status_code == 405
    assert answers["401"].status_code == 401
    for kind, answer in answers.items():
        assert answer.headers.get("x-request-id") == "checkout-7f3a.b:c", kind


def test_a_request_id_is_made_when_none_or_a_bad_one_is_sent(base: str) -> None:
    made = [get(base, ARTICLE).headers["x-request-id"] for _ in range(2)]
    for bad in ("x" * 129, "two words", "semi;colon", ""):
        made.append(get(base, ARTICLE, X_Request_ID=bad).headers["x-request-id"])
    assert all(MADE_ID.match(rid) for rid in made), made
    assert len(set(made)) == len(made)


def test_browsers_may_read_the_request_id(base: str) -> None:
    response = get(base, ARTICLE, Origin="https://app.example")
    exposed = [h.strip() for h in response.headers["access-control-expose-headers"].split(",")]
    assert "X-Request-ID" in exposed


# --- Logs -------------------------------------------------------------------------


@pytest.fixture(name="log_lines")
def fixture_log_lines(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """Every line logged at INFO or above while the test runs, in the format asked for."""
    formatter = JsonFormatter() if getattr(request, "param", "json") == "json" else TextFormatter()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_every_log_line_of_a_request_names_it(editing: Editing, log_lines: io.StringIO) -> None:
    with TestClient(create_app(editing.settings(**QUIET))) as client:
        bad = {"Authorization": "Bearer cms_0123456789abcdef_not-the-secret"}
        refused = client.get(ARTICLE, headers={**bad, "X-Request-ID": "refused-1"})
        assert refused.status_code == 401
        made = client.get(ARTICLE, headers=editing.auth("viewer")).headers["x-request-id"]
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    refusal = [line for line in lines if line.get("request_id") == "refused-1"]
    # The failed authentication and the access line, both naming the request.
    assert {line["logger"] for line in refusal} == {"cms.auth", "cms.access"}
    (access,) = [line for line in lines if line.get("request_id") == made]
    viewer_id = editing.secrets["viewer"].removeprefix("cms_").split("_")[0]
    assert access["token_id"] == viewer_id
    assert access["route"] == ENTRY_ROUTE
    assert access["status"] == 200
    assert "not-the-secret" not in log_lines.getvalue()
    # A token is cms_<id>_<secret>, and the secret's URL-safe alphabet has "_" in it.
    secret = editing.secrets["viewer"].removeprefix(f"cms_{viewer_id}_")
    assert len(secret) > 20
    assert secret not in log_lines.getvalue()


@pytest.mark.parametrize("log_lines", ["text"], indirect=True)
def test_text_lines_name_the_request_too(demo_url: str, log_lines: io.StringIO) -> None:
    settings = Settings(database_url=demo_url, plugins=FIRST_PARTY_PLUGINS, **QUIET)
    with TestClient(create_app(settings)) as client:
        client.get(ARTICLE, headers={"X-Request-ID": "text-1"})
    (line,) = [line for line in log_lines.getvalue().splitlines() if "[text-1]" in line]
    assert f" INFO cms.access [text-1]: GET {ARTICLE} 200 " in line
    assert "route=/api/v1/articles/{slug}" in line


def random_part(secret: str) -> str:
    """What is secret in a token (``cms_<public id>_<this>``) or a ``whsec_<this>``."""
    if secret.startswith("cms_"):
        return secret[len("cms_") + 17 :]
    return secret.removeprefix("whsec_")


def read_log(log: Path) -> list[dict[str, Any]]:
    """Every line of a server's log, each a JSON object (a line that is not fails)."""
    lines = []
    for raw in log.read_text().splitlines():
        if raw.strip():
            line = json.loads(raw)
            assert {"time", "level", "logger", "message", "pid"} <= line.keys(), raw
            lines.append(line)
    return lines


def test_a_served_process_logs_json_lines_and_never_a_secret(
    editing: Editing, tmp_path: Path
) -> None:
    """Every secret of a busy session, looked for in the whole log, at debug level."""
    env = {
        **os.environ, **PLUGINS_ENV,
        "CMS_DATABASE_URL": editing.url,
        "CMS_LOG_LEVEL": "debug",
        "CMS_SCHEDULER_INTERVAL": "0",
        "CMS_WEBHOOK_DELIVERY": "server",
        "CMS_WEBHOOK_POLL_INTERVAL": "0.05",
        "CMS_WEBHOOK_RETRY_SCHEDULE": "0.05",
    }  # fmt: skip
    log = tmp_path / "server.log"
    admin = editing.auth("admin")
    secrets = [editing.secrets["admin"]]
    with cms_serve(env, log) as base, httpx.Client(base_url=base, timeout=HTTP_TIMEOUT) as http:
        assert http.get(ARTICLE, headers={"X-Request-ID": "given-1"}).status_code == 200
        made = http.get("/api/v1/articles?limit=2").headers["x-request-id"]

        created = http.post("/api/v1/tokens", json={"name": "ci", "role": "editor"}, headers=admin)
        assert created.status_code == 201, created.text
        editor = created.json()
        secrets.append(editor["secret"])
        as_editor = {"Authorization": f"Bearer {editor['secret']}"}
        assert http.get(ARTICLE, headers=as_editor).status_code == 200

        # Failed authentications: a known id with a wrong secret, and no token at all.
        wrong = editing.secrets["admin"][: len("cms_") + 17] + "wrong-secret-zq7"
        secrets += [wrong, "not-a-token-zq7"]
        for presented in (wrong, "not-a-token-zq7"):
            refused = http.get(ARTICLE, headers={"Authorization": f"Bearer {presented}"})
            assert refused.status_code == 401

        # A webhook whose URL carries a key, sent to a port nothing listens on.
        hook_url = f"http://127.0.0.1:{free_port()}/hook?key=url-secret-zq7"
        secrets.append("url-secret-zq7")
        hook = http.post("/api/v1/webhooks", json={"url": hook_url}, headers=admin)
        assert hook.status_code == 201, hook.text
        secrets.append(hook.json()["secret"])

        # A preview link is a credential too.
        link = http.post(f"{ARTICLE}/preview", json={}, headers=admin)
        assert link.status_code == 200, link.text
        secrets.append(link.json()["token"])
        # The link's absolute form is CMS_PUBLIC_URL's; this server is on its own port.
        assert http.get(urlsplit(link.json()["url"]).path).status_code == 200

        # A change, so that the webhook is signed, attempted and given up.
        current = http.get(ARTICLE, headers=admin)
        changed = http.patch(
            ARTICLE, json={"summary": "Reviewed again."},
            headers={**admin, "If-Match": current.headers["etag"]},
        )  # fmt: skip
        assert changed.status_code == 200, changed.text
        deliveries = f"/api/v1/webhooks/{hook.json()['id']}/deliveries"
        wait_for(
            lambda: [d for d in http.get(deliveries, headers=admin).json()["data"]
                     if d["status"] == "failed"],
            message="the delivery was not given up",
        )  # fmt: skip

    lines = read_log(log)
    accesses = [line for line in lines if line["logger"] == "cms.access"]
    (given,) = [line for line in accesses if line.get("request_id") == "given-1"]
    assert given["method"] == "GET"
    assert given["route"] == ENTRY_ROUTE
    assert given["path"] == ARTICLE
    assert given["status"] == 200
    assert given["duration_ms"] > 0
    assert given["token_id"] is None
    assert [line["route"] for line in accesses if line.get("request_id") == made] == [
        "/api/v1/articles"
    ]
    editor_lines = [line for line in accesses if line.get("token_id") == editor["id"]]
    assert [line["path"] for line in editor_lines] == [ARTICLE]
    # Each request is one access line, whatever else it logged.
    ids = [line["request_id"] for line in accesses]
    assert len(ids) == len(set(ids))
    assert {line["logger"] for line in lines} >= {"uvicorn.error", "cms.access", "cms.auth"}

    whole = log.read_text()
    for secret in secrets:
        assert secret not in whole
        assert random_part(secret) not in whole
    assert "authorization" not in whole.lower()


# --- Several workers ----------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_each_worker_reports_the_requests_of_all(demo_url: str, tmp_path: Path) -> None:
    """`cms serve --workers 2`: whichever worker answers a scrape counts every worker's
    requests. (The metrics live in files, not in the database: one backend is enough.)"""
    env = {**os.environ, **QUIET_ENV, **PLUGINS_ENV, "CMS_DATABASE_URL": demo_url,
           "TMPDIR": str(tmp_path)}  # fmt: skip
    log = tmp_path / "server.log"
    with cms_serve(env, log, "--workers", "2") as base:
        (folder,) = tmp_path.glob("cms-metrics-*")  # where the workers keep their metrics
        sent = 0

        def answered_by_both() -> bool:
            nonlocal sent
            assert get(base, ARTICLE).status_code == 200
            sent += 1
            pids = {line["pid"] for line in read_log(log) if line["logger"] == "cms.access"}
            return len(pids) == 2

        wait_for(answered_by_both, message="one worker answered every request")
        for _ in range(4):  # each scrape may reach either worker
            samples = scrape(base)
            assert requests_of(samples, "GET", ENTRY_ROUTE, 200) == sent
        assert value(samples, "cms_db_pool_size") == 10  # five per worker
    assert not folder.exists()


# --- The database's gauges: webhooks and the scheduler ---------------------------------


def metrics_of(client: TestClient[Any]) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    return parse(response.text)


def test_scheduler_lag_is_how_long_the_oldest_due_entry_waits(editing: Editing) -> None:
    clock = ManualClock()
    with TestClient(create_app(editing.settings(**QUIET), clock=clock)) as client:
        draft, etag = create_article(client, editing, "Goes live later")
        at = (clock() + dt.timedelta(hours=1)).isoformat()
        step(client, editing, draft["slug"], "publish", etag, at=at)
        samples = metrics_of(client)
        assert value(samples, "cms_scheduler_overdue") == 0
        assert value(samples, "cms_scheduler_lag_seconds") == 0
        clock.advance(3 * 3600)  # no scheduler runs here: it is two hours late
        samples = metrics_of(client)
        assert value(samples, "cms_scheduler_overdue") == 1
        assert value(samples, "cms_scheduler_lag_seconds") == 2 * 3600


def test_webhook_backlog_retries_and_failures(editing: Editing, receiver: Receiver) -> None:
    receiver.default = 500
    receiver.start()
    # Undelivered: nothing sends, so the change waits to be dispatched.
    with TestClient(create_app(editing.settings(**QUIET))) as client:
        subscribe(client, editing, receiver, events=["entry.created"])
        draft, _etag = create_article(client, editing, "Hooked")
        samples = metrics_of(client)
        assert value(samples, "cms_webhook_undispatched_changes") >= 1
        assert value(samples, "cms_webhook_backlog") == 0
    # Sent and refused: the delivery waits an hour for its retry, then is given up.
    clock = ManualClock(dt.datetime.now(dt.UTC) + dt.timedelta(hours=3))
    settings = editing.settings(scheduler_interval=0, webhook_poll_interval=0.05,
                                webhook_retry_schedule=(3600,))  # fmt: skip
    with TestClient(create_app(settings, clock=clock)) as client:
        samples = wait_for(
            lambda: (m := metrics_of(client)) and value(m, "cms_webhook_retrying") == 1 and m,
            message="the delivery was not tried",
        )
        assert value(samples, "cms_webhook_undispatched_changes") == 0
        assert value(samples, "cms_webhook_backlog") == 1
        assert value(samples, "cms_webhook_failed") == 0
        # Its retry is due in an hour (±20 %); the app's clock is three hours on.
        assert 1.5 * 3600 < value(samples, "cms_webhook_delivery_lag_seconds") < 2.5 * 3600
    (message,) = receiver.messages()
    assert message.message["data"]["entry"]["slug"] == draft["slug"]


def test_given_up_deliveries_are_counted(editing: Editing, receiver: Receiver) -> None:
    receiver.default = 500
    receiver.start()
    settings = editing.settings(scheduler_interval=0, webhook_poll_interval=0.05,
                                webhook_retry_schedule=(0.05,))  # fmt: skip
    with TestClient(create_app(settings)) as client:
        subscribe(client, editing, receiver, events=["entry.created"])
        create_article(client, editing, "Given up")
        samples = wait_for(
            lambda: (m := metrics_of(client)) and value(m, "cms_webhook_failed") == 1 and m,
            message="the delivery was not given up",
        )
        assert value(samples, "cms_webhook_backlog") == 0
        assert value(samples, "cms_webhook_delivery_lag_seconds") == 0


# --- Who may read the metrics -------------------------------------------------------


def test_a_metrics_token_guards_the_metrics(demo_url: str) -> None:
    environ = {**PLUGINS_ENV, "CMS_METRICS_TOKEN": "scrape-zq7"}
    with serving(demo_url, environ) as base:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "scrape-zq7"}):
            refused = get(base, "/metrics", **headers)
            assert refused.status_code == 401
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert refused.headers["cache-control"] == "no-store"
        samples = scrape(base, Authorization="Bearer scrape-zq7")
        assert value(samples, "cms_database_up") == 1
        assert requests_of(samples, "GET", "/metrics", 401) == 0  # the route never counts


# --- Readiness -----------------------------------------------------------------------


def test_ready_names_each_dependency_running_here(editing: Editing) -> None:
    # The default settings: this process schedules and sends webhooks.
    with TestClient(create_app(editing.settings())) as client:
        response = client.get("/ready")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "status": "ready",
        "dependencies": {
            "database": {"status": "ok", "detail": ""},
            "migrations": {"status": "ok", "detail": ""},
            "redis": {"status": "off", "detail": "CMS_REDIS_URL is not set"},
            "scheduler": {"status": "ok", "detail": ""},
            "webhooks": {"status": "ok", "detail": ""},
        },
    }


def test_not_ready_until_the_database_is_upgraded(editing: Editing) -> None:
    script = ScriptDirectory.from_config(alembic_config(editing.url))
    (head,) = script.get_heads()
    previous = script.get_revision(head).down_revision
    assert isinstance(previous, str)

    async def step_back() -> None:
        engine = create_async_engine(editing.url)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    text("UPDATE alembic_version SET version_num = :v"), {"v": previous}
                )
        finally:
            await engine.dispose()

    asyncio.run(step_back())
    with TestClient(create_app(editing.settings(**QUIET))) as client:
        response = client.get("/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["cache-control"] == "no-store"
    problem = response.json()
    assert problem["detail"] == "Failing: migrations."
    assert problem["dependencies"]["database"] == {"status": "ok", "detail": ""}
    assert problem["dependencies"]["migrations"] == {
        "status": "failing", "detail": "not upgraded: run `cms db upgrade`",
    }  # fmt: skip


def test_not_ready_when_redis_is_configured_and_down(demo_url: str) -> None:
    settings = Settings(
        database_url=demo_url, plugins=FIRST_PARTY_PLUGINS,
        redis_url=f"redis://127.0.0.1:{free_port()}/0", **QUIET,
    )  # fmt: skip
    with TestClient(create_app(settings)) as client:
        started = time.monotonic()
        response = client.get("/ready")
        assert time.monotonic() - started < 10
    assert response.status_code == 503
    assert response.json()["dependencies"]["redis"]["status"] == "failing"
    assert response.json()["dependencies"]["database"]["status"] == "ok"


def test_ready_with_redis(demo_url: str) -> None:
    redis_url = os.environ.get("CMS_TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("CMS_TEST_REDIS_URL is not set")
    settings = Settings(
        database_url=demo_url, plugins=FIRST_PARTY_PLUGINS, redis_url=redis_url, **QUIET
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json()["dependencies"]["redis"] == {"status": "ok", "detail": ""}
