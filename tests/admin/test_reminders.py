"""Scheduled reminders fire once, at their time, while the survey is open, across restarts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.runner import Running
from bot.workers import fire_due_reminders
from dialogs import Survey
from storage.models import broadcasts
from tests.admin.conftest import wait_until, worker_passes, workers
from tests.admin.population import populate
from tests.e2e.harness import ManualClock, RecordingBotAPI, polling_bot

pytestmark = pytest.mark.e2e


def reminder_count(api: RecordingBotAPI, chat: int, text: str) -> int:
    return sum(1 for m in api.transcript(chat) if m.text == text)


async def broadcast_rows(running: Running) -> list[tuple[str, str]]:
    """(reminder id, status) of every broadcast, sorted."""
    query = select(broadcasts.c.reminder_id, broadcasts.c.status)
    rows = await running.ctx.store.db.runner.read(lambda c: c.execute(query).all())
    return sorted((str(r[0]), str(r[1])) for r in rows)


async def all_finished(running: Running, expected: list[tuple[str, str]]) -> None:
    """Wait until the broadcasts are exactly `expected` (finished: every delivery recorded, so
    nothing more is sent for them) and the scheduler has looked again since."""

    async def finished() -> bool:
        return await broadcast_rows(running) == expected

    await wait_until(finished, f"the broadcasts {expected}")
    await worker_passes(running, "reminders")
    assert await broadcast_rows(running) == expected


async def test_a_reminder_fires_once_across_a_restart(
    api: RecordingBotAPI, database_url: str, clock: ManualClock, survey: Survey
) -> None:
    d7, d1 = sorted(survey.reminders, key=survey.reminder_time)
    fr_text = d7.text.get("fr")
    en_text = d7.text.get("en")
    clock.set(survey.reminder_time(d7) - timedelta(minutes=5))
    async with polling_bot(api, database_url, clock) as running:
        group = await populate(
            running.ctx.store, not_started=3, in_progress=6, submitted=2, now=clock()
        )
        english = await populate(
            running.ctx.store,
            not_started=0,
            in_progress=2,
            submitted=0,
            now=clock(),
            first_id=20_000,
            language="en",
        )
        async with workers(running):
            await worker_passes(running, "reminders")  # before its time: nothing
            assert await broadcast_rows(running) == []
            assert api.calls("sendMessage") == []
            clock.set(survey.reminder_time(d7) + timedelta(seconds=1))
            await api.wait_for_calls("sendMessage", 8, timeout=60)
            await all_finished(running, [(d7.id, "done")])
    for chat in group.in_progress:
        assert reminder_count(api, chat, fr_text) == 1
    for chat in english.in_progress:
        assert reminder_count(api, chat, en_text) == 1
    for chat in group.not_started + group.submitted:
        assert api.transcript(chat) == []
    clock.advance(3600)
    async with polling_bot(api, database_url, clock) as running, workers(running):
        await worker_passes(running, "reminders")  # the restarted scheduler has looked
        assert await fire_due_reminders(running.ctx) == []
        assert await broadcast_rows(running) == [(d7.id, "done")]
    assert len(api.calls("sendMessage")) == 8
    for chat in group.in_progress:
        assert reminder_count(api, chat, fr_text) == 1
    # The last reminder, once, then nothing after the close.
    clock.set(survey.reminder_time(d1) + timedelta(minutes=1))
    async with polling_bot(api, database_url, clock) as running, workers(running):
        await api.wait_for_calls("sendMessage", 16, timeout=60)
        clock.set(survey.closes_at + timedelta(minutes=1))
        await all_finished(running, [(d1.id, "done"), (d7.id, "done")])
    assert len(api.calls("sendMessage")) == 16


async def test_overdue_reminders_send_only_the_latest(
    api: RecordingBotAPI, database_url: str, clock: ManualClock, survey: Survey
) -> None:
    _d7, d1 = sorted(survey.reminders, key=survey.reminder_time)
    clock.set(survey.reminder_time(d1) + timedelta(minutes=1))
    async with polling_bot(api, database_url, clock) as running:
        group = await populate(
            running.ctx.store, not_started=0, in_progress=3, submitted=0, now=clock()
        )
        async with workers(running):
            await api.wait_for_calls("sendMessage", 3, timeout=60)
            await all_finished(running, sorted([(d1.id, "done"), (_d7.id, "cancelled")]))
        for chat in group.in_progress:
            assert [m.text for m in api.transcript(chat)] == [d1.text.get("fr")]
