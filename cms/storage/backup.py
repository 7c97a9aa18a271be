"""Backups: the whole database as one portable file, and back into an empty database.

A backup is taken while the server serves and writes, in one read
transaction: SQLite's WAL keeps that transaction's snapshot while writers
commit beside it, and PostgreSQL's ``REPEATABLE READ`` gives every statement
of a read-only transaction the snapshot of its first. Every table is read in
that one snapshot, so the file is the database as it was at one instant:
whatever was acknowledged before it is in the file, and no write is in it by
halves.

The file is gzip-compressed JSON lines, readable by any database kind this
CMS runs on (a SQLite backup restores into PostgreSQL and back):

- line 1, the header: ``{"format": "clinic-cms-backup", "version": 1,
  "database": "sqlite", "revisions": ["0007"], "created_at": ..., "tables":
  [...]}``; ``revisions`` are the Alembic revisions the database was at;
- then each table, parents before children (foreign-key order): a line
  ``{"table": "entries", "columns": [["id", "str"], ...]}``, then one JSON
  array per row, in primary-key order, values in the order of the columns;
- last, ``{"end": true, "rows": {"entries": 12, ...}}``: a file without it
  was cut short.

A column's kind says how its values are written: ``str``, ``int``,
``float`` and ``bool`` as JSON; ``json`` as the JSON value itself;
``bytes`` in base64; ``date`` and ``datetime`` (UTC) in ISO 8601;
``naive_datetime`` in ISO 8601 without an offset; ``decimal`` and ``uuid``
as strings. Every table of the database is backed up, so a table added
later is without a list to edit here: the SQLModel metadata's as it
describes them, any other (a plugin's own, kept off the metadata by design)
as the database does.

Restoring reads the whole file first (nothing is written from a file that
does not read back), migrates the empty database to the file's revisions,
inserts every row in one transaction, sets PostgreSQL's sequences past the
restored ids, then migrates to this CMS's newest schema if the file was
older. The search index is not in the file: it is derived from
``search_documents`` by the database itself (the FTS5 triggers on SQLite,
the generated ``tsvector`` on PostgreSQL) as those rows go in.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import gzip
import tempfile
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Uuid,
    delete,
    false,
    func,
    inspect,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import SQLModel

from cms.storage import tables as _tables  # registers the core's tables on the metadata
from cms.storage.db import WRITE_OPTIONS, create_engine, is_sqlite
from cms.storage.migrate import MigrationError, alembic_config, upgrade
from cms.storage.tables import UTCDateTime

FORMAT = "clinic-cms-backup"
VERSION = 1
"""The format version this module writes, and the newest it reads."""
VERSION_TABLE = "alembic_version"
BATCH = 1000
"""Rows read, and inserted, per round trip."""

_KIND_TYPES: dict[str, Callable[[], TypeEngine[Any]]] = {
    "str": String,
    "int": BigInteger,
    "float": Float,
    "bool": Boolean,
    "json": JSON,
    "bytes": LargeBinary,
    "date": Date,
    "datetime": UTCDateTime,
    "naive_datetime": DateTime,
    "decimal": Numeric,
    "uuid": Uuid,
}
"""The column type each kind is read and written through, on either database."""


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why, for a person."""


@dataclass(frozen=True)
class TableSpec:
    """A table as a backup file describes it: its name and its columns' kinds."""

    name: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...] = ()
    """The primary key's columns, which a backup reads the rows in the order of."""

    def table(self) -> Table:
        """A table object to read and write these columns through, whatever the database."""
        columns = [Column(name, _KIND_TYPES[kind]()) for name, kind in self.columns]
        return Table(self.name, MetaData(), *columns)


@dataclass(frozen=True)
class Header:
    """The first line of a backup file."""

    version: int
    database: str
    revisions: tuple[str, ...]
    created_at: str
    tables: tuple[str, ...]


@dataclass(frozen=True)
class BackupReport:
    """What a backup wrote."""

    path: Path
    revisions: tuple[str, ...]
    rows: dict[str, int]


@dataclass(frozen=True)
class RestoreReport:
    """What a restore did."""

    revisions: tuple[str, ...]
    """The file's revisions, which the rows were inserted at."""
    rows: dict[str, int]
    upgraded: bool
    """Whether the database was then migrated on to this CMS's newest schema."""


