"""Engines for SQLite (the embedded default) and PostgreSQL; transactions that survive contention.

SQLite is set up for many short writes from one process (and the occasional second process, such as
the command line while the bot runs):

- `journal_mode=WAL`: readers never block the writer and the writer never blocks readers.
- `synchronous=NORMAL`: in WAL mode a commit is durable against a crash of the application (an
  exception, SIGKILL, OOM-kill): the committed transaction is in the WAL file, which the operating
  system holds and the next connection replays. Only a power loss or kernel crash may lose the
  last transactions before the WAL is synced at a checkpoint; the database never gets corrupted.
  SIGKILL of the bot loses nothing it has committed (a test kills a process and checks this).
- `busy_timeout`: a writer that finds the database locked by another process waits for it.
- `foreign_keys=ON`: SQLite enforces foreign keys only when asked, per connection.
- Transactions that write begin with `BEGIN IMMEDIATE`, following SQLAlchemy's recipe for pysqlite
  and aiosqlite (the driver's own BEGIN is disabled and we emit ours): the write lock is taken at
  the start, where `busy_timeout` makes writers queue. With the driver's deferred BEGIN, a
  transaction that read first and then writes would fail at once with "database is locked" when
  another writer got in between, whatever the timeout.
- Within one process writers take turns on an asyncio lock (`write_transaction`) instead of spinning
  in SQLite's busy handler, which sleeps in steps of up to 100 ms.

Whole transactions are also retried a few times, with jittered exponential backoff, on "database is
locked" (SQLite), on serialization failures and on deadlocks (PostgreSQL): `run_transaction`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

log = logging.getLogger(__name__)

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite writer waits for another process's write lock before giving up."""

RETRY_ATTEMPTS = 6
"""Attempts of one transaction on a retryable error (the first one included)."""
RETRY_BASE_DELAY = 0.02
RETRY_MAX_DELAY = 1.0

READ_ONLY = "consultbot_read_only"
"""Execution option: on SQLite, begin with a deferred BEGIN (a read snapshot, no write lock)."""

_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
"""PostgreSQL: serialization_failure, deadlock_detected."""

_write_locks: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()


def is_sqlite(engine: AsyncEngine | AsyncConnection) -> bool:
    return engine.dialect.name == "sqlite"


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL, or None for an in-memory database."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    if database.startswith("file:"):
        database = database[len("file:") :].split("?", 1)[0]
    return Path(database)


def create_engine(
    url: str | URL,
    *,
    pool_size: int | None = None,
    echo: bool = False,
    foreign_keys: bool = True,
) -> AsyncEngine:
    """An async engine for `sqlite+aiosqlite://…` or `postgresql+asyncpg://…`.

    `foreign_keys=False` is for migrations only (SQLite table rebuilds must not cascade).
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _create_sqlite_engine(parsed, pool_size=pool_size, echo=echo, fks=foreign_keys)
    if backend == "postgresql":
        return create_async_engine(
            parsed,
            echo=echo,
            pool_size=pool_size or 10,
            max_overflow=10,
            pool_timeout=30,
            pool_recycle=1800,
        )
    raise ValueError(
        f"unsupported database {backend!r}: use sqlite+aiosqlite or postgresql+asyncpg"
    )


def _create_sqlite_engine(url: URL, *, pool_size: int | None, echo: bool, fks: bool) -> AsyncEngine:
    path = sqlite_path(url)
    if path is not None and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        log.info("created the database folder %s", path.parent)
    pool: dict[str, Any] = {}
    if path is not None:  # in-memory databases use a StaticPool, which takes no sizes
        pool = {"pool_size": pool_size or 5, "max_overflow": 10, "pool_timeout": 60}
    engine = create_async_engine(url, echo=echo, **pool)
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Disable the driver's own BEGIN: `_on_begin` emits ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if path is not None:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if fks else 'OFF'}")
        finally:
            cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def is_retryable(error: BaseException) -> bool:
    """A transient error after which the whole transaction may simply be run again."""
    if not isinstance(error, DBAPIError) or error.connection_invalidated:
        return False
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return True
    message = str(orig).lower()
    return "database is locked" in message or "database table is locked" in message


def _write_lock(engine: AsyncEngine) -> asyncio.Lock | None:
    """SQLite only: one writer at a time per engine in this process."""
    if not is_sqlite(engine):
        return None
    lock = _write_locks.get(engine.sync_engine)
    if lock is None:
        lock = _write_locks[engine.sync_engine] = asyncio.Lock()
    return lock


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in a write transaction (BEGIN IMMEDIATE on SQLite), committed on exit."""
    lock = _write_lock(engine)
    if lock is None:
        async with engine.begin() as connection:
            yield connection
        return
    async with lock, engine.begin() as connection:
        yield connection


@asynccontextmanager
async def read_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in a read-only transaction: one consistent snapshot, no write lock."""
    async with engine.connect() as connection:
        await connection.execution_options(**{READ_ONLY: True})
        async with connection.begin():
            yield connection


async def run_transaction(
    engine: AsyncEngine,
    work: Callable[[AsyncConnection], Awaitable[T]],
    *,
    what: str = "transaction",
    attempts: int = RETRY_ATTEMPTS,
) -> T:
    """Run `work` in one write transaction, again from scratch on a retryable error.

    `work` must be safe to run more than once: everything it did is rolled back before a retry.
    """
    for attempt in range(1, attempts + 1):
        try:
            async with write_transaction(engine) as connection:
                return await work(connection)
        except DBAPIError as error:
            if attempt == attempts or not is_retryable(error):
                raise
            delay = min(RETRY_MAX_DELAY, RETRY_BASE_DELAY * 2 ** (attempt - 1))
            delay *= 0.5 + random.random()
            log.warning(
                "%s: %s (attempt %d of %d), retrying in %.0f ms",
                what,
                str(error.orig).strip().splitlines()[0] if error.orig else error,
                attempt,
                attempts,
                delay * 1000,
            )
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")
