"""Alembic environment: runs migrations on the async engine of the given URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from cms.storage import tables  # registers the tables on the metadata
from cms.storage.db import create_engine

target_metadata = SQLModel.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying
        compare_type=True,
        include_name=tables.include_name,  # search objects are per dialect, by design
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_engine(url, for_migrations=True)
    try:
        async with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # Batch mode alters a SQLite table by copying it and dropping the
                # old one; with foreign keys on, that drop would cascade and
                # delete every row that references the table. SQLite ignores the
                # pragma inside a transaction, so it is set before one begins.
                await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                await connection.commit()
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    """Connect with the project's own engine set-up and migrate."""
    url = context.config.attributes["database_url"]
    asyncio.run(_run_async(url))


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `cms db upgrade`")
run_migrations_online()
