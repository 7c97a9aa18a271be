"""Liveness, readiness, API docs, and settings from the environment."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import TestClient

from cms.app import create_app
from cms.settings import Settings, SettingsError


def test_health(demo: TestClient[Any]) -> None:
    response = demo.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_when_the_database_answers(demo: TestClient[Any]) -> None:
    response = demo.get("/ready")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["status"] == "ready"
    assert response.json()["dependencies"]["database"] == {"status": "ok", "detail": ""}


def test_not_ready_when_the_database_is_gone(tmp_path: Any) -> None:
    # A SQLite file in a folder that does not exist cannot be opened.
    url = f"sqlite+aiosqlite:///{tmp_path}/missing/sub/cms.db"
    app = create_app(Settings(database_url=url))
    (tmp_path / "missing" / "sub").rmdir()
    with TestClient(app) as client:
        response = client.get("/ready")
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["dependencies"]["database"]["status"] == "failing"
        assert client.get("/health").status_code == 200


def test_docs_page_loads_its_assets_from_this_server(demo: TestClient[Any]) -> None:
    page = demo.get("/schema")
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls, page.text
    for url in urls:
        assert url.startswith("/"), f"{url} would need the network"
        assert demo.get(url).status_code == 200, url


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, Settings()),
        ({"CMS_PORT": "9000", "CMS_HOST": "127.0.0.2"}, Settings(port=9000, host="127.0.0.2")),
        ({"CMS_PLUGINS": "blog_series, case_stories"},
         Settings(plugins=("blog_series", "case_stories"))),
        ({"CMS_DATABASE_URL": "postgresql+asyncpg://x@y/z"},
         Settings(database_url="postgresql+asyncpg://x@y/z")),
    ],
)  # fmt: skip
def test_settings_from_environment(env: dict[str, str], expected: Settings) -> None:
    assert Settings.from_env(env) == expected


@pytest.mark.parametrize(
    ("env", "variable"),
    [({"CMS_PORT": "eighty"}, "CMS_PORT"), ({"CMS_PORT": "70000"}, "CMS_PORT"),
     ({"CMS_PUBLIC_MAX_AGE": "-1"}, "CMS_PUBLIC_MAX_AGE")],
)  # fmt: skip
def test_bad_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env(env)


def test_content_reads_without_a_database_are_503_problems(tmp_path: Any) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/missing/sub/cms.db"
    app = create_app(Settings(database_url=url))
    (tmp_path / "missing" / "sub").rmdir()
    with TestClient(app) as client:
        for path in ("/api/v1/articles", "/api/v1/clinics/calgary"):
            response = client.get(path)
            assert response.status_code == 503, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.headers["retry-after"] == "5"
