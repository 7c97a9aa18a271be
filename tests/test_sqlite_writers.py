"""SQLite's one writer: transactions that read before they write, and writers queueing.

A DEFERRED SQLite transaction that has read cannot write once another writer
has committed after its read ("database is locked", at once, whatever the busy
timeout). Writing sessions begin IMMEDIATE instead; these tests show both
sides on a real database file, and that many concurrent writing requests all
succeed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from cms.app import create_app
from cms.storage.db import create_engine, session_factory, writing
from tests.conftest import Databases, Editing, concurrent_client


@pytest.fixture(name="sqlite_url")
def fixture_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return Databases("sqlite", tmp_path_factory.mktemp("writers")).fresh()


async def _read_then_write(url: str, *, write_session: bool) -> None:
    """Session A reads, session B writes and commits, then A writes."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        a = writing(sessions) if write_session else sessions()
        async with a:
            await a.exec(text("SELECT count(*) FROM entries"))

            async def other_writer() -> None:
                async with writing(sessions) as b:
                    await b.exec(text("UPDATE site_state SET generation = generation + 1"))
                    await b.commit()

            other = asyncio.create_task(other_writer())
            if write_session:
                # B waits for A's lock: it cannot have committed yet.
                await asyncio.sleep(0.2)
                assert not other.done()
            else:
                await other
            await a.exec(text("UPDATE site_state SET generation = generation + 1"))
            await a.commit()
            await other
    finally:
        await engine.dispose()


def test_a_plain_session_that_read_cannot_write_after_another_commit(sqlite_url: str) -> None:
    # The failure the writing sessions exist for; if SQLite ever stops doing
    # this, the test says so.
    with pytest.raises(OperationalError, match="locked"):
        asyncio.run(_read_then_write(sqlite_url, write_session=False))


def test_a_writing_session_reads_then_writes_whatever_others_do(sqlite_url: str) -> None:
    asyncio.run(_read_then_write(sqlite_url, write_session=True))


def test_many_concurrent_creates_all_succeed(editing: Editing, backend: str) -> None:
    """Twenty-four drafts created at once, each reading (its slug) before writing."""

    async def run() -> list[Any]:
        app = create_app(editing.settings(scheduler_interval=0))
        async with concurrent_client(app) as client:

            async def create(n: int) -> Any:
                body = {"title": f"Busy day {n}", "clinics": ["calgary"], "body": "Text."}
                return await client.post(
                    "/api/v1/articles", json=body, headers=editing.auth("editor")
                )

            return list(await asyncio.gather(*(create(n) for n in range(24))))

    responses = asyncio.run(run())
    assert [r.status_code for r in responses] == [201] * 24, [r.text for r in responses]
