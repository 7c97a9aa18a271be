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


# --- What schema fuzzing found (tests/test_schema_fuzz.py) --------------------------


def test_nul_characters_are_a_400_never_a_database_error(
    client: TestClient[Any], editing: Editing
) -> None:
    # PostgreSQL's text cannot hold U+0000: it answered 500; SQLite stored it.
    created = client.post(
        "/api/v1/articles",
        json={"title": "a\x00b", "clinics": ["calgary"]},
        headers=editing.auth("editor"),
    )
    _problem(created, 400, "(body)")
    _problem(client.get("/api/v1/articles/a%00b"), 400, "(path)")
    _problem(client.get("/api/v1/articles", params={"q": "a\x00b"}), 400, "q")


def test_a_json_null_body_is_refused_not_taken_for_no_body(
    client: TestClient[Any], editing: Editing
) -> None:
    article, _etag = create_article(client, editing, "Null body")
    response = client.post(
        f"/api/v1/articles/{article['slug']}/preview",
        content=b"null",
        headers={**editing.auth("editor"), "Content-Type": "application/json"},
    )
    _problem(response, 400, "(body)")


def test_an_integral_float_is_an_integer(client: TestClient[Any], editing: Editing) -> None:
    # JSON has one number type; the document's `integer` takes 600.0 as it takes 600.
    article, _etag = create_article(client, editing, "Whole seconds")
    response = client.post(
        f"/api/v1/articles/{article['slug']}/preview",
        json={"expires_in": 600.0},
        headers=editing.auth("editor"),
    )
    assert response.status_code == 200, response.text
    _problem(
        client.post(
            f"/api/v1/articles/{article['slug']}/preview",
            json={"expires_in": 600.5},
            headers=editing.auth("editor"),
        ),
        422,
        "expires_in",
    )


def test_a_slug_with_a_final_newline_is_refused(client: TestClient[Any], editing: Editing) -> None:
    # In Python `$` matches before a final newline: the slug pattern let it through.
    response = client.post(
        "/api/v1/articles",
        json={"title": "Newline", "slug": "newline\n"},
        headers=editing.auth("editor"),
    )
    _problem(response, 422, "slug")


def test_an_if_match_that_is_no_etag_is_a_400_not_a_412(
    client: TestClient[Any], editing: Editing
) -> None:
    article, etag = create_article(client, editing, "Unquoted")
    response = client.patch(
        f"/api/v1/articles/{article['slug']}",
        json={"summary": "S"},
        headers={**editing.auth("editor"), "If-Match": etag.strip('"')},
    )
    _problem(response, 400, "If-Match")


def test_list_values_are_exactly_comma_separated(client: TestClient[Any]) -> None:
    # As the document's pattern says: no empty value, no space around one.
    for value in ("calgary,", "calgary,,edmonton", "calgary, edmonton"):
        _problem(client.get("/api/v1/articles", params={"clinic": value}), 400, "clinic")
    assert client.get("/api/v1/articles", params={"clinic": "calgary,edmonton"}).is_success


def test_times_are_rfc_3339_dates_or_date_times(client: TestClient[Any]) -> None:
    # Python reads `09:00Z` (no seconds); RFC 3339, which the document names, does not.
    _problem(
        client.get("/api/v1/articles", params={"published_after": "2025-03-01T09:00Z"}),
        400,
        "published_after",
    )
    for moment in ("2025-03-01", "2025-03-01T09:00:00Z", "2025-03-01T09:00:00 01:00"):
        assert client.get("/api/v1/articles", params={"published_after": moment}).is_success
