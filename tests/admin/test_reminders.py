"""Scheduled reminders fire once, at their time, while the survey is open, across restarts."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.workers import fire_due_reminders
from dialogs import Survey
from storage.database import runner_for
from storage.models import broadcasts
from tests.admin.conftest import workers
from tests.admin.population import populate
from tests.e2e.harness import ManualClock, RecordingBotAPI, polling_bot

pytestmark = pytest.mark.e2e


def reminder_count(api: RecordingBotAPI, chat: int, text: str) -> int:
    return sum(1 for m in api.transcript(chat) if m.text == text)


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
            await asyncio.sleep(0.3)  # before its time: nothing
            assert api.calls("sendMessage") == []
            clock.set(survey.reminder_time(d7) + timedelta(seconds=1))
            await api.wait_for_calls("sendMessage", 8, timeout=20)
            await asyncio.sleep(0.3)
    for chat in group.in_progress:
        assert reminder_count(api, chat, fr_text) == 1
    for chat in english.in_progress:
        assert reminder_count(api, chat, en_text) == 1
    for chat in group.not_started + group.submitted:
        assert api.transcript(chat) == []
    clock.advance(3600)
    async with polling_bot(api, database_url, clock) as running, workers(running):
        await asyncio.sleep(0.5)  # the restarted scheduler polls ten times
        assert await fire_due_reminders(running.ctx) == []
    assert len(api.calls("sendMessage")) == 8
    for chat in group.in_progress:
        assert reminder_count(api, chat, fr_text) == 1
    # The last reminder, once, then nothing after the close.
    clock.set(survey.reminder_time(d1) + timedelta(minutes=1))
    async with polling_bot(api, database_url, clock) as running, workers(running):
        await api.wait_for_calls("sendMessage", 16, timeout=20)
        clock.set(survey.closes_at + timedelta(minutes=1))
        await asyncio.sleep(0.3)
        query = select(broadcasts.c.reminder_id, broadcasts.c.status)
        rows = await runner_for(running.ctx.store.engine).read(
            lambda c: sorted(c.execute(query).all())
        )
    assert rows == [(d1.id, "done"), (d7.id, "done")]
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
            await api.wait_for_calls("sendMessage", 3, timeout=20)
            await asyncio.sleep(0.3)
        for chat in group.in_progress:
            assert [m.text for m in api.transcript(chat)] == [d1.text.get("fr")]
