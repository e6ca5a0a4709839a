"""Migration 0003_retention: up keeps the participants of 0001 and lets an anonymised one have no
Telegram id; down restores the old check, and refuses (changing nothing) while anonymised
participants exist. On SQLite (the table is rebuilt) and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage.database import create_engine
from storage.schema import current_revision, downgrade, head_revision, upgrade

REVISION = "0003_retention"
NOW = "2022-02-01 10:00:00"
"""A UTC time as both backends take it for a `UTCDateTime` column."""


async def execute(url: str, statement: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


async def test_up_and_down(empty_url: str) -> None:
    await upgrade(empty_url, "0001")
    await execute(
        empty_url,
        "INSERT INTO participants (id, telegram_id, language, blocked, created_at) "
        f"VALUES (1, 111, 'fr', false, '{NOW}'), (2, 222, 'en', false, '{NOW}')",
    )
    await upgrade(empty_url, REVISION)
    assert await execute(
        empty_url, "SELECT id, telegram_id, anonymised_at, pseudonym FROM participants ORDER BY id"
    ) == [(1, 111, None, None), (2, 222, None, None)]

    # An anonymised participant: no Telegram id, the time, the pseudonym kept.
    await execute(
        empty_url,
        "UPDATE participants SET telegram_id = NULL, pseudonym = 'P-0123456789ab', "
        f"anonymised_at = '{NOW}' WHERE id = 2",
    )
    # Still no participant with neither key unless anonymised, nor anonymised without pseudonym.
    for bad in (
        "UPDATE participants SET telegram_id = NULL WHERE id = 1",
        f"UPDATE participants SET anonymised_at = '{NOW}' WHERE id = 1",
        "UPDATE participants SET pseudonym = NULL WHERE id = 2",
    ):
        with pytest.raises(IntegrityError):
            await execute(empty_url, bad)

    # Down refuses while someone is anonymised, and leaves everything as it was.
    with pytest.raises(RuntimeError, match="1 participants are anonymised"):
        await downgrade(empty_url, "0001")
    assert await current_revision(empty_url) == REVISION
    assert await execute(empty_url, "SELECT count(*) FROM participants") == [(2,)]

    await execute(empty_url, "DELETE FROM participants WHERE id = 2")
    await downgrade(empty_url, "0001")
    assert await current_revision(empty_url) == "0001"
    assert await execute(empty_url, "SELECT id, telegram_id FROM participants") == [(1, 111)]
    with pytest.raises(IntegrityError):  # the old check is back
        await execute(empty_url, "UPDATE participants SET telegram_id = NULL WHERE id = 1")
    await upgrade(empty_url)
    assert await current_revision(empty_url) == head_revision()
