"""Assemble the bot: the aiogram Bot pointed at TELEGRAM_API_URL, the dispatcher with its
middlewares (duplicate updates dropped, in-flight updates counted) and routers, the command menu."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import BotCommand, ErrorEvent, TelegramObject, Update

from bot import metrics
from bot.admin import AdminHandlers
from bot.context import BotContext
from bot.groups import GroupHandlers
from bot.i18n import t
from bot.logs import describe_exception, failing_step, update_scope
from bot.participant import ParticipantHandlers
from bot.sender import Blocked, Sender
from bot.session import LeanSession

log = logging.getLogger(__name__)
COMMANDS = ("start", "help", "status", "language", "delete")
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
"""The updates the bot asks Telegram for; `my_chat_member` tells it it was added to a group or
a channel, which it leaves (bot.groups)."""
RECENT_UPDATES = 50_000


_PINNED_RESPONSE_MODELS: list[type] = []


def pin_response_models() -> None:
    """Keep a strong reference to aiogram's `Response[T]` model of every Bot API method.

    aiogram writes `Response[method.__returning__]` on every call; pydantic caches generic
    models in a weak dictionary, so once garbage-collected each is built again (about 10 ms
    of schema generation). Under load that rebuild took a fifth of the bot's CPU.
    """
    if _PINNED_RESPONSE_MODELS:
        return
    from aiogram import methods
    from aiogram.methods.base import Response

    used = (
        methods.GetMe,
        methods.GetUpdates,
        methods.SetWebhook,
        methods.DeleteWebhook,
        methods.SetMyCommands,
        methods.SendMessage,
        methods.EditMessageText,
        methods.EditMessageReplyMarkup,
        methods.AnswerCallbackQuery,
        methods.SendDocument,
        methods.SendPhoto,
        methods.LeaveChat,
    )
    for method in used:
        _PINNED_RESPONSE_MODELS.append(Response[method.__returning__])  # type: ignore[name-defined]


def build_bot(token: str, api_url: str) -> Bot:
    pin_response_models()
    session = LeanSession(api=TelegramAPIServer.from_base(api_url))
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode="HTML"))


class UpdateGuard(BaseMiddleware):
    """Drops an update id seen recently by this process (the store checks across processes)
    and counts the updates in flight, so that a shutdown can wait for them."""

    def __init__(self) -> None:
        self.recent: OrderedDict[int, None] = OrderedDict()
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        assert isinstance(event, Update)
        if event.update_id in self.recent:
            log.info("update %s delivered again, ignored", event.update_id)
            return None
        self.recent[event.update_id] = None
        if len(self.recent) > RECENT_UPDATES:
            self.recent.popitem(last=False)
        self.in_flight += 1
        self.idle.clear()
        started = time.perf_counter()
        user_id, _ = _who(event)
        try:
            with update_scope(update_id=event.update_id, user=user_id):
                return await handler(event, data)
        finally:
            metrics.UPDATE_LATENCY.observe(time.perf_counter() - started)
            metrics.UPDATES.labels(metrics.update_kind(event)).inc()
            self.in_flight -= 1
            if self.in_flight == 0:
                self.idle.set()

    async def drain(self, timeout: float) -> bool:
        """Wait for the updates in flight; False if some were still running after `timeout`."""
        try:
            await asyncio.wait_for(self.idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


def build_dispatcher(ctx: BotContext) -> tuple[Dispatcher, UpdateGuard]:
    dispatcher = Dispatcher()
    guard = UpdateGuard()
    dispatcher.update.outer_middleware(guard)
    participant = ParticipantHandlers(ctx)
    # First: whatever comes from a group or a channel stops there (private chats only).
    dispatcher.include_router(GroupHandlers(ctx).router())
    dispatcher.include_router(AdminHandlers(ctx, participant).router())
    dispatcher.include_router(participant.router())

    async def on_error(event: ErrorEvent, bot: Bot) -> None:
        update = event.update
        user_id, chat_id = _who(update)
        if chat_id is not None and chat_id != user_id:
            chat_id = None  # never tell a group: the bot writes in private chats only
        log.error(  # the type and the step, never the message: it may quote the participant
            "update %s from user %s failed at %s: %s",
            update.update_id,
            user_id,
            failing_step(event.exception),
            describe_exception(event.exception),
            exc_info=event.exception,
            extra={"update_id": update.update_id, "user": user_id},
        )
        if chat_id is None:
            return
        try:
            language = ctx.language_for(None)
            if user_id is not None:
                snapshot = await ctx.store.load(participant.key_for(user_id))
                language = snapshot.state.language
            await Sender(bot).send_text(chat_id, t(language, "error.internal"))
        except Blocked:
            pass
        except Exception:
            log.exception("could not tell chat %s about the failure", chat_id)

    dispatcher.errors.register(on_error)
    return dispatcher, guard


def _who(update: Update) -> tuple[int | None, int | None]:
    if update.message is not None:
        user = update.message.from_user
        return (user.id if user else None), update.message.chat.id
    if update.callback_query is not None:
        query = update.callback_query
        chat = query.message.chat.id if query.message is not None else None
        return query.from_user.id, chat
    return None, None


async def set_commands(bot: Bot, languages: tuple[str, ...]) -> None:
    """The command menu, in every language, the survey's first language as the default."""
    for index, language in enumerate(languages):
        commands = [
            BotCommand(command=c, description=t(language, f"command.{c}")) for c in COMMANDS
        ]
        await bot.set_my_commands(commands, language_code=language)
        if index == 0:
            await bot.set_my_commands(commands)
