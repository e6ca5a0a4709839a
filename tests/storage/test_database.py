"""Databases and transactions: SQLite settings, contention, retries, closing; PostgreSQL pool."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from dialogs import Survey
from dialogs.events import Start
from storage import database
from storage.database import (
    AsyncRunner,
    Database,
    DatabaseClosed,
    ThreadedSQLiteRunner,
    is_retryable,
    sqlite_path,
)
from storage.repository import Store
from storage.schema import upgrade
from tests.storage.helpers import bundled_survey, during, fixed, stepper, tg


async def until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError(f"waited {timeout}s for {what}")
        await asyncio.sleep(0.01)


def locked() -> OperationalError:
    return OperationalError("INSERT …", {}, sqlite3.OperationalError("database is locked"))


class FakeAsyncpgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def test_retryable_errors() -> None:
    assert is_retryable(locked())
    assert is_retryable(OperationalError("x", {}, FakeAsyncpgError("40001")))
    assert is_retryable(OperationalError("x", {}, FakeAsyncpgError("40P01")))
    assert not is_retryable(OperationalError("x", {}, FakeAsyncpgError("42P01")))
    assert not is_retryable(IntegrityError("x", {}, sqlite3.IntegrityError("UNIQUE failed")))
    assert not is_retryable(ValueError("database is locked"))


def test_sqlite_path() -> None:
    from sqlalchemy.engine import make_url

    assert sqlite_path(make_url("sqlite+aiosqlite:///data/x.db")) == Path("data/x.db")
    assert sqlite_path(make_url("sqlite+aiosqlite:///:memory:")) is None
    assert sqlite_path(make_url("sqlite+aiosqlite://")) is None


async def test_sqlite_settings_and_folder(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "consultbot.db"
    async with Database(f"sqlite+aiosqlite:///{path}") as db:
        assert path.parent.is_dir()
        async with db.engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert (await pragma("PRAGMA journal_mode")).scalar() == "wal"
            assert (await pragma("PRAGMA foreign_keys")).scalar() == 1
            assert (await pragma("PRAGMA synchronous")).scalar() == 1  # NORMAL
            assert (await pragma("PRAGMA busy_timeout")).scalar() == 10_000
        runner = db.runner
        assert isinstance(runner, ThreadedSQLiteRunner)

        def pragmas(connection: Connection) -> tuple[object, ...]:
            return tuple(
                connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
            )

        assert await runner.read(pragmas) == ("wal", 1, 1, 10_000)
        assert await runner.write(pragmas) == ("wal", 1, 1, 10_000)

        def raw_pragmas(connection: sqlite3.Connection) -> tuple[object, ...]:
            names = ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
            return tuple(connection.execute(f"PRAGMA {n}").fetchone()[0] for n in names)

        # the lock is free: on the event loop's connection, which never waits for a lock
        assert await runner.write_raw(raw_pragmas) == ("wal", 1, 1, 0)
        # the process's writers leave checkpoints to the checkpointer thread
        autocheckpoint = await runner.write_raw(
            lambda c: c.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        )
        assert autocheckpoint == 0


async def test_the_checkpointer_copies_the_wal_into_the_database_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "CHECKPOINT_INTERVAL", 0.05)
    path = tmp_path / "consultbot.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    survey = bundled_survey()
    async with Database(url) as db:
        store = Store(db, survey, file_hash="c" * 64)
        now = during(survey)
        await store.apply(tg(1), stepper(survey, Start(), now), clock=fixed(now))
        runner = db.runner
        assert isinstance(runner, ThreadedSQLiteRunner)
        # Its thread starts with the first write: a first checkpoint copies that write.
        await until(lambda: runner._checkpointer.checkpoints >= 1, "a first checkpoint")
        size = path.stat().st_size
        for user in range(2, 200):
            await store.apply(tg(user), stepper(survey, Start(), now), clock=fixed(now))
        wal = path.with_name(path.name + "-wal")
        assert wal.stat().st_size > 0
        # Without automatic checkpoints, only the checkpointer can grow the database file
        # while the engine is open.
        await until(lambda: path.stat().st_size > size, "the database file to grow")


async def test_in_memory_sqlite_uses_the_async_engine() -> None:
    async with Database("sqlite+aiosqlite:///:memory:") as db:
        runner = db.runner
        assert isinstance(runner, AsyncRunner)
        assert await runner.write(lambda c: c.execute(text("SELECT 41 + 1")).scalar()) == 42


async def test_writer_waits_for_another_process_lock(
    store: Store, survey: Survey, url: str, backend: str
) -> None:
    """Another process holds the write lock for a while: apply waits for it, then succeeds,
    and the event loop goes on meanwhile."""
    if backend != "sqlite":
        pytest.skip("SQLite's file lock: PostgreSQL locks rows (see the concurrency tests)")
    path = sqlite_path(store.engine.url)
    assert path is not None
    holding = threading.Event()
    release = threading.Event()

    def hold_lock() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        holding.set()
        release.wait(60)
        other.execute("COMMIT")
        other.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    holding.wait()
    now = during(survey)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    runner = store.db.runner
    assert isinstance(runner, ThreadedSQLiteRunner)
    try:
        applying = asyncio.create_task(
            store.apply(tg(1), stepper(survey, Start(), now), clock=fixed(now))
        )
        await until(lambda: runner.fallbacks == 1, "the answer to go to the writer thread")
        # The loop goes on while the writer thread waits for the other process's lock.
        seen = ticks
        await until(lambda: ticks >= seen + 10, "ten ticks of the loop")
        assert not applying.done()  # it waits for the lock
    finally:
        release.set()
    applied = await asyncio.wait_for(applying, 60)
    ticking.cancel()
    holder.join()
    assert applied.version == 1
    assert runner.fallbacks == 1  # the writer thread waited, not the loop


async def started_sqlite_runner(store: Store, survey: Survey, backend: str) -> ThreadedSQLiteRunner:
    """The store's SQLite runner, after a first answer (its connections are open)."""
    if backend != "sqlite":
        pytest.skip("SQLite only: PostgreSQL has no writer thread")
    runner = store.db.runner
    assert isinstance(runner, ThreadedSQLiteRunner)
    now = during(survey)
    await store.apply(tg(1), stepper(survey, Start(), now), clock=fixed(now))
    return runner