# --- Values -----------------------------------------------------------------------


def column_kind(table: str, column: Column[Any]) -> str:
    """The kind a column's values are written as (see the module's docstring).

    Raises:
        BackupError: the column's type has no portable form here.
    """
    column_type: Any = column.type
    if isinstance(column_type, UTCDateTime):
        return "datetime"
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    # Float before Numeric, of which it is a kind.
    for kind, base in (
        ("json", JSON),
        ("bytes", LargeBinary),
        ("bool", Boolean),
        ("int", Integer),
        ("float", Float),
        ("decimal", Numeric),
        ("uuid", Uuid),
        ("str", String),
        ("date", Date),
    ):
        if isinstance(column_type, base):
            return kind
    if isinstance(column_type, DateTime):
        return "datetime" if column_type.timezone else "naive_datetime"
    raise BackupError(
        f"{table}.{column.name}: its type ({column_type!r}) has no portable form in a backup"
    )


def _encoder(kind: str) -> Callable[[Any], Any]:
    if kind == "bytes":
        return lambda value: base64.b64encode(value).decode("ascii")
    if kind == "datetime":
        return lambda value: value.astimezone(dt.UTC).isoformat()
    if kind in ("date", "naive_datetime"):
        return lambda value: value.isoformat()
    if kind in ("decimal", "uuid"):
        return str
    return lambda value: value


def _decoder(kind: str) -> Callable[[Any], Any]:
    if kind == "bytes":
        return lambda value: base64.b64decode(value, validate=True)
    if kind == "datetime":

        def aware(value: str) -> dt.datetime:
            parsed = dt.datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                raise ValueError(f"{value!r} has no time zone")
            return parsed

        return aware
    if kind == "date":
        return dt.date.fromisoformat
    if kind == "naive_datetime":
        return dt.datetime.fromisoformat
    if kind == "decimal":
        return Decimal
    if kind == "uuid":
        return uuid.UUID
    return lambda value: value


def _row_codec(
    columns: Sequence[tuple[str, str]], make: Callable[[str], Callable[[Any], Any]]
) -> Callable[[Sequence[Any]], list[Any]]:
    converters = [make(kind) for _name, kind in columns]

    def convert(row: Sequence[Any]) -> list[Any]:
        return [None if v is None else f(v) for f, v in zip(converters, row, strict=True)]

    return convert


# --- Backing up -------------------------------------------------------------------


def table_spec(table: Table) -> TableSpec:
    """How a backup describes ``table``.

    Raises:
        BackupError: a column's type has no portable form.
    """
    return TableSpec(
        str(table.name),
        tuple((str(c.name), column_kind(table.name, c)) for c in table.columns),
        tuple(str(c.name) for c in table.primary_key),
    )


async def _database_tables(connection: AsyncConnection, metadata: MetaData) -> list[TableSpec]:
    """Every table of the database, parents before children, as a backup describes them.

    Tables of ``metadata`` are described by it (its types say, for instance,
    that SQLite's naive datetimes are UTC). Others, the plugins' own (kept off
    the metadata by design, see docs/plugins.md), by what the database says
    of them. The search index's objects and Alembic's table are left out.

    Raises:
        BackupError: a table of ``metadata`` is missing or has other columns
            (the database is at another schema than this CMS's).
    """

    def reflect(sync: Any) -> MetaData:
        names = [
            name
            for name in inspect(sync).get_table_names()
            if name not in _tables.DIALECT_TABLES and name != VERSION_TABLE
        ]
        found = MetaData()
        found.reflect(sync, only=names)
        return found

    found = await connection.run_sync(reflect)
    missing = sorted(set(metadata.tables) - set(found.tables))
    if missing:
        raise BackupError(
            f"the database has no table {', '.join(missing)}: it is older than this cms; "
            "run `cms db upgrade` first"
        )
    specs = []
    for table in found.sorted_tables:
        known = metadata.tables.get(table.name)
        if known is None:
            specs.append(table_spec(table))
            continue
        dialect_columns = {c for t, c in _tables.DIALECT_COLUMNS if t == table.name}
        if set(table.columns.keys()) - dialect_columns != set(known.columns.keys()):
            raise BackupError(
                f"the database's table {table.name} has other columns than this cms's: "
                "the database is at another schema; run `cms db upgrade` first"
            )
        specs.append(table_spec(known))
    return specs


