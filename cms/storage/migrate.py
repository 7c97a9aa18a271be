"""Alembic, driven from code: ``cms db upgrade`` and the tests call these.

The core's versions and each plugin's (``register_migrations``) are one
history: each plugin's versions are a branch labelled with its name, which
``depends_on`` the core revision it needs, so ``alembic_version`` may hold
several heads, and ``heads`` is where an upgrade goes.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.storage.db import ensure_sqlite_folder

MIGRATIONS = Path(__file__).parent / "migrations"
CORE_VERSIONS = MIGRATIONS / "versions"
_UNKNOWN_REVISION = re.compile(r"Can't locate revision identified by '([^']*)'")


class MigrationError(Exception):
    """The versions to apply are inconsistent, or the database is at a revision none ships."""


def _option(value: str) -> str:
    # Config options are %-interpolated, and a folder's path may contain "%".
    return value.replace("%", "%%")


def alembic_config(database_url: str, plugins: Mapping[str, Path] | None = None) -> Config:
    """An Alembic config for ``database_url``, without an ini file.

    Args:
        plugins: plugin name to the folder of its versions (``Plugins.migrations``).
    """
    config = Config()
    config.set_main_option("script_location", _option(str(MIGRATIONS)))
    folders = [CORE_VERSIONS, *(plugins or {}).values()]
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", _option(os.pathsep.join(map(str, folders))))
    # env.py reads the URL from here, not from the ini option, because ini
    # values are %-interpolated and URLs may contain percent-escapes.
    config.attributes["database_url"] = database_url
    return config


def check_versions(config: Config, plugins: Mapping[str, Path]) -> None:
    """Fail unless revision ids are unique and every plugin's versions are on its own branch.

    Raises:
        MigrationError: naming the revision, and the plugin when it is one's.
    """
    script = ScriptDirectory.from_config(config)
    with warnings.catch_warnings():
        # Alembic only warns about a revision id used twice, and then keeps one.
        warnings.simplefilter("error", UserWarning)
        try:
            revisions = list(script.walk_revisions())
        except UserWarning as exc:
            raise MigrationError(
                f"{exc}: revision ids are shared by the core and every plugin; "
                "start a plugin's with its name"
            ) from exc
        except CommandError as exc:
            raise MigrationError(str(exc)) from exc
    owner_of = {folder.resolve(): name for name, folder in plugins.items()}
    for revision in revisions:
        owner = owner_of.get(Path(revision.path).parent.resolve())
        if owner is not None and owner not in revision.branch_labels:
            raise MigrationError(
                f"plugin {owner!r}: version {revision.revision} ({Path(revision.path).name}) "
                f"is not on the plugin's branch: its first version needs "
                f"branch_labels = ({owner!r},) and down_revision = None"
            )


def _migrate(config: Config, run: str, revision: str) -> None:
    try:
        if run == "upgrade":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)
    except CommandError as exc:
        unknown = _UNKNOWN_REVISION.search(str(exc))
        if unknown is None:
            raise
        raise MigrationError(
            f"{exc}: neither the core nor a loaded plugin ships revision {unknown.group(1)!r}. "
            "The database was upgraded with a plugin that is now turned off or uninstalled: "
            "turn it on again (CMS_PLUGINS), or, to drop its tables for good, run "
            "`cms db downgrade <plugin>@base` while it is still on"
        ) from exc


def upgrade(
    database_url: str, revision: str = "heads", plugins: Mapping[str, Path] | None = None
) -> None:
    """Apply migrations, the core's and ``plugins``' (name to folder), up to ``revision``.

    Raises:
        MigrationError: see :func:`check_versions`, or the database is at a
            revision that neither the core nor one of ``plugins`` ships.
    """
    config = alembic_config(database_url, plugins)
    check_versions(config, plugins or {})
    ensure_sqlite_folder(database_url)
    _migrate(config, "upgrade", revision)


def downgrade(database_url: str, revision: str, plugins: Mapping[str, Path] | None = None) -> None:
    """Revert migrations down to ``revision`` (``<plugin>@base`` removes a plugin's tables)."""
    config = alembic_config(database_url, plugins)
    check_versions(config, plugins or {})
    _migrate(config, "downgrade", revision)


def make_revision(database_url: str, message: str) -> None:
    """Write a new migration of the core, autogenerated from the difference to the tables."""
    command.revision(alembic_config(database_url), message=message, autogenerate=True)


@dataclass(frozen=True)
class MigrationState:
    """How the database's migrations compare with those this code ships."""

    missing: frozenset[str]
    """Heads shipped here that the database is not at: it needs ``cms db upgrade``."""
    unknown: frozenset[str]
    """Revisions of the database shipped by none of the code here (a newer deployment's)."""


@functools.lru_cache(maxsize=8)
def _shipped(plugins: tuple[tuple[str, Path], ...]) -> tuple[frozenset[str], frozenset[str]]:
    """The heads and every revision of the core's and ``plugins``' versions (read once)."""
    script = ScriptDirectory.from_config(alembic_config("", dict(plugins)))
    known = frozenset(r.revision for r in script.walk_revisions())
    return frozenset(script.get_heads()), known


async def migration_state(session: AsyncSession, plugins: Mapping[str, Path]) -> MigrationState:
    """Compare the revisions the database is at with the heads of the core and ``plugins``.

    ``cms db upgrade`` leaves the database at exactly those heads. The
    version files are read once per process, in a thread.
    """
    heads, known = await asyncio.to_thread(_shipped, tuple(sorted(plugins.items())))
    rows = await session.exec(text("SELECT version_num FROM alembic_version"))  # type: ignore[call-overload]
    applied = frozenset(str(row[0]) for row in rows)
    unknown = applied - known
    return MigrationState(missing=frozenset() if unknown else heads - applied, unknown=unknown)
