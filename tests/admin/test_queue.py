"""The broadcast queue on SQLite and PostgreSQL: segments, claims that never overlap (two
workers, two engines), outcomes, rows in doubt, reminders created once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.broadcaster import Broadcaster
from bot.clock import system_clock
from bot.survey_file import LoadedSurvey
from storage.broadcasts import UNKNOWN_OUTCOME, BroadcastStore, Result, encode_texts
from storage.database import create_engine
from storage.repository import Store
from storage.schema import ensure_schema, upgrade
from tests.admin.population import populate
from tests.e2e.harness import RecordingBotAPI, open_store
from tests.postgres import scratch_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}"
        return
    # TEST_DATABASE_URL unset: skipped; set but unreachable: a failure (tests/postgres.py).
    async with scratch_database("consultbot_admin") as url:
        await upgrade(url)
        yield url


@pytest.fixture
async def store(url: str, loaded: LoadedSurvey) -> AsyncIterator[Store]:
    async with open_store(url, loaded) as opened:
        yield opened


async def test_segments_and_outcomes(store: Store) -> None:
    now = system_clock()
    group = await populate(store, not_started=4, in_progress=3, submitted=2, now=now)
    queue = BroadcastStore(store.engine, store.survey.id)
    assert [await queue.count_recipients(s) for s in ("all", "not-started")] == [9, 4]
    assert [await queue.count_recipients(s) for s in ("in-progress", "submitted")] == [3, 2]
    with pytest.raises(ValueError):
        await queue.count_recipients("everybody")
    broadcast_id = await queue.create("in-progress", "Hello", now=now)
    assert broadcast_id is not None
    claimed = await queue.claim("w1", now, 2)
    assert [c.telegram_id for c in claimed] == group.in_progress[:2]
    assert all(c.attempts == 1 and c.text == "Hello" for c in claimed)
    first, second = claimed
    await queue.record(
        [
            Result(broadcast_id, first.participant_id, first.telegram_id, "sent", message_id=7),
            Result(broadcast_id, second.participant_id, second.telegram_id, "blocked"),
        ],
        now,
    )
    assert await queue.count_recipients("in-progress") == 2  # the blocked one is left out
    last = (await queue.claim("w1", now, 5))[0]
    await queue.record(
        [
            Result(
                broadcast_id,
                last.participant_id,
                last.telegram_id,
                "retry",
                retry_at=now + timedelta(seconds=60),
                count_attempt=False,
            )
        ],
        now,
    )
    assert await queue.claim("w1", now, 5) == []  # not due yet
    again = await queue.claim("w1", now + timedelta(seconds=61), 5)
    assert [c.telegram_id for c in again] == [last.telegram_id] and again[0].attempts == 1
    # The claimer dies: after the lease the row is in doubt, failed, never resent.
    later = now + timedelta(seconds=200)
    assert await queue.resolve_in_doubt(later, timedelta(seconds=120)) == 1
    counts = await queue.counts(broadcast_id)
    assert (counts.sent, counts.blocked, counts.failed, counts.pending) == (1, 1, 1, 0)
    assert await queue.claim("w1", later, 5) == []
    assert await queue.finish_done(later) == [broadcast_id]
    info = await queue.get(broadcast_id)
    assert info is not None and info.status == "done"
    assert UNKNOWN_OUTCOME


async def test_a_reminder_is_created_once(store: Store) -> None:
    now = system_clock()
    await populate(store, not_started=1, in_progress=2, submitted=0, now=now)
    queue = BroadcastStore(store.engine, store.survey.id)
    texts = encode_texts({"fr": "Bonjour", "en": "Hello"})
    results = await asyncio.gather(
        *(queue.create("in-progress", texts, now=now, reminder_id="d7") for _ in range(5))
    )
    assert len([r for r in results if r is not None]) == 1
    assert await queue.reminder_ids() == {"d7"}
    claimed = await queue.claim("w", now, 10)
    assert [c.text for c in claimed] == ["Bonjour", "Bonjour"]


async def test_two_workers_on_two_engines_send_each_message_once(
    url: str, store: Store, loaded: LoadedSurvey
) -> None:
    """Two delivery workers, each with its own engine (as two processes), drain one broadcast."""
    group = await populate(store, not_started=120, in_progress=0, submitted=0, now=system_clock())
    queue = BroadcastStore(store.engine, store.survey.id)
    broadcast_id = await queue.create("all", "Once", now=system_clock())
    assert broadcast_id is not None
    await ensure_schema(url)
    other_engine = create_engine(url)
    from bot.app import build_bot

    async with RecordingBotAPI() as api:
        bots = [build_bot(api.token, api.base_url) for _ in range(2)]
        try:
            workers = [
                Broadcaster(BroadcastStore(engine, store.survey.id), bot, rate=300)
                for engine, bot in zip((store.engine, other_engine), bots, strict=True)
            ]
            await asyncio.gather(
                *(w.run(broadcast_id=broadcast_id, until_idle=True) for w in workers)
            )
        finally:
            for bot in bots:
                await bot.session.close()
            await other_engine.dispose()
        copies = Counter(call.params["chat_id"] for call in api.calls("sendMessage") if call.ok)
    assert sorted(copies) == group.everyone
    assert set(copies.values()) == {1}
    assert all(w.sent_calls > 10 for w in workers)  # both took part
    counts = await queue.counts(broadcast_id)
    assert counts.sent == 120
