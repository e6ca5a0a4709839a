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
  another writer got in between, whatever the timeout. Read-only transactions (execution option
  `READ_ONLY`) begin with a plain BEGIN: a snapshot, no lock.

Each entry point (the bot, a command, the web site, a test) opens one `Database` from a URL and
passes it to what needs it (`Store(db, …)`, `BroadcastStore(db, …)`, the workers, the health
check). It owns the async engine, the `Runner` of the hot-path transactions, the write lock of
SQLite's async writers, and their shutdown: `await db.close()`, or `async with Database(url) as db`.
There is no registry: two `Database`s on one file are two independent sets of connections and
threads.

Hot-path transactions go through `db.runner`: a synchronous function run on a `Connection` inside
one transaction.

- PostgreSQL (and in-memory SQLite): `AsyncConnection.run_sync` on the async engine.
- SQLite files: the whole transaction runs in one worker thread on a synchronous pysqlite engine
  on the same file. aiosqlite hops to its thread and back for every cursor, execute, fetch and
  close (about 30 hops for one answer); here it is one hop per transaction, about 3 times faster,
  and the event loop stays free while a writer waits for another process's lock. Writers of a
  process use a single thread, so they queue there instead of sleeping in SQLite's busy handler.
  `write_raw` runs a short transaction on a plain sqlite3 connection, without SQLAlchemy:
  `Store.apply`, the path of every answer (see `storage.apply_ops`). When the write lock is free
  it runs right on the event loop (about 0.1 ms, less than the hop to a thread and back); when
  another connection holds the lock, on the writer thread, so that the loop never waits.
- WAL checkpoints run on a thread of their own (`Checkpointer`), not inside a writer's commit.

Whole transactions are retried a few times, with jittered exponential backoff, on "database is
locked" (SQLite), on serialization failures and on deadlocks (PostgreSQL).
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from storage.files import create_private_file, make_private_dirs, warn_if_shared

log = logging.getLogger(__name__)

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite writer waits for another process's write lock before giving up."""

SQLITE_READER_THREADS = 4

CHECKPOINT_INTERVAL = 1.0
"""Seconds between WAL checkpoints of a process that writes (see `Checkpointer`)."""
WAL_BACKLOG_WARNING = 100_000
"""Pages (4 KB) left in the WAL after a checkpoint above which a warning is logged."""

RETRY_ATTEMPTS = 6
"""Attempts of one transaction on a retryable error (the first one included)."""
RETRY_BASE_DELAY = 0.02
RETRY_MAX_DELAY = 1.0

PG_STATEMENT_CACHE = 256
"""Prepared statements asyncpg keeps per PostgreSQL connection (its default is 100)."""
PG_POOL_SIZE = 20
"""PostgreSQL connections a process keeps by default (`DATABASE_POOL_SIZE`)."""

READ_ONLY = "consultbot_read_only"
"""Execution option: on SQLite, begin with a deferred BEGIN (a read snapshot, no write lock)."""

_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
"""PostgreSQL: serialization_failure, deadlock_detected."""


