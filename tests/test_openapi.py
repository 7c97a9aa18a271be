"""The committed OpenAPI document is the app's, and it documents every operation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from cms.cli import main, openapi_bytes
from tests.conftest import FIRST_PARTY_PLUGINS, REPO

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
