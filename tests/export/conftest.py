"""Fixtures of the export tests: a migrated SQLite database (and PostgreSQL where asked) holding
the bundled questionnaire, and a `Store` on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dialogs import Survey
from storage.database import Database
from storage.repository import Store
from storage.schema import upgrade
from tests.export.helpers import bundled_survey
from tests.postgres import postgres_url
from tests.sqlite_template import migrated_sqlite


@pytest.fixture(scope="session")
def survey() -> Survey:
    return bundled_survey()


@pytest.fixture
async def url(tmp_path: Path) -> str:
    return await migrated_sqlite(tmp_path / "export.db")


@pytest.fixture
async def db(url: str) -> AsyncIterator[Database]:
    async with Database(url) as db:
        yield db


@pytest.fixture
async def store(db: Database, survey: Survey) -> Store:
    store = Store(db, survey, file_hash="0" * 64)
    await store.register_survey()
    return store


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def any_store(
    request: pytest.FixtureRequest, tmp_path: Path, survey: Survey
) -> AsyncIterator[Store]:
    """A Store on SQLite, then on PostgreSQL (`TEST_DATABASE_URL`, emptied first)."""
    if request.param == "sqlite":
        url = await migrated_sqlite(tmp_path / "export.db")
    else:
        url = postgres_url()
        from tests.storage.conftest import reset_postgres

        await reset_postgres(url)
        await upgrade(url)
    async with Database(url) as db:
        store = Store(db, survey, file_hash="0" * 64)
        await store.register_survey()
        yield store