def is_sqlite(engine: AsyncEngine | AsyncConnection | Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL, or None for an in-memory database."""
    database = url.database
    if not database or database == ":memory:" or "mode=memory" in str(url):
        return None
    if database.startswith("file:"):
        database = database[len("file:") :].split("?", 1)[0]
        if database.startswith(":memory:"):
            return None
    return Path(database)


def _use_wal(cursor: Any) -> None:
    """Switch the file to WAL (a setting the file keeps). The switch needs the file to itself and
    SQLite answers "database is locked" at once, without its busy handler, when another
    connection holds it (two processes opening a new file together): wait and try again."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    attempt = 0
    while True:
        try:
            cursor.execute("PRAGMA journal_mode")
            if str(cursor.fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except Exception as error:  # the driver's OperationalError (sqlite3 or aiosqlite's)
            attempt += 1
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(_retry_delay(attempt))


def _install_sqlite_hooks(
    engine: Engine, *, wal: bool, foreign_keys: bool, autocheckpoint: bool = True
) -> None:
    """The pragmas of every new connection, and our own BEGIN (see the module's docstring).
    `autocheckpoint=False`: this engine's connections leave checkpoints to a `Checkpointer`."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Disable the driver's own BEGIN: `_on_begin` emits ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if wal:
                _use_wal(cursor)
            cursor.execute("PRAGMA synchronous = NORMAL")
            if not autocheckpoint:
                cursor.execute("PRAGMA wal_autocheckpoint = 0")
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


class UnsupportedDatabase(ValueError):
    """A database URL that is malformed or names a database or driver other than the two
    supported; the message says what is expected (never the password)."""


SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


def database_url(url: str | URL) -> URL:
    """`url` parsed, if it is `sqlite+aiosqlite://…` or `postgresql+asyncpg://…`."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UnsupportedDatabase(
            "not a database URL: expected sqlite+aiosqlite:///path/to/file.db or "
            "postgresql+asyncpg://user:password@host/name"
        ) from None
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise UnsupportedDatabase(
            f"unsupported database {parsed.drivername!r}: use sqlite+aiosqlite:///path/to/file.db "
            "or postgresql+asyncpg://user:password@host/name"
        )
    return parsed


def create_engine(
    url: str | URL,
    *,
    pool_size: int | None = None,
    echo: bool = False,
    foreign_keys: bool = True,
) -> AsyncEngine:
    """An async engine for `sqlite+aiosqlite://…` or `postgresql+asyncpg://…`.

    Its errors never show the statement's parameters (`hide_parameters`): they would put what
    participants typed into the logs. For SQLite the folder of the file is created if missing
    (mode 0700), and the file itself if missing (empty, mode 0600: SQLite gives its -wal, -shm
    and -journal the file's mode), so that the participants' data is readable by its owner only,
    whatever the umask.
    `pool_size`: PostgreSQL's connections (default `PG_POOL_SIZE`); SQLite's pool is fixed.
    `foreign_keys=False` is for migrations only (SQLite table rebuilds must not cascade).
    """
    parsed = database_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = sqlite_path(parsed)
        if path is not None and not path.parent.exists():
            make_private_dirs(path.parent)
            log.info("created the database folder %s", path.parent)
        if path is not None:
            if create_private_file(path):
                log.info("created the database file %s", path)
            else:
                warn_if_shared(path, "the database file")
        pool: dict[str, Any] = {}
        if path is not None:  # in-memory databases use a StaticPool, which takes no sizes
            pool = {"pool_size": 5, "max_overflow": 10, "pool_timeout": 60}
        engine = create_async_engine(parsed, echo=echo, hide_parameters=True, **pool)
        _install_sqlite_hooks(engine.sync_engine, wal=path is not None, foreign_keys=foreign_keys)
        return engine
    if backend == "postgresql":
        # A fixed pool, no overflow: an answer holds its connection for two round trips (see
        # `storage.pg_apply`), and the answers beyond `pool_size` in flight wait for one.
        # Overflow connections were opened and closed as the load went up and down (70 new
        # server processes in 8 s at 40 answers in flight, each a fork, a handshake and the
        # statements prepared again): a fifth of the bot's throughput. Processes x pool_size
        # must stay below the server's max_connections (100 by default). asyncpg keeps each
        # connection's prepared statements (the hot path's statements come in a few dozen
        # shapes).
        return create_async_engine(
            parsed,
            echo=echo,
            hide_parameters=True,
            pool_size=pool_size or PG_POOL_SIZE,
            max_overflow=0,
            pool_timeout=30,
            pool_recycle=1800,
            connect_args={"statement_cache_size": PG_STATEMENT_CACHE},
        )
    raise AssertionError("unreachable: database_url() accepts these two only")


def is_retryable(error: BaseException) -> bool:
    """A transient error after which the whole transaction may simply be run again."""
    if not isinstance(error, DBAPIError) or error.connection_invalidated:
        return False
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return True
    return _is_locked(orig)


def _is_locked(error: BaseException | None) -> bool:
    message = str(error).lower()
    return "database is locked" in message or "database table is locked" in message


def _retry_delay(attempt: int) -> float:
    delay: float = min(RETRY_MAX_DELAY, RETRY_BASE_DELAY * 2.0 ** (attempt - 1))
    return delay * (0.5 + random.random())


def _log_retry(
    what: str, error: DBAPIError | sqlite3.Error, attempt: int, attempts: int, delay: float
) -> None:
    orig = getattr(error, "orig", None) or error
    reason = str(orig).strip().splitlines()[0]
    log.warning(
        "%s: %s (attempt %d of %d), retrying in %.0f ms",
        what,
        reason,
        attempt,
        attempts,
        delay * 1000,
    )


# -- runners: synchronous transaction functions, run the fastest way for the backend -------------


class Runner(Protocol):
    """Runs `work(connection)` in one transaction; `write` retries it on transient errors."""

    async def read(self, work: Callable[[Connection], T]) -> T: ...

    async def write(self, work: Callable[[Connection], T], *, what: str = "transaction") -> T: ...


class AsyncRunner:
    """On the async engine itself, through `AsyncConnection.run_sync`."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def read(self, work: Callable[[Connection], T]) -> T:
        async with self._database.read_transaction() as connection:
            return await connection.run_sync(work)

    async def write(self, work: Callable[[Connection], T], *, what: str = "transaction") -> T:
        async def run(connection: AsyncConnection) -> T:
            return await connection.run_sync(work)

        return await self._database.run_transaction(run, what=what)


class Checkpointer:
    """Copies the WAL back into the database file every `interval` seconds after writes, on a
    thread of its own.

    By default SQLite checkpoints inside the COMMIT that takes the WAL past 1,000 pages, about
    every 200 answers: that commit copies the pages and waits for two fsyncs, and every answer
    queued behind it on the writer thread waits too (p99 latency went from 30 ms to 250-650 ms
    in the benchmark). The writer's connections turn automatic checkpoints off
    (`wal_autocheckpoint = 0`); this thread runs PASSIVE checkpoints, which never block writers
    or readers, so the WAL stays a few MB. When the database is closed, SQLite checkpoints what
    is left and deletes the WAL.
    """

    def __init__(self, engine: Engine, interval: float) -> None:
        self.engine = engine
        self.interval = interval
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.checkpoints = 0
        """Checkpoints run so far (tests wait on it)."""

    def written(self) -> None:
        """Something was committed (starts the thread on the first call)."""
        self._dirty.set()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="sqlite-checkpointer", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self._dirty.is_set():
                self._dirty.clear()
                self.checkpoint()

    def checkpoint(self) -> None:
        try:
            # A pooled DBAPI connection (our pragmas, no BEGIN: a checkpoint runs outside any
            # transaction).
            raw = self.engine.raw_connection()
            try:
                _busy, frames, copied = raw.driver_connection.execute(  # type: ignore[union-attr]
                    "PRAGMA wal_checkpoint(PASSIVE)"
                ).fetchone()
            finally:
                raw.close()
        except Exception:
            log.exception("WAL checkpoint failed; trying again in %ss", self.interval)
            self._dirty.set()
            return
        self.checkpoints += 1
        if frames - copied > WAL_BACKLOG_WARNING:
            log.warning(
                "WAL checkpoint: %d of %d pages still to copy (long-running readers?)",
                frames - copied,
                frames,
            )

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


class ThreadedSQLiteRunner:
    """On a synchronous pysqlite engine over the same file: one writer thread, a few readers,
    and a checkpointer."""

    def __init__(self, engine: AsyncEngine) -> None:
        url = engine.url.set(drivername="sqlite+pysqlite")
        self.engine = sqlalchemy.create_engine(
            url,
            pool_size=SQLITE_READER_THREADS + 3,
            max_overflow=0,
            connect_args={"check_same_thread": False},
            hide_parameters=True,
        )
        _install_sqlite_hooks(self.engine, wal=True, foreign_keys=True, autocheckpoint=False)
        self._checkpointer = Checkpointer(self.engine, CHECKPOINT_INTERVAL)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._raw: Any = None
        """The writer thread's own connection for `write_raw` (a pooled DBAPI connection)."""
        self._inline: sqlite3.Connection | None = None
        """The event loop's connection for `write_raw` (busy timeout 0)."""
        self._queued = 0
        """Transactions submitted to the writer thread and not finished (counted on the loop)."""
        self._idle_waiters: list[asyncio.Future[None]] = []
        """Answers waiting for the writer thread to have nothing queued."""
        self.fallbacks = 0
        """`write_raw` transactions that went to the writer thread."""
        self._readers = ThreadPoolExecutor(
            SQLITE_READER_THREADS, thread_name_prefix="sqlite-reader"
        )
        self.closed = False

    def _check_open(self) -> None:
        if self.closed:
            raise DatabaseClosed(f"the database {_describe(self.engine.url)} is closed")

    def _read(self, work: Callable[[Connection], T]) -> T:
        with self.engine.connect() as connection:
            connection.execution_options(**{READ_ONLY: True})
            with connection.begin():
                return work(connection)

    def _write(self, work: Callable[[Connection], T], what: str) -> T:
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            try:
                with self.engine.begin() as connection:
                    result = work(connection)
                self._checkpointer.written()
                return result
            except DBAPIError as error:
                if attempt == RETRY_ATTEMPTS or not is_retryable(error):
                    raise
                delay = _retry_delay(attempt)
                _log_retry(what, error, attempt, RETRY_ATTEMPTS, delay)
                time.sleep(delay)  # in the writer thread: the event loop goes on
        raise AssertionError("unreachable")

    def _write_raw(self, work: Callable[[sqlite3.Connection], T], what: str) -> T:
        if self._raw is None:
            # Checked out of the engine's pool, so it has the pragmas of every connection.
            self._raw = self.engine.raw_connection()
        connection: sqlite3.Connection = self._raw.driver_connection
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            try:
                return self._transaction(connection, work)
            except sqlite3.OperationalError as error:
                if attempt == RETRY_ATTEMPTS or not _is_locked(error):
                    raise
                delay = _retry_delay(attempt)
                _log_retry(what, error, attempt, RETRY_ATTEMPTS, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    async def write_raw(
        self, work: Callable[[sqlite3.Connection], T], *, what: str = "transaction"
    ) -> T:
        """Run `work` in a transaction (BEGIN IMMEDIATE … COMMIT) on a plain sqlite3 connection:
        the hot path (see `storage.apply_ops`). `work` must be short and may run more than once.

        Right here on the event loop, once the writer thread has finished what this process
        gave it: a short transaction costs less than handing it to a thread and back (and the
        two threads passing the GIL to and fro at each statement). When another connection (a
        process) holds the lock, the event loop never waits for it: the transaction goes to the
        writer thread, which waits with the busy timeout and retries."""
        self._check_open()
        loop = asyncio.get_running_loop()
        inline = self._inline
        if inline is None:
            # Opening runs the pragmas, which may wait for another process: not on the loop.
            inline = await loop.run_in_executor(self._writer, self._open_inline)
            if self._inline is None:
                self._inline = inline
            else:  # another task opened it meanwhile
                inline.close()
                inline = self._inline
        if self._queued:
            # The writer thread holds or is about to take the lock: let it finish first.
            idle = loop.create_future()
            self._idle_waiters.append(idle)
            await idle
            self._check_open()  # closed while this transaction waited
        done, result = self._try_inline(inline, work)
        if done:
            return result  # type: ignore[return-value]
        self.fallbacks += 1
        return await self._on_writer(self._write_raw, work, what)

    async def _on_writer(self, function: Callable[..., T], *args: Any) -> T:
        """Run on the writer thread, counting what is queued there."""
        self._queued += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._writer, function, *args)
        finally:
            self._queued -= 1
            if not self._queued:
                waiters, self._idle_waiters = self._idle_waiters, []
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)

    def _open_inline(self) -> sqlite3.Connection:
        raw = self.engine.raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        raw.detach()  # its busy timeout of 0 must never reach the pool's other users
        driver.execute("PRAGMA busy_timeout = 0")  # fail at once, never wait
        return driver

    def _try_inline(
        self, connection: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]
    ) -> tuple[bool, T | None]:
        """(True, result), or (False, None) when the database was locked: nothing was done."""
        try:
            return True, self._transaction(connection, work)
        except sqlite3.OperationalError as error:
            if _is_locked(error):
                return False, None
            raise

    def _transaction(
        self, connection: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]
    ) -> T:
        """BEGIN IMMEDIATE, `work`, COMMIT; rolled back on any error."""
        connection.execute("BEGIN IMMEDIATE")
        try:
            result = work(connection)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        self._checkpointer.written()
        return result

    async def read(self, work: Callable[[Connection], T]) -> T:
        self._check_open()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._read, work)

    async def write(self, work: Callable[[Connection], T], *, what: str = "transaction") -> T:
        self._check_open()
        return await self._on_writer(self._write, work, what)

    def close(self) -> None:
        """Waits for the transactions given to the writer thread, then stops every thread and
        closes every connection. Safe to call twice."""
        self.closed = True
        self._writer.shutdown(wait=True)
        self._checkpointer.close()
        for raw in (self._raw, self._inline):
            if raw is not None:
                raw.close()
        self._raw = self._inline = None
        self._readers.shutdown(wait=True)
        self.engine.dispose()


