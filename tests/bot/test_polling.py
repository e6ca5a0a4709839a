"""The poller (`bot.polling.Poller`) against the local Bot API server: an update is confirmed only
once handled, a slow one neither blocks the others nor makes the poller spin, nothing is handled
twice, and a second poller on the token gets `PollingConflict`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Message

from bot.app import build_bot
from bot.polling import BUSY_INTERVAL, Poller, PollingConflict
from tests.botapi.server import FakeBotAPI


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


@contextlib.asynccontextmanager
async def bot_for(api: FakeBotAPI) -> AsyncIterator[Bot]:
    bot = build_bot(api.token, api.base_url)
    try:
        yield bot
    finally:
        await bot.session.close()


async def test_a_slow_update_is_confirmed_once_done_and_blocks_nothing(api: FakeBotAPI) -> None:
    handled: list[str] = []
    entered = asyncio.Event()
    release = asyncio.Event()
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def on_message(message: Message) -> None:
        if message.text == "slow":
            entered.set()
            await release.wait()
        handled.append(message.text or "")

    async with bot_for(api) as bot:
        poller = Poller(bot, dispatcher, timeout=1)
        task = asyncio.create_task(poller.run())
        try:
            api.send_text(1, "slow")
            await asyncio.wait_for(entered.wait(), 10)
            api.send_text(2, "fast")
            await api.wait_for(lambda: handled == ["fast"], 5)
            # The slow one is not confirmed (nor the fast one, above it), and while it runs the
            # poller asks about every BUSY_INTERVAL, not in a loop.
            assert api.pending_update_count == 2
            before = len(api.calls("getUpdates"))
            await asyncio.sleep(1.0)
            asked = len(api.calls("getUpdates")) - before
            assert asked <= 1.0 / BUSY_INTERVAL + 2, asked
            assert api.pending_update_count == 2
            release.set()
            await api.wait_for(lambda: api.pending_update_count == 0 and api.polling, 5)
            assert handled == ["fast", "slow"]  # each once, though both came back many times
        finally:
            poller.stop()
            await asyncio.wait_for(task, 5)
            assert await poller.finish(5)


async def test_stopped_mid_way_the_unfinished_update_stays_unconfirmed(api: FakeBotAPI) -> None:
    dispatcher = Dispatcher()
    entered = asyncio.Event()

    @dispatcher.message()
    async def on_message(message: Message) -> None:
        if message.text == "stuck":
            entered.set()
            await asyncio.Event().wait()

    async with bot_for(api) as bot:
        poller = Poller(bot, dispatcher, timeout=1)
        task = asyncio.create_task(poller.run())
        api.send_text(1, "done")
        stuck = api.send_text(2, "stuck")
        await asyncio.wait_for(entered.wait(), 10)
        poller.stop()
        await asyncio.wait_for(task, 5)
        assert not await poller.finish(0.2)
        await poller.cancel()
        assert poller.offset() == stuck
        assert api.pending_update_count >= 1


async def test_a_second_poller_gets_a_conflict(api: FakeBotAPI) -> None:
    async with bot_for(api) as first_bot, bot_for(api) as second_bot:
        first = Poller(first_bot, Dispatcher(), timeout=5)
        running = asyncio.create_task(first.run())
        try:
            await api.wait_for(lambda: api.polling, 5)
            second = Poller(second_bot, Dispatcher(), timeout=5)
            with pytest.raises(PollingConflict, match="terminated by other getUpdates"):
                await asyncio.wait_for(second.run(), 5)
            assert not running.done()
        finally:
            first.stop()
            await asyncio.wait_for(running, 5)


async def test_server_errors_are_retried_with_one_line_each(
    api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    handled: list[str] = []
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def on_message(message: Message) -> None:
        handled.append(message.text or "")

    api.fail_next("getUpdates", 502, "Bad Gateway", count=2)
    async with bot_for(api) as bot:
        poller = Poller(bot, dispatcher, timeout=1)
        task = asyncio.create_task(poller.run())
        try:
            api.send_text(1, "bonjour")
            await api.wait_for(lambda: handled == ["bonjour"], 15)
        finally:
            poller.stop()
            await asyncio.wait_for(task, 5)
    failures = [r for r in caplog.records if "getUpdates failed" in r.getMessage()]
    assert len(failures) == 2
    assert "attempt 1, trying again in 1s" in failures[0].getMessage()
    assert "attempt 2, trying again in 2s" in failures[1].getMessage()
    assert all(r.exc_info is None for r in caplog.records)
