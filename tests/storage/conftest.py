"""Fixtures of the storage tests: every test runs on SQLite (a file) and on PostgreSQL.

PostgreSQL needs `TEST_DATABASE_URL` (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test);
without it the PostgreSQL half is skipped. Each PostgreSQL test starts from an empty `public`
schema, each SQLite test from a new file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from dialogs import Survey
from storage.database import Database
from storage.repository import Store
from storage.schema import upgrade
from tests.postgres import postgres_url
from tests.sqlite_template import migrated_sqlite
from tests.storage.helpers import bundled_survey


async def reset_postgres(url: str) -> None:
    """Drop everything: an empty `public` schema."""
    admin = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            await connection.exec_driver_sql("CREATE SCHEMA public")
    finally:
        await admin.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
async def empty_url(backend: str, tmp_path: Path) -> str:
    """The URL of an empty database (for SQLite, in a folder that does not exist yet)."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'consultbot.db'}"
    url = postgres_url()
    await reset_postgres(url)
    return url


@pytest.fixture
async def url(backend: str, empty_url: str, tmp_path: Path) -> str:
    """The URL of a database migrated to the latest revision (for SQLite, a copy of a file
    migrated once for the session)."""
    if backend == "sqlite":
        return await migrated_sqlite(tmp_path / "data" / "consultbot.db")
    await upgrade(empty_url)
    return empty_url


@pytest.fixture
async def db(url: str) -> AsyncIterator[Database]:
    async with Database(url) as db:
        yield db


@pytest.fixture
def engine(db: Database) -> AsyncEngine:
    """The engine of `db`, for the tests' own queries."""
    return db.engine


@pytest.fixture(scope="session")
def survey() -> Survey:
    return bundled_survey()


@pytest.fixture
async def store(db: Database, survey: Survey) -> Store:
    store = Store(db, survey, file_hash="0" * 64)
    await store.register_survey()
    return store