class DatabaseClosed(RuntimeError):
    """A `Database` (or its runner) used after `close()`."""


def _describe(url: URL) -> str:
    """The URL without its password, for messages."""
    return url.render_as_string(hide_password=True)


class Database:
    """One database opened by an entry point: the async engine, the runner of the hot-path
    transactions (`ThreadedSQLiteRunner` for a SQLite file: writer thread, inline connection,
    reader threads, checkpointer; `AsyncRunner` for PostgreSQL and in-memory SQLite) and, on
    SQLite, the lock that makes this process's async writers take turns.

    Opening starts no thread and no connection (they start on first use). `close()` lets the
    writer thread finish what it was given, stops the threads and closes every connection; it
    may be called twice, and the database refuses any use after it (`DatabaseClosed`).

    `threaded=False` runs a SQLite file's transactions on the async engine too (the path
    PostgreSQL takes), so that tests can compare the two paths on one backend.
    """

    def __init__(
        self,
        url: str | URL,
        *,
        pool_size: int | None = None,
        echo: bool = False,
        threaded: bool = True,
    ) -> None:
        self._engine = create_engine(url, pool_size=pool_size, echo=echo)
        self.url: URL = self._engine.url
        self.is_sqlite = is_sqlite(self._engine)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        """SQLite only: one async writer at a time in this process (the lock binds to the event
        loop that first waits on it)."""
        self._runner: Runner
        self._threaded: ThreadedSQLiteRunner | None = None
        if threaded and self.is_sqlite and sqlite_path(self.url) is not None:
            self._runner = self._threaded = ThreadedSQLiteRunner(self._engine)
        else:
            self._runner = AsyncRunner(self)
        self.closed = False

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<Database {_describe(self.url)} ({state})>"

    def _check_open(self) -> None:
        if self.closed:
            raise DatabaseClosed(f"the database {_describe(self.url)} is closed")

    @property
    def engine(self) -> AsyncEngine:
        self._check_open()
        return self._engine

    @property
    def runner(self) -> Runner:
        """Runs the hot-path transactions (`read`, `write`; `write_raw` on a SQLite file)."""
        self._check_open()
        return self._runner

    # -- async transactions (any code holding an AsyncConnection) --------------------------------

    @asynccontextmanager
    async def write_transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a write transaction (BEGIN IMMEDIATE on SQLite), committed on exit."""
        engine = self.engine
        if self._write_lock is None:
            async with engine.begin() as connection:
                yield connection
            return
        async with self._write_lock, engine.begin() as connection:
            yield connection

    @asynccontextmanager
    async def read_transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a read-only transaction: one consistent snapshot, no write lock."""
        async with self.engine.connect() as connection:
            await connection.execution_options(**{READ_ONLY: True})
            async with connection.begin():
                yield connection

    async def run_transaction(
        self,
        work: Callable[[AsyncConnection], Awaitable[T]],
        *,
        what: str = "transaction",
        attempts: int = RETRY_ATTEMPTS,
    ) -> T:
        """Run `work` in one write transaction, again from scratch on a retryable error.

        `work` must be safe to run more than once: everything it did is rolled back before a
        retry.
        """
        for attempt in range(1, attempts + 1):
            try:
                async with self.write_transaction() as connection:
                    return await work(connection)
            except DBAPIError as error:
                if attempt == attempts or not is_retryable(error):
                    raise
                delay = _retry_delay(attempt)
                _log_retry(what, error, attempt, attempts, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def ping(self) -> None:
        """`SELECT 1` on a connection of the engine (the health checks): raises when the database
        cannot be reached."""
        async with self.engine.connect() as connection:
            await connection.execute(sqlalchemy.text("SELECT 1"))

    async def close(self) -> None:
        """Stop the runner's threads (the writer finishes its queue first), then close the
        engine's connections. Runs on the event loop, as SQLAlchemy's own `dispose` does: the
        inline connection is the loop's, and must not be closed under a transaction of it."""
        if self.closed:
            return
        self.closed = True
        if self._threaded is not None:
            self._threaded.close()
        await self._engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()
