"""The async engine and its per-connection set-up."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a writer waits for another's lock before "database is locked". Writers of
several processes (workers, `cms worker`, a command) share one file, and on a busy
machine one write can hold the lock for seconds: five proved too short (a webhook
attempt went unrecorded). The wait is in the driver's thread, never the event loop."""

CONNECT_TIMEOUT = 5.0
"""Seconds to open a connection to PostgreSQL before giving up (asyncpg waits 60 by
default): a server that cannot be reached makes requests fail in seconds, not hang."""

WRITE_OPTIONS = {"cms_write": True}
"""Execution options of a session that will write: on SQLite its transaction
takes the write lock at ``BEGIN`` (``BEGIN IMMEDIATE``), see :func:`_sqlite_begin`."""


def is_sqlite(url: str) -> bool:
    """Whether ``url`` names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def ensure_sqlite_folder(url: str) -> None:
    """Create the folder a SQLite file lives in, so a fresh clone just works."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; foreign keys are off by
    # default in SQLite; the busy timeout makes a second writer wait, not fail.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_explicit_begin(dbapi_connection: Any, _record: Any) -> None:
    # The driver would begin transactions itself, lazily and always DEFERRED;
    # with this off, _sqlite_begin says how each one begins.
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection: Any) -> None:
    # A DEFERRED transaction that reads and then writes cannot take the write
    # lock if another writer committed after its read: SQLite answers "database
    # is locked" at once, without waiting out the busy timeout. Sessions that
    # will write (WRITE_OPTIONS) take the lock when they begin, waiting their
    # turn; read-only ones stay DEFERRED, so readers never wait for writers.
    immediate = connection.get_execution_options().get("cms_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _connect_or_operational_error(
    dialect: Any, _record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
) -> Any:
    # asyncpg's own errors at connect are translated to DBAPI errors, but a
    # refused or timed-out socket comes out as a bare OSError or TimeoutError,
    # which SQLAlchemy passes on unwrapped. Raised as the DBAPI's
    # OperationalError, it arrives as SQLAlchemy's, like any other sign of a
    # database that cannot be reached (see database_fault).
    try:
        return dialect.connect(*cargs, **cparams)
    except (OSError, TimeoutError) as exc:
        raise dialect.loaded_dbapi.OperationalError(
            f"cannot connect: {type(exc).__name__}: {exc}".rstrip(": ")
        ) from exc


_ROLLED_BACK_BY = "cms_rolled_back_by"
"""Where a SQLite connection keeps the fault that made SQLite roll its transaction back."""


def _sqlite_fault_over_lost_savepoint(context: ExceptionContext) -> BaseException | None:
    # On a full disk, an I/O error or a lock held too long, SQLite rolls the
    # whole transaction back by itself; undoing a savepoint of it (as a create
    # does after any error) then fails with "no such savepoint", and that error
    # would reach the caller instead of the fault. The fault is kept on the
    # connection until its transaction ends, and raised in place of the other.
    error, connection = context.original_exception, context.connection
    # Only SQLite's own errors: a task cancelled mid-statement also passes here,
    # and must stay cancelled (an invalidated connection's info would raise).
    if not isinstance(error, sqlite3.Error) or connection is None or connection.invalidated:
        return None
    info = connection.info
    if database_fault(error) is not None:
        info[_ROLLED_BACK_BY] = context.sqlalchemy_exception
        return None
    if "no such savepoint" in str(error):
        fault: BaseException | None = info.pop(_ROLLED_BACK_BY, None)
        return fault
    return None


def _sqlite_transaction_over(connection: Any) -> None:
    if not connection.invalidated:
        connection.info.pop(_ROLLED_BACK_BY, None)


