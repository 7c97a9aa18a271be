"""The committed OpenAPI document is the app's, and it documents every operation."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from cms.cli import main, openapi_bytes
from tests.conftest import FIRST_PARTY_PLUGINS, REPO, Editing

COMMITTED = REPO / "openapi" / "openapi.json"


def test_committed_document_is_not_stale() -> None:
    # The first-party plugins by name: a third-party plugin installed beside
    # them is not the core's to document.
    current = openapi_bytes(plugins=FIRST_PARTY_PLUGINS)
    assert COMMITTED.read_bytes() == current, "run `cms openapi export`"


def test_check_flag_fails_on_a_stale_file(tmp_path: Any) -> None:
    stale = tmp_path / "openapi.json"
    stale.write_text("{}")
    runner = CliRunner()
    failed = runner.invoke(main, ["openapi", "export", "--check", "--output", str(stale)])
    assert failed.exit_code == 1
    assert "stale" in failed.output
    assert runner.invoke(main, ["openapi", "export", "--output", str(stale)]).exit_code == 0
    ok = runner.invoke(main, ["openapi", "export", "--check", "--output", str(stale)])
    assert ok.exit_code == 0, ok.output


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    document = json.loads(COMMITTED.read_text())
    return [
        (method, path, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
    ]


@pytest.mark.parametrize(("method", "path", "op"), _operations(), ids=lambda v: str(v)[:40])
def test_every_operation_has_id_summary_and_error_responses(
    method: str, path: str, op: dict[str, Any]
) -> None:
    assert op.get("operationId"), f"{method} {path}"
    assert op.get("summary"), f"{method} {path}"
    errors = {code: r for code, r in op["responses"].items() if int(code) >= 400}
    assert errors, f"{method} {path} documents no error response"
    for response in errors.values():
        assert "application/problem+json" in response["content"]


def test_operation_ids_are_unique() -> None:
    ids = [op["operationId"] for _, _, op in _operations()]
    assert len(ids) == len(set(ids))


def test_served_document_matches_the_committed_one(demo: TestClient[Any]) -> None:
    served = demo.get("/schema/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(COMMITTED.read_text())


# --- What the document says the requests need is what the code needs ------------

WRITES = ("post", "put", "patch", "delete")
IF_MATCH = {"$ref": "#/components/parameters/IfMatch"}
IF_NONE_MATCH = {"$ref": "#/components/parameters/IfNoneMatch"}


def _writes() -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for m, p, op in _operations() if m in WRITES]


def _url(path: str) -> str:
    """``path`` with its parameters filled: a version number, else a name nothing has."""
    return re.sub(r"\{(\w+)\}", lambda m: "1" if m.group(1) == "version" else "no-such-thing", path)


def test_the_shared_header_parameters_are_what_the_code_reads() -> None:
    parameters = json.loads(COMMITTED.read_text())["components"]["parameters"]
    assert parameters["IfMatch"]["name"] == "If-Match"
    assert parameters["IfMatch"]["in"] == "header"
    assert parameters["IfMatch"]["required"] is True
    assert parameters["IfNoneMatch"]["name"] == "If-None-Match"
    assert parameters["IfNoneMatch"]["required"] is False


def test_every_write_that_answers_428_without_if_match_declares_it(
    client: TestClient[Any], editing: Editing
) -> None:
    """Each write is sent, with an admin token, without `If-Match` and without a body:
    the ones that need `If-Match` answer 428 before anything else, and exactly
    those declare it (required), with their 428 and 412."""
    needs, declares = set(), set()
    for method, path, op in _writes():
        response = client.request(method.upper(), _url(path), headers=editing.auth("admin"))
        assert response.status_code < 500, f"{method} {path}: {response.text}"
        key = f"{method.upper()} {path}"
        if response.status_code == 428:
            needs.add(key)
        if IF_MATCH in op.get("parameters", []):
            declares.add(key)
            assert {"412", "428"} <= set(op["responses"]), key
        else:
            assert "428" not in op["responses"], f"{key} declares a 428 it never answers"
    assert needs == declares
    assert "PATCH /api/v1/articles/{slug}" in needs


def test_every_required_body_is_required_by_the_code(
    client: TestClient[Any], editing: Editing
) -> None:
    """A write whose body the document marks required answers 400 naming the
    body when there is none (an `If-Match` is sent, so that it is not a 428)."""
    required = [(m, p, op) for m, p, op in _writes() if op.get("requestBody", {}).get("required")]
    assert any(m == "patch" for m, _p, _op in required)
    for method, path, _op in required:
        response = client.request(
            method.upper(), _url(path), headers={**editing.auth("admin"), "If-Match": '"x"'}
        )
        assert response.status_code == 400, f"{method} {path}: {response.text}"
        assert [e["name"] for e in response.json()["errors"]] == ["(body)"]


@pytest.mark.parametrize(("method", "path", "op"), _operations(), ids=lambda v: str(v)[:40])
def test_what_each_operation_declares_of_headers_and_empty_answers(
    method: str, path: str, op: dict[str, Any]
) -> None:
    responses = op["responses"]
    # A 204 and a 304 have no body (RFC 9110): no content may be declared for them.
    for status in ("204", "304"):
        assert "content" not in responses.get(status, {}), f"{method} {path} {status}"
    # Every GET honours If-None-Match (the conditional_get middleware).
    if method == "get":
        assert IF_NONE_MATCH in op.get("parameters", []), f"{method} {path}"
        assert "304" in responses, f"{method} {path}"
    else:
        assert IF_NONE_MATCH not in op.get("parameters", []), f"{method} {path}"
    # A route that can refuse a token names the bearer scheme (/metrics: its own).
    if "401" in responses:
        scheme = "metricsToken" if path == "/metrics" else "bearerAuth"
        assert {scheme: []} in op.get("security", []), f"{method} {path}"


def _parameter(document: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    (found,) = (p for p in document["paths"][path]["get"]["parameters"] if p.get("name") == name)
    return found


def test_the_document_states_the_limits_the_code_checks() -> None:
    # Each of these the schema fuzz found the document leaving out or saying wrong.
    document = json.loads(COMMITTED.read_text())
    assert _parameter(document, "/api/v1/changes", "since")["schema"]["maximum"] == 2**63 - 1
    assert _parameter(document, "/api/v1/changes", "state")["schema"]["enum"] == [
        "published", "working", "all"
    ]  # fmt: skip
    clinic = _parameter(document, "/api/v1/articles", "clinic")["schema"]["pattern"]
    assert re.search(clinic, "calgary,edmonton")
    assert not re.search(clinic, "calgary,")
    assert not re.search(clinic, "calgary, edmonton")
    cursor = _parameter(document, "/api/v1/articles", "cursor")["schema"]["pattern"]
    assert not re.search(cursor, "")
    create = document["paths"]["/api/v1/articles"]["post"]["requestBody"]["content"]
    body = create["application/json"]["schema"]["properties"]
    assert body["seo"]["additionalProperties"] is False  # the code refuses unknown fields
    assert body["clinics"]["uniqueItems"] is True  # and a clinic listed twice
    assert body["published_at"]["anyOf"][0]["format"] == "date-time"  # with its zone
    url = document["paths"]["/api/v1/webhooks"]["post"]["requestBody"]["content"]
    pattern = url["application/json"]["schema"]["properties"]["url"]["pattern"]
    assert re.search(pattern, "https://clinic.example:65535/")
    assert not re.search(pattern, "https://clinic.example:65536/")


def test_sparse_and_embedding_answers_are_documented() -> None:
    # `fields` leaves fields out and `include` embeds entries: the whole entry
    # (the component clients use) or what those make of it.
    document = json.loads(COMMITTED.read_text())
    detail = document["paths"]["/api/v1/articles/{slug}"]["get"]["responses"]["200"]
    whole, shaped = detail["content"]["application/json"]["schema"]["anyOf"]
    assert whole == {"$ref": "#/components/schemas/Article"}
    assert "required" not in shaped
    assert {"type": "object"}.items() <= shaped["properties"]["author"]["anyOf"][1].items()