async def _revisions(connection: AsyncConnection) -> tuple[str, ...]:
    versions = Table(VERSION_TABLE, MetaData(), Column("version_num", String))
    rows = await connection.execute(select(versions.c.version_num))
    return tuple(sorted(str(row[0]) for row in rows))


async def _table_names(connection: AsyncConnection) -> set[str]:
    return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def _read_snapshot(
    connection: AsyncConnection, metadata: MetaData, write: Callable[[bytes], object]
) -> tuple[tuple[str, ...], dict[str, int]]:
    """Write the header and every table with ``write``, in the caller's one read transaction.

    Returns:
        The database's revisions, and each table's row count.
    """
    # The snapshot begins with the transaction's first statement, this one:
    # everything below reads the database as it was then.
    if VERSION_TABLE not in await _table_names(connection):
        raise BackupError("the database has no schema: run `cms db upgrade` first")
    revisions = await _revisions(connection)
    specs = await _database_tables(connection, metadata)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "database": connection.dialect.name,
        "revisions": list(revisions),
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "tables": [spec.name for spec in specs],
    }
    encoder = msgspec.json.Encoder()
    write(encoder.encode(header) + b"\n")
    counts: dict[str, int] = {}
    for spec in specs:
        table = spec.table()
        write(encoder.encode({"table": spec.name, "columns": spec.columns}) + b"\n")
        encode = _row_codec(spec.columns, _encoder)
        # Primary-key order: the same database always makes the same file.
        order = [table.c[name] for name in spec.key] or list(table.c)
        result = await connection.stream(select(table).order_by(*order))
        count = 0
        async for rows in result.partitions(BATCH):
            for row in rows:
                write(encoder.encode(encode(row)) + b"\n")
            count += len(rows)
        counts[spec.name] = count
    write(encoder.encode({"end": True, "rows": counts}) + b"\n")
    return revisions, counts


class _Output:
    """The file a backup writes: beside its final name until whole, then renamed into place.

    Its errors are the file's (a missing folder, a full disk), told apart from
    the database's.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        self.file: gzip.GzipFile | None = None

    def __enter__(self) -> _Output:
        with self._errors():
            self.file = gzip.open(self.partial, "wb", compresslevel=6)
        return self

    def write(self, data: bytes) -> None:
        assert self.file is not None
        with self._errors():
            self.file.write(data)

    def commit(self) -> None:
        """Finish the file and give it its name."""
        assert self.file is not None
        with self._errors():
            self.file.close()
            self.partial.replace(self.path)

    def __exit__(self, *_exc: object) -> None:
        if self.file is not None:
            self.file.close()
        self.partial.unlink(missing_ok=True)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise BackupError(f"cannot write {self.path}: {exc}") from exc


def _existing(database_url: str) -> None:
    database = make_url(database_url).database
    if is_sqlite(database_url) and database and not Path(database).is_file():
        # Connecting would make an empty file there, and the backup would say "no schema".
        raise BackupError(f"there is no database at {database}")


def _database_error(exc: Exception) -> str:
    """The driver's own words, without the statement SQLAlchemy adds to them."""
    return str(getattr(exc, "orig", None) or exc).splitlines()[0]


async def backup(database_url: str, path: Path, metadata: MetaData | None = None) -> BackupReport:
    """Write the database at ``database_url`` to ``path``, consistent, while others write.

    The file appears whole or not at all: it is written beside ``path`` and
    renamed into place when complete.

    Args:
        metadata: the tables the CMS describes (SQLModel's by default); every
            other table of the database (a plugin's own) is backed up too, as
            the database describes it.

    Raises:
        BackupError: the database cannot be read, or the file cannot be written.
    """
    metadata = metadata if metadata is not None else SQLModel.metadata
    _existing(database_url)
    engine = create_engine(database_url)
    try:
        with _Output(path) as output:
            async with engine.connect() as connection:
                if connection.dialect.name == "postgresql":
                    # One snapshot for every statement, as pg_dump takes it; read-only
                    # so that it can never hold a lock a writer waits for.
                    connection = await connection.execution_options(
                        isolation_level="REPEATABLE READ", postgresql_readonly=True
                    )
                # On SQLite this BEGIN is deferred (cms.storage.db): a reader that
                # never takes the write lock, holding one WAL snapshot until it ends.
                async with connection.begin():
                    revisions, counts = await _read_snapshot(connection, metadata, output.write)
            output.commit()
    except SQLAlchemyError as exc:
        raise BackupError(f"cannot read the database: {_database_error(exc)}") from exc
    except OSError as exc:
        raise BackupError(f"cannot reach the database: {exc}") from exc
    finally:
        await engine.dispose()
    return BackupReport(path, revisions, counts)


