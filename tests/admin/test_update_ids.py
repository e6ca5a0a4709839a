"""The recorded update ids are forgotten after `UPDATE_IDS_KEEP_DAYS`, by a background worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.runner import Running
from storage.models import processed_updates
from tests.admin.conftest import wait_until, worker_passes, workers
from tests.e2e.harness import ManualClock, Participant, RecordingBotAPI, polling_bot

pytestmark = pytest.mark.e2e


async def recorded(running: Running) -> int:
    query = select(func.count()).select_from(processed_updates)
    count: int = await running.ctx.store.db.runner.read(lambda c: c.execute(query).scalar_one())
    return count


async def test_old_update_ids_are_forgotten_and_recent_ones_kept(
    api: RecordingBotAPI, database_url: str, clock: ManualClock
) -> None:
    async with polling_bot(api, database_url, clock) as running:
        old = Participant(api, 5101, running=running)
        await old.send("/start")
        clock.advance(timedelta(days=6).total_seconds())
        recent = Participant(api, 5102, running=running)
        await recent.send("/start")
        assert await recorded(running) == 2
        async with workers(running):
            await worker_passes(running, "update_ids")  # the trimmer has looked
            assert await recorded(running) == 2  # six days: both kept
            clock.advance(timedelta(days=2).total_seconds())

            async def one_left() -> bool:
                return await recorded(running) == 1

            await wait_until(one_left, "the eight-day-old update id to go")
            await worker_passes(running, "update_ids")
        assert await recorded(running) == 1  # the eight-day-old one went, the recent one stays
