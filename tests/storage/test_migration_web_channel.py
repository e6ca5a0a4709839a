"""Migration 0004_web_channel: up keeps the participants of 0003 (all `telegram`), adds the web
key and lets a web participant have neither a Telegram id nor a preview name, with exactly one
key; down restores the old check, and refuses (changing nothing) while web participants exist.
On SQLite (the table is rebuilt) and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from storage.schema import current_revision, downgrade, head_revision, upgrade
from tests.storage.test_migration_retention import NOW, execute

REVISION = "0004_web_channel"


async def test_up_and_down(empty_url: str) -> None:
    await upgrade(empty_url, "0003_retention")
    await execute(
        empty_url,
        "INSERT INTO participants (id, telegram_id, preview_name, language, blocked, created_at) "
        f"VALUES (1, 111, NULL, 'fr', false, '{NOW}'), (2, NULL, 'alice', 'en', false, '{NOW}')",
    )
    await upgrade(empty_url, REVISION)
    assert await execute(
        empty_url, "SELECT id, channel, web_key FROM participants ORDER BY id"
    ) == [(1, "telegram", None), (2, "telegram", None)]

    await execute(
        empty_url,
        "INSERT INTO participants (id, web_key, channel, language, blocked, created_at) "
        f"VALUES (3, 'k3', 'web', 'fr', false, '{NOW}')",
    )
    for bad in (
        # two keys, no key, an unknown channel, a web key taken twice
        "UPDATE participants SET web_key = 'k1' WHERE id = 1",
        "UPDATE participants SET web_key = NULL WHERE id = 3",
        "UPDATE participants SET channel = 'sms' WHERE id = 3",
        "INSERT INTO participants (id, web_key, channel, language, blocked, created_at) "
        f"VALUES (4, 'k3', 'web', 'fr', false, '{NOW}')",
    ):
        with pytest.raises(IntegrityError):
            await execute(empty_url, bad)
    # anonymised: no key at all, the pseudonym kept
    await execute(
        empty_url,
        "UPDATE participants SET web_key = NULL, pseudonym = 'P-0123456789ab', "
        f"anonymised_at = '{NOW}' WHERE id = 3",
    )

    with pytest.raises(RuntimeError, match="1 participants answered on the web"):
        await downgrade(empty_url, "0003_retention")
    assert await current_revision(empty_url) == REVISION
    assert await execute(empty_url, "SELECT count(*) FROM participants") == [(3,)]

    await execute(empty_url, "DELETE FROM participants WHERE id = 3")
    await downgrade(empty_url, "0003_retention")
    assert await current_revision(empty_url) == "0003_retention"
    assert await execute(
        empty_url, "SELECT id, telegram_id, preview_name FROM participants ORDER BY id"
    ) == [(1, 111, None), (2, None, "alice")]
    with pytest.raises(IntegrityError):  # the old check is back
        await execute(empty_url, "UPDATE participants SET telegram_id = NULL WHERE id = 1")
    await upgrade(empty_url)
    assert await current_revision(empty_url) == head_revision()