# --- Reading a file ---------------------------------------------------------------


class _Line(msgspec.Struct):
    """A line that is an object: the header, a table's start, or the end."""

    format: str | None = None
    version: int | None = None
    database: str | None = None
    revisions: list[str] | None = None
    created_at: str | None = None
    tables: list[str] | None = None
    table: str | None = None
    columns: list[tuple[str, str]] | None = None
    end: bool = False
    rows: dict[str, int] | None = None


@dataclass(frozen=True)
class _Rows:
    """A batch of one table's rows, decoded to Python values."""

    spec: TableSpec
    rows: list[list[Any]]


def _header(path: Path, line: bytes, decoder: msgspec.json.Decoder[Any]) -> Header:
    try:
        head = decoder.decode(line)
    except msgspec.DecodeError:
        head = None
    if not isinstance(head, _Line) or head.format != FORMAT:
        raise BackupError(f"{path} is not a backup of this cms (it has no {FORMAT} header)")
    if head.version is None or not 1 <= head.version <= VERSION:
        raise BackupError(
            f"{path} is in backup format version {head.version}, which this cms cannot read "
            f"(it reads versions 1 to {VERSION}): restore it with a newer cms"
        )
    if head.revisions is None or head.tables is None or head.database is None:
        raise BackupError(f"{path} is corrupt: its header lacks revisions, tables or database")
    return Header(
        version=head.version,
        database=head.database,
        revisions=tuple(head.revisions),
        created_at=head.created_at or "",
        tables=tuple(head.tables),
    )


def _parse(path: Path) -> Iterator[Header | TableSpec | _Rows]:
    """The header, then each table's description followed by its rows in batches.

    Raises:
        BackupError: the file is not a backup, is corrupt or cut short, or its
            format is newer than this CMS reads.
    """
    decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(_Line | list[Any])
    number = 1
    try:
        with gzip.open(path, "rb") as lines:
            header = _header(path, lines.readline(), decoder)
            yield header
            spec: TableSpec | None = None
            batch: list[list[Any]] = []
            decode: Callable[[Sequence[Any]], list[Any]] = list
            counts: dict[str, int] = {}
            ended = False
            for raw in lines:
                number += 1
                item = decoder.decode(raw)
                if ended:
                    raise BackupError(f"{path} is corrupt: line {number} follows its end")
                if isinstance(item, list):
                    if spec is None:
                        raise BackupError(f"{path} is corrupt: line {number} is a row of no table")
                    batch.append(decode(item))
                    counts[spec.name] += 1
                    if len(batch) == BATCH:
                        yield _Rows(spec, batch)
                        batch = []
                    continue
                if spec is not None and batch:
                    yield _Rows(spec, batch)
                    batch = []
                if item.table is not None and item.columns is not None:
                    if item.table in counts or any(k not in _KIND_TYPES for _, k in item.columns):
                        raise BackupError(f"{path} is corrupt: line {number} ({item.table})")
                    spec = TableSpec(item.table, tuple(item.columns))
                    decode = _row_codec(spec.columns, _decoder)
                    counts[spec.name] = 0
                    yield spec
                elif item.end:
                    if item.rows != counts or tuple(counts) != header.tables:
                        raise BackupError(
                            f"{path} is corrupt: its tables and rows are not what its end says"
                        )
                    spec, ended = None, True
                else:
                    raise BackupError(f"{path} is corrupt: line {number} is not a backup line")
            if not ended:
                raise BackupError(f"{path} is cut short: it ends before its last line")
    except BackupError:
        raise
    except (msgspec.DecodeError, ValueError, TypeError) as exc:
        # A line that is not JSON, a row of the wrong width, a value its kind cannot take.
        raise BackupError(f"{path} is corrupt at line {number}: {exc}") from exc
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise BackupError(f"{path} is corrupt or cut short (not a whole gzip file): {exc}") from exc
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc}") from exc


