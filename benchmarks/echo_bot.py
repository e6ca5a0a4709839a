"""The framework's floor: a bare aiogram echo bot served by webhook, as `consultbot run --webhook`

It answers a button's callback query and echoes text or button data with one message: the same
Bot API calls per action as the survey bot, with none of its work.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from urllib.parse import urlparse

from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web


async def main() -> None:
    token = os.environ["BOT_TOKEN"]
    api = TelegramAPIServer.from_base(os.environ["TELEGRAM_API_URL"])
    bot = Bot(token, session=AiohttpSession(api=api))
    dp = Dispatcher()

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        await bot.send_message(message.chat.id, message.text or "")

    @dp.callback_query()
    async def tap(query: CallbackQuery) -> None:
        await query.answer()
        if query.message is not None:
            await bot.send_message(query.message.chat.id, query.data or "")

    url = os.environ["WEBHOOK_URL"]
    host, _, port = os.environ["WEBHOOK_LISTEN"].rpartition(":")
    app = web.Application()
    SimpleRequestHandler(dp, bot, secret_token=os.environ["WEBHOOK_SECRET"]).register(
        app, path=urlparse(url).path
    )
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, int(port)).start()
    await bot.set_webhook(url, secret_token=os.environ["WEBHOOK_SECRET"])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    with contextlib.suppress(Exception):
        await bot.session.close()


if __name__ == "__main__":
    asyncio.run(main())