async def test_an_answer_does_not_queue_behind_the_writer_thread(
    store: Store, survey: Survey, backend: str
) -> None:
    """The write lock is free but the writer thread is busy (a long job that holds no lock):
    an answer's transaction runs on the event loop without waiting for it."""
    runner = await started_sqlite_runner(store, survey, backend)
    now = during(survey)
    release = threading.Event()
    busy = asyncio.get_running_loop().run_in_executor(runner._writer, release.wait, 60)
    try:
        # The writer thread stays busy until the answer is applied: queued behind it, the
        # answer would time out here.
        applied = await asyncio.wait_for(
            store.apply(tg(2), stepper(survey, Start(), now), clock=fixed(now)), 30
        )
        assert not busy.done()
    finally:
        release.set()
    await busy
    assert applied.version == 1


async def test_an_answer_waits_for_the_writer_threads_transaction_then_runs_on_the_loop(
    store: Store, survey: Survey, backend: str
) -> None:
    """A transaction of this process holds the write lock on the writer thread (a broadcast's
    bookkeeping, say): the answer waits for it instead of failing on the lock, then runs."""
    runner = await started_sqlite_runner(store, survey, backend)
    now = during(survey)
    finished: list[str] = []
    locked = threading.Event()
    release = threading.Event()

    def slow(connection: Connection) -> None:
        connection.exec_driver_sql("DELETE FROM settings WHERE key = 'none'")
        locked.set()  # the write lock is held
        release.wait(60)
        finished.append("writer")

    writing = asyncio.create_task(runner.write(slow))
    try:
        await until(locked.is_set, "the writer thread to hold the write lock")

        async def answer() -> Any:
            result = await store.apply(tg(2), stepper(survey, Start(), now), clock=fixed(now))
            finished.append("answer")
            return result

        answering = asyncio.create_task(answer())
        await until(lambda: bool(runner._idle_waiters), "the answer to wait for the writer")
        assert finished == []
    finally:
        release.set()
    await asyncio.wait_for(writing, 60)
    applied = await asyncio.wait_for(answering, 60)
    assert applied.version == 1
    assert finished == ["writer", "answer"]
    assert runner.fallbacks == 0  # it ran on the loop, after the writer's commit


async def test_run_transaction_retries_transient_errors(db: Database) -> None:
    calls = 0

    async def flaky(connection: object) -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise locked()
        return "done"

    assert await db.run_transaction(flaky, what="test") == "done"
    assert calls == 3

    async def always(connection: object) -> str:
        raise locked()

    with pytest.raises(OperationalError):
        await db.run_transaction(always, attempts=2)

    integrity = 0

    async def broken(connection: object) -> str:
        nonlocal integrity
        integrity += 1
        raise IntegrityError("x", {}, sqlite3.IntegrityError("UNIQUE"))

    with pytest.raises(IntegrityError):
        await db.run_transaction(broken)
    assert integrity == 1


async def test_runner_write_retries_transient_errors(db: Database) -> None:
    calls = 0

    def flaky(connection: Connection) -> int:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise locked()
        return int(connection.execute(text("SELECT 7")).scalar_one())

    assert await db.runner.write(flaky, what="test") == 7
    assert calls == 3