def read_backup(path: Path) -> tuple[Header, list[TableSpec]]:
    """The header and tables of the backup at ``path``, having read the whole file back.

    Raises:
        BackupError: the file is not a backup this CMS can read, whole.
    """
    parts = _parse(path)
    header = next(parts)
    assert isinstance(header, Header)
    specs = [part for part in parts if isinstance(part, TableSpec)]
    return header, specs


# --- Restoring --------------------------------------------------------------------


Migrations = Mapping[str, Path]
"""The loaded plugins' migrations, plugin name to folder (``Plugins.migrations``)."""


def _check_revisions(database_url: str, revisions: Sequence[str], plugins: Migrations) -> bool:
    """Whether ``revisions`` are the newest of the core and ``plugins``; refuses unknown ones."""
    scripts = ScriptDirectory.from_config(alembic_config(database_url, plugins))
    for revision in revisions:
        try:
            scripts.get_revision(revision)
        except CommandError as exc:
            raise BackupError(
                f"the backup's schema revision {revision} is unknown here: the backup comes "
                "from a newer schema, or has the tables of a plugin that is not enabled "
                "(CMS_PLUGINS); restore it with the cms and plugins that wrote it, or newer"
            ) from exc
    return set(revisions) == set(scripts.get_heads())


def _migrate(database_url: str, revisions: Sequence[str], plugins: Migrations) -> None:
    # One revision per branch (the core's, each plugin's): each is upgraded to.
    for revision in revisions:
        upgrade(database_url, revision, plugins)


