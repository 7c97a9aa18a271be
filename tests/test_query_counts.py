"""Reads stay at a fixed number of queries, whatever the page size, with or without a token."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from cms.app import create_app
from cms.syndication.purges import SqlitePurgeReader
from tests.conftest import QUIET, Editing, counting


@pytest.mark.parametrize(
    ("url", "token", "expected"),
    [
        # document, relations, plugin response fields
        ("/api/v1/articles/opioids-and-back-pain", None, 3),
        ("/api/v1/articles?limit=1", None, 3),  # page, its relations, its fields
        ("/api/v1/articles?limit=100", None, 3),
        ("/api/v1/articles?limit=100&tag=back-pain", None, 3),
        ("/api/v1/articles?limit=100&condition=sciatica", None, 4),  # + the filter's slug
        # Issue 5's reads: full-text and date filters are clauses of the page's query;
        # includes add the embedded entries and their relations.
        ("/api/v1/articles?limit=100&q=sciatica", None, 3),
        ("/api/v1/articles?limit=100&published_after=2020-01-01", None, 3),
        ("/api/v1/articles?limit=100&include=author,conditions", None, 5),
        ("/api/v1/articles/opioids-and-back-pain?include=author", None, 5),
        ("/api/v1/articles?limit=100&include=author", "editor", 6),
        ("/api/v1/articles/opioids-and-back-pain", "editor", 4),  # + the token
        ("/api/v1/articles?limit=100", "editor", 4),
        ("/api/v1/articles?limit=100&status=draft,published", "calgary-viewer", 4),
    ],
)
def test_reads_run_a_fixed_number_of_queries(
    editing: Editing, url: str, token: str | None, expected: int
) -> None:
    # No scheduler nor webhook delivery: their polls would be counted with the reads.
    app = create_app(editing.settings(**QUIET))
    # SQLite's generation is read outside the engine; PostgreSQL's through it.
    generation = 0 if isinstance(app.state.services.cache.reader, SqlitePurgeReader) else 1
    with TestClient(app) as client:
        headers = editing.auth(token) if token else {}
        with counting(app) as first:
            assert client.get(url, headers=headers).status_code == 200
        with counting(app) as again:
            assert client.get(url, headers=headers).status_code == 200
    if token is None:
        # Public reads: built once, then served from the response cache.
        assert len(first) == generation + expected, first
        assert len(again) == generation, again
    else:
        # Token reads are never cached.
        assert len(first) == expected, first
        assert len(again) == expected, again
