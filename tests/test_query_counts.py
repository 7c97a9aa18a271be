"""Reads stay at a fixed number of queries, whatever the page size, with or without a token."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import event

from cms.app import create_app
from tests.conftest import Editing


@contextmanager
def counting(app: Litestar) -> Iterator[list[str]]:
    """Every SQL statement the app's engine runs inside the block."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = app.state.services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize(
    ("url", "token", "expected"),
    [
        ("/api/v1/articles/opioids-and-back-pain", None, 2),  # document, relations
        ("/api/v1/articles?limit=1", None, 2),  # page, relations of the page
        ("/api/v1/articles?limit=100", None, 2),
        ("/api/v1/articles?limit=100&tag=back-pain", None, 2),
        ("/api/v1/articles?limit=100&condition=sciatica", None, 3),  # + the filter's slug
        ("/api/v1/articles/opioids-and-back-pain", "editor", 3),  # + the token
        ("/api/v1/articles?limit=100", "editor", 3),
        ("/api/v1/articles?limit=100&status=draft,published", "calgary-viewer", 3),
    ],
)
def test_reads_run_a_fixed_number_of_queries(
    editing: Editing, url: str, token: str | None, expected: int
) -> None:
    app = create_app(editing.settings(scheduler_interval=0))
    with TestClient(app) as client:
        headers = editing.auth(token) if token else {}
        assert client.get(url, headers=headers).status_code == 200  # warm up the pool
        with counting(app) as statements:
            response = client.get(url, headers=headers)
        assert response.status_code == 200
        assert len(statements) == expected, statements
