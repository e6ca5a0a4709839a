"""Migrations: from empty to head, down to nothing and up again, and the schema check at start."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from dialogs.events import Start
from storage.database import Database, create_engine
from storage.models import metadata
from storage.repository import Store
from storage.schema import (
    SchemaOutOfDate,
    current_revision,
    downgrade,
    ensure_schema,
    head_revision,
    upgrade,
)
from tests.storage.helpers import bundled_survey, during, fixed, stepper, tg

TABLES = set(metadata.tables)


async def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda c: inspect(c).get_table_names())
    finally:
        await engine.dispose()
    return set(names)


async def usable(url: str) -> None:
    """The migrated database takes an answer."""
    async with Database(url) as db:
        survey = bundled_survey()
        now = during(survey)
        applied = await Store(db, survey, file_hash="m" * 64).apply(
            tg(1), stepper(survey, Start(), now), clock=fixed(now)
        )
        assert applied.version == 1


async def test_upgrade_from_empty(empty_url: str) -> None:
    assert await current_revision(empty_url) is None
    await upgrade(empty_url)
    assert await current_revision(empty_url) == head_revision()
    assert await table_names(empty_url) >= TABLES
    await upgrade(empty_url)  # at head already: nothing to do
    await usable(empty_url)


async def test_concurrent_upgrades_run_one_after_the_other(empty_url: str) -> None:
    await asyncio.gather(upgrade(empty_url), upgrade(empty_url), upgrade(empty_url))
    assert await current_revision(empty_url) == head_revision()
    await usable(empty_url)


async def test_downgrade_to_base_then_upgrade_again(url: str) -> None:
    await usable(url)
    await downgrade(url, "base")
    assert await current_revision(url) is None
    assert not TABLES & await table_names(url)
    await upgrade(url)
    assert await current_revision(url) == head_revision()
    assert await table_names(url) >= TABLES
    await usable(url)


async def test_models_match_the_migrations(url: str) -> None:
    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(differences)
    finally:
        await engine.dispose()
    assert diff == []


async def test_ensure_schema(empty_url: str, backend: str) -> None:
    if backend == "sqlite":
        await ensure_schema(empty_url)  # the embedded database upgrades itself
        assert await current_revision(empty_url) == head_revision()
    else:
        with pytest.raises(SchemaOutOfDate) as refused:
            await ensure_schema(empty_url)
        message = str(refused.value)
        assert "consultbot db upgrade" in message
        assert head_revision() in message
        assert await current_revision(empty_url) is None  # nothing was done
        await upgrade(empty_url)
    await ensure_schema(empty_url)  # at head: fine on both


async def test_ensure_schema_refuses_an_unknown_revision(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    finally:
        await engine.dispose()
    with pytest.raises(SchemaOutOfDate, match="ffff"):
        await ensure_schema(url)


async def _processed(url: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT * FROM processed_updates ORDER BY update_id")
            )
            keys = list(rows.keys())
            return [tuple(zip(keys, row, strict=True)) for row in rows.all()]
    finally:
        await engine.dispose()


async def test_update_ids_recorded_before_0002_are_kept_under_bot_0(empty_url: str) -> None:
    await upgrade(empty_url, "0001")
    engine = create_engine(empty_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO processed_updates (update_id, processed_at) "
                    "VALUES (7, '2026-01-01 00:00:00'), (8, '2026-01-01 00:00:01')"
                )
            )
    finally:
        await engine.dispose()
    await upgrade(empty_url)
    assert [dict(row)["bot_id"] for row in await _processed(empty_url)] == [0, 0]
    await downgrade(empty_url, "0001")
    assert [dict(row)["update_id"] for row in await _processed(empty_url)] == [7, 8]
    assert all("bot_id" not in dict(row) for row in await _processed(empty_url))
    await upgrade(empty_url)
    await usable(empty_url)
