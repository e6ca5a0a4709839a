"""`consultbot run`: long polling or webhook serving, with a clean stop on SIGTERM that
finishes the updates in flight before closing the database.

- At start the Bot API calls (getMe, deleteWebhook or setWebhook, setMyCommands) are retried with
  exponential backoff for up to `STARTUP_RETRY_SECONDS`, one log line per failed attempt, then
  `StartupError`; a refused token is a `StartupError` at once.
- Polling (`bot.polling.Poller`) confirms an update only once handled; a 409 Conflict (another
  poller on the token) stops the process with `PollingConflict`.
- The webhook listener checks the secret, reads the body within `WEBHOOK_READ_TIMEOUT` (the same
  bound applies to the headers and to idle kept-alive connections), answers 400 to a body that is
  not a Telegram update, and serves `/healthz`. `/metrics` has a listener of its own
  (`METRICS_LISTEN`, default 127.0.0.1:9090), in both modes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiohttp import web
from pydantic import ValidationError

from bot.app import ALLOWED_UPDATES, UpdateGuard, build_bot, build_dispatcher, set_commands
from bot.clock import Clock
from bot.config import ConfigError, Settings
from bot.context import BotContext
from bot.logs import describe_exception
from bot.polling import Poller, PollingConflict
from bot.survey_file import load_survey_file
from storage.database import Database
from storage.repository import Store
from storage.schema import ensure_schema

log = logging.getLogger(__name__)
T = TypeVar("T")
DRAIN_SECONDS = 25.0
POLL_TIMEOUT = 10
MAX_UPDATE_BYTES = 256 * 1024
"""A webhook body larger than this is refused (413): Telegram's updates are a few kilobytes."""
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
FIRST_RETRY = 1.0
MAX_RETRY = 30.0

__all__ = ["PollingConflict", "StartupError", "run_polling", "run_webhook"]


class StartupError(RuntimeError):
    """The bot could not start: the Bot API refused the token or did not answer in time."""


class _Stopped(Exception):
    """SIGTERM came while the bot was starting."""


Background = Callable[[BotContext, Bot], Coroutine[Any, Any, None]]


@dataclass
class Running:
    ctx: BotContext
    bot: Bot
    dispatcher: Dispatcher
    guard: UpdateGuard
    db: Database


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
    db = Database(settings.database_url, pool_size=settings.database_pool_size)
    try:
        store = Store(db, loaded.survey, file_hash=loaded.file_hash, bot_id=settings.bot_id)
        await store.register_survey()
        ctx = BotContext(loaded.survey, store, clock, settings)
        bot = build_bot(settings.bot_token, settings.api_url)
        try:
            dispatcher, guard = build_dispatcher(ctx)
            yield Running(ctx, bot, dispatcher, guard, db)
        finally:
            await bot.session.close()
    finally:
        await db.close()


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def at_start(
    call: Callable[[], Coroutine[Any, Any, T]],
    what: str,
    settings: Settings,
    stop: asyncio.Event | None = None,
) -> T:
    """`call()`, retried with exponential backoff (1 s, 2 s, 4 s ... 30 s) while the Bot API is
    unreachable or failing, for up to `settings.startup_retry_seconds`; then `StartupError`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.startup_retry_seconds
    delay = FIRST_RETRY
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call()
        except TelegramUnauthorizedError:
            raise StartupError(
                f"the Bot API at {settings.api_url} refused BOT_TOKEN (401 Unauthorized): "
                "check the token (BotFather's /token) and TELEGRAM_API_URL"
            ) from None
        except TelegramRetryAfter as exc:
            wait, reason = (
                float(exc.retry_after),
                f"too many requests, retry after {exc.retry_after}s",
            )
        except (TelegramNetworkError, TelegramServerError) as exc:
            wait, reason = delay, exc.message
            delay = min(delay * 2, MAX_RETRY)
        if loop.time() + wait > deadline:
            raise StartupError(
                f"the Bot API at {settings.api_url} did not answer {what} for "
                f"{settings.startup_retry_seconds:g}s ({attempt} attempts; last: {reason}): "
                "giving up (STARTUP_RETRY_SECONDS sets how long to try)"
            )
        log.warning(
            "%s: the Bot API at %s did not answer (attempt %d: %s); trying again in %gs",
            what,
            settings.api_url,
            attempt,
            reason,
            wait,
        )
        if stop is None:
            await asyncio.sleep(wait)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
            raise _Stopped


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


def web_runner(app: web.Application, settings: Settings) -> web.AppRunner:
    """An AppRunner whose connections are closed when a client is slow: the headers of a request
    must arrive within `webhook_read_timeout` of the connection's start (or of the previous
    answer: aiohttp's keep-alive timer), and the rest of an unread body is not waited for."""
    return web.AppRunner(
        app,
        handle_signals=False,
        keepalive_timeout=settings.webhook_read_timeout,
        lingering_time=0,
    )


@contextlib.asynccontextmanager
async def metrics_listener(settings: Settings) -> AsyncIterator[web.AppRunner | None]:
    """Serve `/metrics` on `METRICS_LISTEN` while the block runs (nothing if it is empty)."""
    address = settings.metrics_address()
    if address is None:
        yield None
        return
    from bot.metrics import metrics_handler

    app = web.Application(client_max_size=1024)
    app.router.add_get("/metrics", metrics_handler)
    runner = web_runner(app, settings)
    await runner.setup()
    host, port = address
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(
            f"METRICS_LISTEN {settings.metrics_listen}: cannot listen there "
            f"({exc.strerror or exc}); set another host:port, or METRICS_LISTEN= (empty) "
            "to serve no metrics"
        ) from None
    log.info("metrics served on http://%s:%s/metrics", host, port)
    try:
        yield runner
    finally:
        await runner.cleanup()