async def test_postgresql_pool(db: Database, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL only")
    assert db.engine.pool.size() == 20  # type: ignore[attr-defined]
    assert db.engine.pool._max_overflow == 0  # type: ignore[attr-defined]
    assert isinstance(db.runner, AsyncRunner)


async def test_database_errors_never_show_the_statements_parameters(db: Database) -> None:
    """A failed statement's error (which the bot logs) names the statement, never its values:
    they are what participants typed. Through the async engine and the runner, and on
    PostgreSQL a NUL in a text value, which it refuses."""
    typed = "Mon-avis-tres-personnel-4711"
    orphan = text(
        "INSERT INTO answers (response_id, question_id, value, other, answered_at) "
        "VALUES (999999, 'comment', :value, :other, '2022-02-01 10:00:00')"
    )
    values = {"value": f'"{typed}"', "other": typed}
    errors: list[BaseException] = []
    with pytest.raises(IntegrityError) as caught:
        async with db.engine.begin() as connection:
            await connection.execute(orphan, values)
    errors.append(caught.value)
    with pytest.raises(IntegrityError) as caught:
        await db.runner.write(lambda connection: connection.execute(orphan, values))
    errors.append(caught.value)
    if db.engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError) as refused:
            async with db.engine.begin() as connection:
                await connection.execute(
                    text("INSERT INTO settings (key, value) VALUES ('note', :value)"),
                    {"value": f"{typed}\x00"},
                )
        errors.append(refused.value)
    for error in errors:
        assert "INSERT INTO" in str(error)
        assert typed not in str(error), str(error)


# -- the Database's life: open, close, independence ---------------------------------------------


async def test_closing_a_database_stops_its_threads(tmp_path: Path) -> None:
    """The writer, reader and checkpointer threads (and the async engine's connection threads)
    that a database started are all gone once it is closed."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'consultbot.db'}"
    await upgrade(url)
    survey = bundled_survey()
    now = during(survey)
    before = set(threading.enumerate())
    db = Database(url)
    store = Store(db, survey, file_hash="c" * 64)
    await store.apply(tg(1), stepper(survey, Start(), now), clock=fixed(now))
    await store.load(tg(1))
    async with db.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))

    def started() -> set[str]:
        return {t.name.split("_")[0] for t in set(threading.enumerate()) - before}

    await until(
        lambda: {"sqlite-writer", "sqlite-reader", "sqlite-checkpointer"} <= started(),
        "the writer, a reader and the checkpointer to run",
    )
    threads = set(threading.enumerate()) - before
    await db.close()
    # The runner's threads are joined by close() itself.
    assert not [t.name for t in threads if t.name.startswith("sqlite-") and t.is_alive()]
    await until(lambda: not any(t.is_alive() for t in threads), "every thread to end")


async def test_two_databases_on_one_file_are_independent(url: str, survey: Survey) -> None:
    """Two databases on one file (or server): each has its own connections and threads, and
    closing one leaves the other working."""
    now = during(survey)
    first, second = Database(url), Database(url)
    try:
        assert first.runner is not second.runner
        one = Store(first, survey, file_hash="0" * 64)
        two = Store(second, survey, file_hash="0" * 64)
        await one.apply(tg(1), stepper(survey, Start(), now), clock=fixed(now))
        await first.close()
        applied = await two.apply(tg(2), stepper(survey, Start(), now), clock=fixed(now))
        assert applied.version == 1
        assert (await two.load(tg(1))).participant is not None  # the first one's write
        with pytest.raises(DatabaseClosed):
            await one.load(tg(1))
    finally:
        await first.close()
        await second.close()


async def test_a_closed_database_refuses_any_use(url: str, survey: Survey) -> None:
    """Closing twice is harmless; anything done after says the database is closed, instead of
    quietly opening new connections."""
    db = Database(url)
    store = Store(db, survey, file_hash="0" * 64)
    now = during(survey)
    await store.apply(tg(1), stepper(survey, Start(), now), clock=fixed(now))
    runner = db.runner
    await db.close()
    await db.close()
    assert db.closed and "closed" in repr(db)
    with pytest.raises(DatabaseClosed, match="is closed"):
        await store.apply(tg(2), stepper(survey, Start(), now), clock=fixed(now))
    with pytest.raises(DatabaseClosed):
        await store.load(tg(1))
    with pytest.raises(DatabaseClosed):
        await runner.read(lambda c: c.execute(text("SELECT 1")).scalar())
    with pytest.raises(DatabaseClosed):
        await runner.write(lambda c: c.execute(text("SELECT 1")).scalar())
    with pytest.raises(DatabaseClosed):
        async with db.read_transaction():
            pass
    with pytest.raises(DatabaseClosed):
        db.engine  # noqa: B018
    with pytest.raises(DatabaseClosed):
        await db.ping()
    if isinstance(runner, ThreadedSQLiteRunner):
        with pytest.raises(DatabaseClosed):
            await runner.write_raw(lambda c: c.execute("SELECT 1").fetchone())


async def test_the_password_is_not_in_the_closed_message() -> None:
    db = Database("postgresql+asyncpg://consultbot:s3cret-pw@127.0.0.1:1/x")
    await db.close()
    with pytest.raises(DatabaseClosed) as closed:
        db.runner  # noqa: B018
    assert "s3cret-pw" not in str(closed.value) and "s3cret-pw" not in repr(db)