def create_engine(url: str, *, for_migrations: bool = False) -> AsyncEngine:
    """An async engine for ``url``, with SQLite's pragmas set on every connection.

    Args:
        for_migrations: leave SQLite's transactions to the driver, as Alembic's
            batch migrations (which copy and drop tables) expect; the app's
            engine begins them itself (see :func:`_sqlite_begin`).
    """
    ensure_sqlite_folder(url)
    # hide_parameters: an error's message (and so a log line) names the
    # statement but not its values, which may be a webhook secret or a URL's.
    if is_sqlite(url):
        engine = create_async_engine(url, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "handle_error", _sqlite_fault_over_lost_savepoint)
        event.listen(engine.sync_engine, "commit", _sqlite_transaction_over)
        event.listen(engine.sync_engine, "rollback", _sqlite_transaction_over)
        if not for_migrations:
            event.listen(engine.sync_engine, "connect", _sqlite_explicit_begin)
            event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    # A pooled connection may have died with its server (a restart, a failover):
    # pinged before use, it is replaced instead of failing a request.
    asyncpg = make_url(url).get_driver_name() == "asyncpg"
    engine = create_async_engine(
        url,
        pool_pre_ping=True,
        hide_parameters=True,
        connect_args={"timeout": CONNECT_TIMEOUT} if asyncpg else {},
    )
    event.listen(engine.sync_engine, "do_connect", _connect_or_operational_error)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (responses are built after it)."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def writing(sessions: async_sessionmaker[AsyncSession]) -> AsyncSession:
    """A session for a transaction that will write (see :data:`WRITE_OPTIONS`).

    Any transaction that reads before it writes should use one: on SQLite a
    plain one fails at its first write if another writer committed after its
    first read.
    """
    return sessions(execution_options=WRITE_OPTIONS)


def select_columns(*columns: Any) -> Select[*tuple[Any, ...]]:
    """A SELECT of any number of columns, for ``session.exec``.

    sqlmodel's ``select()`` is typed for at most four columns; wider rows
    (an entry and the face of its target) go through this instead.
    """
    return Select(*columns)


Fault = Literal["full", "unavailable"]
"""What a database error says about the database: it has no space left for
writes (``full``), or it cannot serve now (``unavailable``: not reachable,
restarting, out of connections, locked too long, an I/O error)."""

_FULL_SQLSTATES = frozenset({"53100"})
"""PostgreSQL's ``disk_full``."""
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57P", "58")
"""Connection exceptions, insufficient resources, operator intervention (shutdown,
starting up) and system errors (I/O): PostgreSQL's codes for a server that cannot
do the work now, whatever the statement."""
_SQLITE_FULL = 13
_SQLITE_UNAVAILABLE = frozenset({5, 6, 7, 8, 10, 14, 15})
"""SQLITE_BUSY, _LOCKED, _NOMEM, _READONLY (a read-only file or file system), _IOERR,
_CANTOPEN and _PROTOCOL (primary result codes)."""


def database_fault(exc: BaseException) -> Fault | None:
    """Whether ``exc`` says the database is full or unavailable, rather than that a
    statement was wrong; None for any other error (a bug, a constraint).

    Both faults are passing ones from a client's side: the same request may
    succeed later, once the database is back or has room. An error raised from
    one (``raise ... from``: a plugin's hook that failed on a lost connection)
    is that fault too.
    """
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        fault = _fault_of(cause)
        if fault is not None:
            return fault
        cause = cause.__cause__
    return None


def _fault_of(exc: BaseException) -> Fault | None:
    if isinstance(exc, PoolTimeout):
        return "unavailable"  # every pooled connection busy for the pool's whole timeout
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if isinstance(sqlstate, str):
        if sqlstate in _FULL_SQLSTATES:
            return "full"
        if sqlstate.startswith(_UNAVAILABLE_SQLSTATE_CLASSES):
            return "unavailable"
    code = getattr(orig, "sqlite_errorcode", None)  # None for the module's own errors
    if isinstance(orig, sqlite3.Error) and isinstance(code, int):
        primary = code & 0xFF  # without the extended code's bits
        if primary == _SQLITE_FULL:
            return "full"
        # SQLite calls a syntax error or a missing table an OperationalError too.
        return "unavailable" if primary in _SQLITE_UNAVAILABLE else None
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return "unavailable"
    if isinstance(exc, (OperationalError, InterfaceError, sqlite3.OperationalError)):
        return "unavailable"
    return None