async def run_polling(settings: Settings, clock: Clock, background: list[Background]) -> None:
    async with running_bot(settings, clock) as running, metrics_listener(settings):
        stop = _stop_event()
        bot = running.bot
        try:
            me = await at_start(bot.me, "getMe", settings, stop)
            await at_start(
                lambda: bot.delete_webhook(drop_pending_updates=False),
                "deleteWebhook",
                settings,
                stop,
            )
            await at_start(
                lambda: set_commands(bot, running.ctx.survey.languages),
                "setMyCommands",
                settings,
                stop,
            )
        except _Stopped:
            log.info("stopped while starting")
            return
        tasks = await _background(running, background)
        poller = Poller(
            bot, running.dispatcher, timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES
        )
        polling = asyncio.create_task(poller.run())
        log.info("polling %s for the updates of @%s", settings.api_url, me.username)
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({polling, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        failure = polling.exception() if polling.done() else None
        if failure is None:
            log.info("stopping: finishing the updates in flight")
        poller.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait({polling})
        if not await poller.finish(DRAIN_SECONDS):
            log.warning(
                "%d updates still running after %ss: cancelled, they will come again",
                poller.in_flight,
                DRAIN_SECONDS,
            )
            await poller.cancel()
        await _finish(running, tasks)
        if failure is not None:
            raise failure


class WebhookHandler:
    """The webhook endpoint: secret, bounded read, a JSON object with an `update_id` that is a
    valid Update (400 otherwise, logged in one line), then handled, and only then answered 200.

    The 200 is what tells Telegram the update is delivered: answered before the handler had
    committed, a process killed in between would lose it. Answered after, a killed process
    answers nothing, Telegram delivers the update again, and the database recognises it if its
    transaction had committed (`processed_updates`). An update whose handler fails is answered
    200 too: the participant was told, and a redelivery would fail the same way."""

    def __init__(self, running: Running, secret: str, read_timeout: float) -> None:
        self.running = running
        self.secret = secret.encode()
        self.read_timeout = read_timeout

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not secrets.compare_digest(given, self.secret):
            return web.Response(text="Unauthorized", status=401)
        try:
            body = await asyncio.wait_for(request.read(), self.read_timeout)
        except TimeoutError:
            log.warning(
                "webhook: the request body did not arrive within %gs: closed", self.read_timeout
            )
            return web.Response(text="Request Timeout", status=408, headers={"Connection": "close"})
        try:
            data = json.loads(body)
        except ValueError:  # UnicodeDecodeError included
            return self._refuse("the body is not JSON")
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return self._refuse("the body is not a Telegram update (no integer update_id)")
        bot = self.running.bot
        try:
            update = Update.model_validate(data, context={"bot": bot})
        except ValidationError as exc:
            where = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()[:3])
            return self._refuse(f"update {update_id} is not a valid Telegram update ({where})")
        await self._feed(bot, update)
        return web.json_response({})

    @staticmethod
    def _refuse(reason: str) -> web.Response:
        log.warning("webhook: %s: refused (400)", reason)
        return web.Response(text=f"Bad Request: {reason}", status=400)

    async def _feed(self, bot: Bot, update: Update) -> None:
        dispatcher = self.running.dispatcher
        try:
            result = await dispatcher.feed_update(bot, update)
            if isinstance(result, TelegramMethod):
                await dispatcher.silent_call_request(bot, result)
        except Exception:
            log.exception("update %s failed", update.update_id)


def build_web_app(running: Running, settings: Settings) -> web.Application:
    """The public listener: the webhook at `WEBHOOK_URL`'s path and `/healthz`."""
    app = web.Application(client_max_size=MAX_UPDATE_BYTES)
    path = urlparse(settings.webhook_url).path or "/webhook"
    handler = WebhookHandler(running, settings.webhook_secret, settings.webhook_read_timeout)
    app.router.add_post(path, handler.handle)

    async def healthz(request: web.Request) -> web.Response:
        try:
            await running.db.ping()
        except Exception as exc:
            log.error("health check: database unreachable: %s", describe_exception(exc))
            return web.json_response({"status": "error", "database": "unreachable"}, status=503)
        return web.json_response({"status": "ok", "in_flight": running.guard.in_flight})

    app.router.add_get("/healthz", healthz)
    return app


async def run_webhook(settings: Settings, clock: Clock, background: list[Background]) -> None:
    if not settings.webhook_url:
        raise ConfigError("webhook mode needs WEBHOOK_URL (the public https URL Telegram calls)")
    if not settings.webhook_secret:
        raise ConfigError("webhook mode needs WEBHOOK_SECRET (1-256 of A-Z a-z 0-9 _ -)")
    host, port = settings.listen_address()
    async with running_bot(settings, clock) as running, metrics_listener(settings):
        stop = _stop_event()
        bot = running.bot
        app = build_web_app(running, settings)
        runner = web_runner(app, settings)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        log.info("webhook server listening on %s:%s", host, port)
        try:
            await at_start(bot.me, "getMe", settings, stop)
            await at_start(
                lambda: bot.set_webhook(
                    settings.webhook_url,
                    secret_token=settings.webhook_secret,
                    allowed_updates=ALLOWED_UPDATES,
                    drop_pending_updates=False,
                ),
                "setWebhook",
                settings,
                stop,
            )
            await at_start(
                lambda: set_commands(bot, running.ctx.survey.languages),
                "setMyCommands",
                settings,
                stop,
            )
        except _Stopped:
            await runner.cleanup()
            return
        tasks = await _background(running, background)
        await stop.wait()
        log.info("stopping: no new updates, finishing the updates in flight")
        await site.stop()
        await _finish(running, tasks)
        await runner.cleanup()
