"""Odd input a fresh-eyes review found answering 500: each is now a problem naming its field."""

from __future__ import annotations

import base64
from typing import Any

import msgspec
from litestar.testing import TestClient

from tests.conftest import Editing, create_article, read_entry_as


def _problem(response: Any, status: int, name: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert name in [e["name"] for e in response.json()["errors"]], response.text


def _cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(list(parts))).rstrip(b"=").decode()


def test_a_cursor_with_a_naive_datetime_is_refused(
    client: TestClient[Any], editing: Editing
) -> None:
    cursor = _cursor("-published_at", "2025-01-01T00:00:00", "some-id")
    _problem(client.get(f"/api/v1/articles?cursor={cursor}"), 400, "cursor")
    _problem(
        client.get(f"/api/v1/articles?cursor={cursor}", headers=editing.auth("editor")),
        400,
        "cursor",
    )


def test_revision_cursors_and_numbers_out_of_range_are_refused(
    client: TestClient[Any], editing: Editing
) -> None:
    base = "/api/v1/articles/opioids-and-back-pain/revisions"
    auth = editing.auth("editor")
    for cursor in ("%C2%B2", "99999999999999999999", "-1"):
        _problem(client.get(f"{base}?cursor={cursor}", headers=auth), 400, "cursor")
    for version in ("99999999999999999999999", "0"):
        _problem(client.get(f"{base}/{version}", headers=auth), 400, "version")


def test_a_publish_time_out_of_range_is_refused(client: TestClient[Any], editing: Editing) -> None:
    article, etag = create_article(client, editing, "Far future")
    response = client.post(
        f"/api/v1/articles/{article['slug']}/publish",
        json={"at": "9999-12-31T23:59:59-12:00"},
        headers={**editing.auth("editor"), "If-Match": etag},
    )
    _problem(response, 422, "at")
    assert read_entry_as(client, editing, f"/api/v1/articles/{article['slug']}")[0]["status"] == (
        "draft"
    )


def test_a_slug_longer_than_the_column_is_refused(
    client: TestClient[Any], editing: Editing
) -> None:
    response = client.post(
        "/api/v1/articles",
        json={"title": "Long", "slug": "a" * 130},
        headers=editing.auth("editor"),
    )
    _problem(response, 422, "slug")


def test_identifiers_in_case_story_tags_block_publishing(
    client: TestClient[Any], editing: Editing
) -> None:
    path = "/api/v1/case-stories/back-pain-after-a-car-accident"
    _doc, etag = read_entry_as(client, editing, path)
    patched = client.patch(
        path,
        json={"tags": ["403-555-0199"]},
        headers={**editing.auth("editor"), "If-Match": etag,
                 "Content-Type": "application/merge-patch+json"},
    )  # fmt: skip
    assert patched.status_code == 200, patched.text
    refused = client.post(
        f"{path}/publish", headers={**editing.auth("editor"), "If-Match": patched.headers["etag"]}
    )
    _problem(refused, 422, "tags[0]")