async def _rows(database_url: str, specs: Sequence[TableSpec]) -> dict[str, list[bytes]]:
    """Every row of each table as a backup writes it, sorted (PostgreSQL cannot order JSON)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection, connection.begin():
            found: dict[str, list[bytes]] = {}
            for spec in specs:
                encode = _row_codec(spec.columns, _encoder)
                result = await connection.execute(select(spec.table()))
                found[spec.name] = sorted(msgspec.json.encode(encode(row)) for row in result)
            return found
    finally:
        await engine.dispose()


async def _migrated_only(
    revisions: Sequence[str], specs: Sequence[TableSpec], plugins: Migrations
) -> dict[str, list[bytes]]:
    """What a database migrated to ``revisions`` holds before anything writes to it
    (single rows such as ``site_state``): a scratch SQLite database is migrated to see."""
    with tempfile.TemporaryDirectory(prefix="cms-restore-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'scratch.db'}"
        await asyncio.to_thread(_migrate, url, revisions, plugins)
        return await _rows(url, specs)


async def _prepare_target(
    database_url: str, header: Header, specs: Sequence[TableSpec], plugins: Migrations
) -> None:
    """Make the target a database at the file's revisions holding only what migrations wrote.

    A database with no tables is migrated; one already migrated to the
    file's revisions is taken if it holds nothing else. Anything else is refused.
    """
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            present = await _table_names(connection)
            revisions = await _revisions(connection) if VERSION_TABLE in present else None
            await connection.rollback()
    finally:
        await engine.dispose()
    if not present:
        await asyncio.to_thread(_migrate, database_url, header.revisions, plugins)
        return
    refusal = (
        "Restore into an empty database (a new SQLite file, a new PostgreSQL database); "
        "nothing was written"
    )
    if revisions != header.revisions:
        at = f"at revision {', '.join(revisions)}" if revisions else "with tables of its own"
        raise BackupError(
            f"the database is not empty: it is {at}, and the backup at revision "
            f"{', '.join(header.revisions)}. {refusal}"
        )
    if await _rows(database_url, specs) != await _migrated_only(header.revisions, specs, plugins):
        raise BackupError(f"the database is not empty: it holds rows. {refusal}")


async def _check_columns(connection: AsyncConnection, specs: Sequence[TableSpec]) -> None:
    """Refuse a file whose tables or columns its own revision does not have."""

    def columns(sync: Any) -> dict[str, set[str]]:
        found = inspect(sync)
        names = set(found.get_table_names())
        return {
            spec.name: {c["name"] for c in found.get_columns(spec.name)}
            for spec in specs
            if spec.name in names
        }

    present = await connection.run_sync(columns)
    for spec in specs:
        if spec.name not in present:
            raise BackupError(f"the backup has a table {spec.name} that its schema does not")
        extra = [name for name, _kind in spec.columns if name not in present[spec.name]]
        if extra:
            raise BackupError(
                f"the backup's table {spec.name} has columns its schema does not: "
                + ", ".join(extra)
            )


async def _reset_sequences(connection: AsyncConnection, specs: Sequence[TableSpec]) -> None:
    """Move every PostgreSQL sequence that numbers a column past the restored values.

    Rows went in with their ids; a sequence (``serial``, identity) would
    otherwise hand out ids that restored rows have.
    """
    quote = connection.dialect.identifier_preparer.quote
    for spec in specs:
        for name, kind in spec.columns:
            if kind != "int":
                continue
            # The table name is parsed as SQL (so quoted), the column's taken as written.
            sequence = await connection.scalar(
                select(func.pg_get_serial_sequence(quote(spec.name), name))
            )
            if sequence is not None:
                column = spec.table().c[name]
                # The next value is one past the largest restored (1 on an empty table).
                await connection.execute(
                    select(func.setval(sequence, func.coalesce(func.max(column), 0) + 1, false()))
                )


async def _insert(database_url: str, path: Path, specs: Sequence[TableSpec]) -> dict[str, int]:
    counts = {spec.name: 0 for spec in specs}
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            connection = await connection.execution_options(**WRITE_OPTIONS)
            async with connection.begin():
                await _check_columns(connection, specs)
                # What the migrations wrote (single rows such as site_state)
                # gives way to the file's rows; children first.
                for spec in reversed(specs):
                    await connection.execute(delete(spec.table()))
                for part in _parse(path):
                    if isinstance(part, _Rows):
                        names = [name for name, _kind in part.spec.columns]
                        await connection.execute(
                            part.spec.table().insert(),
                            [dict(zip(names, row, strict=True)) for row in part.rows],
                        )
                        counts[part.spec.name] += len(part.rows)
                if connection.dialect.name == "postgresql":
                    await _reset_sequences(connection, specs)
    finally:
        await engine.dispose()
    return counts


async def restore(
    database_url: str, path: Path, plugins: Migrations | None = None
) -> RestoreReport:
    """Restore the backup at ``path`` into the empty database at ``database_url``.

    The whole file is read first; then the database is migrated to the
    file's revisions, every row goes in in one transaction, and the database
    is migrated on to this CMS's newest schema if the file's is older.

    Args:
        plugins: the loaded plugins' migrations (name to folder): a file
            taken with a plugin's tables needs that plugin's versions.

    Raises:
        BackupError: the file is not a readable backup or comes from a newer
            schema, the database is not empty, or it refused the rows (the
            transaction is rolled back: it holds no row of the file, and a
            new attempt can be made into it).
    """
    header, specs = read_backup(path)
    plugins = plugins or {}
    try:
        newest = _check_revisions(database_url, header.revisions, plugins)
        await _prepare_target(database_url, header, specs, plugins)
        counts = await _insert(database_url, path, specs)
    except MigrationError as exc:
        raise BackupError(f"cannot migrate the database: {exc}") from exc
    except SQLAlchemyError as exc:
        reason = _database_error(exc)
        raise BackupError(f"the restore failed, and nothing was restored: {reason}") from exc
    except OSError as exc:
        raise BackupError(f"cannot reach the database: {exc}") from exc
    if not newest:
        try:
            await asyncio.to_thread(upgrade, database_url, "heads", plugins)
        except (MigrationError, SQLAlchemyError, OSError) as exc:
            raise BackupError(
                f"every row was restored at revision {', '.join(header.revisions)}, but "
                f"migrating on to the newest schema failed: {_database_error(exc)}; "
                "run `cms db upgrade` once that is fixed"
            ) from exc
    return RestoreReport(header.revisions, counts, upgraded=not newest)
