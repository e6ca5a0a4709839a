"""`consultbot run`: long polling or webhook serving, with a clean stop on SIGTERM that
finishes the updates in flight before closing the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import heap
from bot.app import ALLOWED_UPDATES, UpdateGuard, build_bot, build_dispatcher, set_commands
from bot.clock import Clock
from bot.config import ConfigError, Settings
from bot.context import BotContext
from bot.logs import describe_exception
from bot.survey_file import load_survey_file
from storage.database import create_engine
from storage.repository import Store
from storage.schema import ensure_schema

log = logging.getLogger(__name__)
DRAIN_SECONDS = 25.0
Background = Callable[[BotContext, Bot], Coroutine[Any, Any, None]]


@dataclass
class Running:
    ctx: BotContext
    bot: Bot
    dispatcher: Dispatcher
    guard: UpdateGuard
    engine: AsyncEngine


@contextlib.asynccontextmanager
async def running_bot(settings: Settings, clock: Clock) -> AsyncIterator[Running]:
    """Everything a serving bot needs, opened in order and closed in reverse."""
    if not settings.bot_token:
        raise ConfigError(
            "BOT_TOKEN is not set: get one from @BotFather (see README), or try the "
            "questionnaire without a token with `consultbot try`"
        )
    loaded = load_survey_file(settings.survey_file)
    await ensure_schema(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        store = Store(engine, loaded.survey, file_hash=loaded.file_hash)
        await store.register_survey()
        ctx = BotContext(loaded.survey, store, clock, settings)
        bot = build_bot(settings.bot_token, settings.api_url)
        try:
            dispatcher, guard = build_dispatcher(ctx)
            heap.settle()
            yield Running(ctx, bot, dispatcher, guard, engine)
        finally:
            await bot.session.close()
    finally:
        await engine.dispose()


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def _background(running: Running, tasks: list[Background]) -> list[asyncio.Task[None]]:
    return [asyncio.create_task(task(running.ctx, running.bot)) for task in tasks]


async def _finish(running: Running, background: list[asyncio.Task[None]]) -> None:
    if not await running.guard.drain(DRAIN_SECONDS):
        log.warning(
            "%s updates still running after %ss; stopping anyway",
            running.guard.in_flight,
            DRAIN_SECONDS,
        )
    for task in background:
        task.cancel()
    for task in background:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def run_polling(settings: Settings, clock: Clock, background: list[Background]) -> None:
    async with running_bot(settings, clock) as running:
        stop = _stop_event()
        await running.bot.delete_webhook(drop_pending_updates=False)
        await set_commands(running.bot, running.ctx.survey.languages)
        tasks = await _background(running, background)
        polling = asyncio.create_task(
            running.dispatcher.start_polling(
                running.bot,
                handle_signals=False,
                close_bot_session=False,
                allowed_updates=ALLOWED_UPDATES,
            )
        )
        log.info("polling %s for updates", settings.api_url)
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({polling, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if polling in done:
            stopper.cancel()
            polling.result()
        log.info("stopping: finishing the updates in flight")
        with contextlib.suppress(RuntimeError):
            await running.dispatcher.stop_polling()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        await _finish(running, tasks)


class WebhookHandler(SimpleRequestHandler):
    """aiogram's webhook handler, whose background task logs an update it cannot read (a
    pydantic ValidationError) by its update id and error locations. Left to aiogram, the task's
    exception would be logged by asyncio with its repr, the update's values included."""

    async def _background_feed_update(self, bot: Bot, update: dict[str, Any]) -> None:
        try:
            await super()._background_feed_update(bot, update)
        except ValidationError as exc:
            log.error(
                "webhook update %s could not be read: %s",
                update.get("update_id") if isinstance(update, dict) else None,
                describe_exception(exc),
            )
        except Exception as exc:  # aiogram logged it already ("Cause exception while ...")
            log.debug("webhook update failed: %s", describe_exception(exc))


def build_web_app(running: Running, settings: Settings) -> web.Application:
    app = web.Application()
    path = urlparse(settings.webhook_url).path or "/webhook"
    WebhookHandler(
        dispatcher=running.dispatcher,
        bot=running.bot,
        secret_token=settings.webhook_secret or None,
    ).register(app, path=path)

    async def healthz(request: web.Request) -> web.Response:
        try:
            async with running.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:
            log.error("health check: database unreachable: %s", describe_exception(exc))
            return web.json_response({"status": "error", "database": "unreachable"}, status=503)
        return web.json_response({"status": "ok", "in_flight": running.guard.in_flight})

    app.router.add_get("/healthz", healthz)
    try:
        from bot.metrics import metrics_handler
    except ImportError:
        pass
    else:
        app.router.add_get("/metrics", metrics_handler)
    return app


async def run_webhook(settings: Settings, clock: Clock, background: list[Background]) -> None:
    if not settings.webhook_url:
        raise ConfigError("webhook mode needs WEBHOOK_URL (the public https URL Telegram calls)")
    if not settings.webhook_secret:
        raise ConfigError("webhook mode needs WEBHOOK_SECRET (1-256 of A-Z a-z 0-9 _ -)")
    host, port = settings.listen_address()
    async with running_bot(settings, clock) as running:
        stop = _stop_event()
        app = build_web_app(running, settings)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        log.info("webhook server listening on %s:%s", host, port)
        await running.bot.set_webhook(
            settings.webhook_url,
            secret_token=settings.webhook_secret,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
        )
        await set_commands(running.bot, running.ctx.survey.languages)
        tasks = await _background(running, background)
        await stop.wait()
        log.info("stopping: no new updates, finishing the updates in flight")
        await site.stop()
        await _finish(running, tasks)
        await runner.cleanup()
