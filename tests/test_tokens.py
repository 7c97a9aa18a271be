"""Tokens: the CLI and the admin API, hashing at rest, expiry, revocation, rate limits."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import uuid
from typing import Any

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient
from sqlalchemy import text

from cms.app import create_app
from cms.cli import main
from cms.storage.db import create_engine
from tests.conftest import Editing, ManualClock

REDIS_URL = os.environ.get("CMS_TEST_REDIS_URL", "")


def _rows(url: str, query: str, **params: Any) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(text(query), params)).all())
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_cli_prints_the_secret_once_and_stores_only_its_hash(editing: Editing) -> None:
    runner = CliRunner()
    env = {"CMS_DATABASE_URL": editing.url}
    created = runner.invoke(
        main,
        ["tokens", "create", "--name", "laptop", "--role", "editor", "--clinic", "calgary"],
        env=env,
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("cms_")
    assert "only now" in created.stderr
    token_id, _, random_part = secret.removeprefix("cms_").partition("_")
    assert len(random_part) >= 43  # 32 random bytes, URL-safe base64

    stored = _rows(editing.url, "SELECT * FROM api_tokens WHERE id = :id", id=token_id)
    assert len(stored) == 1
    row = stored[0]._mapping
    assert row["secret_hash"] == hashlib.sha256(random_part.encode()).hexdigest()
    assert secret not in repr(stored)
    assert random_part not in repr(stored)

    listed = runner.invoke(main, ["tokens", "list"], env=env)
    assert listed.exit_code == 0
    assert token_id in listed.stdout
    assert random_part not in listed.stdout

    with TestClient(create_app(editing.settings())) as client:
        bearer = {"Authorization": f"Bearer {secret}"}
        assert client.get("/api/v1/articles?status=draft", headers=bearer).status_code == 200
        revoked = runner.invoke(main, ["tokens", "revoke", token_id], env=env)
        assert revoked.exit_code == 0, revoked.output
        assert client.get("/api/v1/articles?status=draft", headers=bearer).status_code == 401


def test_cli_refuses_an_unknown_clinic(editing: Editing) -> None:
    result = CliRunner().invoke(
        main,
        ["tokens", "create", "--name", "x", "--role", "viewer", "--clinic", "banff"],
        env={"CMS_DATABASE_URL": editing.url},
    )
    assert result.exit_code == 1
    assert "clinics: no clinic with slug 'banff'" in result.output


def test_admin_creates_lists_and_revokes_tokens(editing: Editing, client: TestClient[Any]) -> None:
    admin = editing.auth("admin")
    response = client.post(
        "/api/v1/tokens",
        json={"name": "Calgary desk", "role": "viewer", "clinics": ["calgary"]},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    made = response.json()
    assert made["role"] == "viewer"
    assert made["clinics"] == ["calgary"]
    assert made["revoked_at"] is None
    secret = made["secret"]
    creator = editing.secrets["admin"].removeprefix("cms_").split("_")[0]
    assert made["created_by"] == creator

    listed = client.get("/api/v1/tokens", headers=admin)
    assert listed.status_code == 200
    assert "secret" not in listed.text
    assert secret not in listed.text
    assert made["id"] in {t["id"] for t in listed.json()["data"]}

    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/articles?status=draft", headers=bearer).status_code == 200
    assert client.delete(f"/api/v1/tokens/{made['id']}", headers=admin).status_code == 204
    # Revocation takes effect on the very next request.
    refused = client.get("/api/v1/articles?status=draft", headers=bearer)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    again = {t["id"]: t for t in client.get("/api/v1/tokens", headers=admin).json()["data"]}
    assert again[made["id"]]["revoked_at"] is not None
    assert client.delete("/api/v1/tokens/0123456789abcdef", headers=admin).status_code == 404


@pytest.mark.parametrize("token", ["editor", "author", "viewer", "calgary-editor"])
def test_only_admins_manage_tokens(editing: Editing, client: TestClient[Any], token: str) -> None:
    headers = editing.auth(token)
    body = {"name": "x", "role": "viewer"}
    assert client.post("/api/v1/tokens", json=body, headers=headers).status_code == 403
    assert client.get("/api/v1/tokens", headers=headers).status_code == 403
    admin_id = editing.secrets["admin"].removeprefix("cms_").split("_")[0]
    refused = client.delete(f"/api/v1/tokens/{admin_id}", headers=headers)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/tokens", headers=editing.auth("admin")).status_code == 200


def test_token_routes_without_a_token_are_401(client: TestClient[Any]) -> None:
    for method, url in (("POST", "/api/v1/tokens"), ("GET", "/api/v1/tokens"),
                        ("DELETE", "/api/v1/tokens/0123456789abcdef")):  # fmt: skip
        response = client.request(method, url, json={"name": "x", "role": "viewer"})
        assert response.status_code == 401, (method, url)
        assert response.headers["www-authenticate"] == 'Bearer realm="cms"'
        assert response.json()["errors"][0]["name"] == "Authorization"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "role": "owner"}, "role"),
        ({"role": "viewer"}, "name"),
        ({"name": "", "role": "viewer"}, "name"),
        ({"name": "x", "role": "viewer", "clinics": ["banff"]}, "clinics"),
        ({"name": "x", "role": "viewer", "clinics": ["Not A Slug"]}, "clinics[0]"),
        ({"name": "x", "role": "admin", "clinics": ["calgary"]}, "clinics"),
        ({"name": "x", "role": "viewer", "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "x", "role": "viewer", "expires_at": "2999-01-01T00:00:00"}, "expires_at"),
        ({"name": "x", "role": "viewer", "colour": "blue"}, "colour"),
    ],
)
def test_invalid_token_requests_are_422_naming_the_field(
    editing: Editing, client: TestClient[Any], body: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/tokens", json=body, headers=editing.auth("admin"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["name"] for e in response.json()["errors"]] == [field]
    listed = client.get("/api/v1/tokens", headers=editing.auth("admin")).json()["data"]
    assert all(t["name"] in {"admin", "editor", "author", "viewer"} or "-" in t["name"]
               for t in listed)  # fmt: skip


def test_malformed_json_is_a_400(editing: Editing, client: TestClient[Any]) -> None:
    response = client.post(
        "/api/v1/tokens",
        content=b"{not json",
        headers={**editing.auth("admin"), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["name"] == "(body)"


def test_an_expired_token_is_refused(editing: Editing) -> None:
    clock = ManualClock()
    with TestClient(create_app(editing.settings(), clock=clock)) as client:
        soon = clock() + dt.timedelta(minutes=5)
        made = client.post(
            "/api/v1/tokens",
            json={"name": "short-lived", "role": "viewer", "expires_at": _iso(soon)},
            headers=editing.auth("admin"),
        ).json()
        bearer = {"Authorization": f"Bearer {made['secret']}"}
        clock.advance(299)
        assert client.get("/api/v1/articles?status=draft", headers=bearer).status_code == 200
        clock.advance(1)
        assert client.get("/api/v1/articles?status=draft", headers=bearer).status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        "Bearer nope",
        "Bearer ",
        "Basic YWRtaW46YWRtaW4=",
        "Bearer cms_0123456789abcdef_" + "A" * 43,  # well formed, unknown id
        "cms_0123456789abcdef_" + "A" * 43,  # no scheme
    ],
)
def test_bad_credentials_are_401(client: TestClient[Any], header: str) -> None:
    response = client.get("/api/v1/articles", headers={"Authorization": header})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_known_id_with_a_wrong_secret_is_401(editing: Editing, client: TestClient[Any]) -> None:
    token_id = editing.secrets["admin"].removeprefix("cms_").split("_")[0]
    forged = f"cms_{token_id}_{'B' * 43}"
    response = client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


def test_repeated_failures_from_one_client_are_rate_limited(editing: Editing) -> None:
    # The app's clock stands still until the test moves it: the window cannot
    # close early however slow the machine is.
    clock = ManualClock()
    settings = editing.settings(auth_failure_limit=3, auth_failure_window=300)
    bad = {"Authorization": "Bearer cms_0123456789abcdef_" + "A" * 43}
    with TestClient(create_app(settings, clock=clock)) as client:
        for _ in range(3):
            assert client.get("/api/v1/tokens", headers=bad).status_code == 401
            clock.advance(10)
        limited = client.get("/api/v1/tokens", headers=bad)
        assert limited.status_code == 429
        assert limited.headers["content-type"].startswith("application/problem+json")
        # The window opened at the first failure, 30 s ago.
        assert limited.headers["retry-after"] == "270"
        assert limited.headers["cache-control"] == "no-store"
        # Anonymous reads are not affected.
        assert client.get("/api/v1/articles").status_code == 200
        clock.advance(269.5)
        still = client.get("/api/v1/tokens", headers=bad)
        assert (still.status_code, still.headers["retry-after"]) == (429, "1")
        clock.advance(0.5)  # the window closes
        assert client.get("/api/v1/tokens", headers=bad).status_code == 401


def test_a_valid_token_is_served_from_a_client_past_the_limit(editing: Editing) -> None:
    # Issue 15, finding 14: one misconfigured script behind a clinic's shared
    # address must not lock every editor there out. The limit slows failing
    # tokens only; a valid one (a 32-byte random secret) is always checked.
    settings = editing.settings()  # the default limit: 10 failures per 300 s
    bad = {"Authorization": "Bearer garbage"}
    with TestClient(create_app(settings)) as client:
        for _ in range(settings.auth_failure_limit):
            assert client.get("/api/v1/articles", headers=bad).status_code == 401
        assert client.get("/api/v1/articles", headers=bad).status_code == 429
        drafts = client.get("/api/v1/articles?status=draft", headers=editing.auth("editor"))
        assert drafts.status_code == 200, drafts.text
        created = client.post(
            "/api/v1/articles",
            json={"title": "Written while a script fails", "clinics": ["calgary"],
                  "author": "lena-marchetti"},
            headers=editing.auth("editor"),
        )  # fmt: skip
        assert created.status_code == 201, created.text
        assert client.get("/api/v1/tokens", headers=editing.auth("admin")).status_code == 200
        # The failing script is still slowed, and a revoked token fails like any other.
        assert client.get("/api/v1/articles", headers=bad).status_code == 429
        token_id = editing.secrets["viewer"].removeprefix("cms_").split("_")[0]
        revoked = client.delete(f"/api/v1/tokens/{token_id}", headers=editing.auth("admin"))
        assert revoked.status_code == 204
        assert client.get("/api/v1/articles", headers=editing.auth("viewer")).status_code == 429


@pytest.mark.skipif(not REDIS_URL, reason="CMS_TEST_REDIS_URL is not set")
def test_with_redis_the_limit_is_shared_by_workers(editing: Editing) -> None:
    # Two apps on one Redis stand for two workers: failures counted by one
    # slow the client's failing tokens on the other, whose valid tokens are
    # still served. A namespace of its own keeps this
    # test's counts apart from any other run sharing the Redis, and the
    # window is long enough that a busy machine cannot close it between two
    # requests.
    import redis

    namespace = f"cms-test-{uuid.uuid4().hex[:12]}"
    settings = editing.settings(
        redis_url=REDIS_URL,
        redis_namespace=namespace,
        auth_failure_limit=2,
        auth_failure_window=300,
    )
    bad = {"Authorization": f"Bearer cms_{uuid.uuid4().hex[:16]}_" + "A" * 43}
    try:
        with (
            TestClient(create_app(settings)) as first,
            TestClient(create_app(settings)) as second,
        ):
            assert first.get("/api/v1/tokens", headers=bad).status_code == 401
            assert second.get("/api/v1/tokens", headers=bad).status_code == 401
            assert first.get("/api/v1/tokens", headers=bad).status_code == 429
            assert second.get("/api/v1/tokens", headers=bad).status_code == 429
            assert second.get("/api/v1/tokens", headers=editing.auth("admin")).status_code == 200
            assert first.get("/api/v1/tokens", headers=editing.auth("admin")).status_code == 200
    finally:
        store = redis.Redis.from_url(REDIS_URL)
        store.delete(*store.keys(f"{namespace}*") or [f"{namespace}:none"])
