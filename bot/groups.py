"""The bot acts in private chats only: the filter the participant and admin routers share, and
the router that answers whatever comes from a group, a supergroup or a channel.

In a group the bot posts at most one message, a short pointer to its private chat (a
`t.me/<username>` link), then leaves the group. "At most once" is per group and per process:
the groups already told are remembered in memory (the most recent `REMEMBERED` of them), so a
second message from the same group gets no reply even when leaving failed; another process of
a multi-process deployment may post one more pointer, but the bot normally left at the first.
In a channel it posts nothing and leaves. A tap on a button of a message in a group is never an
answer: only the tapper sees a short notice (the callback query's answer). Messages without a
sender (`from` missing: channel-style posts) and those of anonymous group admins
(GroupAnonymousBot, or any `sender_chat`) never reach the participant or admin handlers, so
they never become a participant.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import BaseFilter
from aiogram.types import CallbackQuery, Chat, ChatMemberUpdated, Message, TelegramObject, User

from bot.context import BotContext
from bot.i18n import t
from bot.sender import Blocked, Sender

log = logging.getLogger(__name__)

GROUP_ANONYMOUS_BOT_ID = 1087968824
"""The `from` of messages that anonymous group admins send."""
REMEMBERED = 10_000
PRESENT = ("member", "administrator", "restricted", "creator")


def is_private(event: TelegramObject) -> bool:
    """A message or a tap of a person in their private chat with the bot (and nothing else)."""
    if isinstance(event, Message):
        return _private_sender(event.chat, event.from_user) and event.sender_chat is None
    if isinstance(event, CallbackQuery):
        message = event.message
        return message is not None and _private_sender(message.chat, event.from_user)
    return False


def _private_sender(chat: Chat, user: User | None) -> bool:
    return (
        chat.type == "private"
        and user is not None
        and not user.is_bot
        and user.id != GROUP_ANONYMOUS_BOT_ID
        and user.id == chat.id
    )


class PrivateOnly(BaseFilter):
    """Matches messages and taps of a person in their private chat with the bot."""

    async def __call__(self, event: TelegramObject) -> bool:
        return is_private(event)


class Elsewhere(BaseFilter):
    """Matches messages and taps that come from a group, a supergroup or a channel."""

    async def __call__(self, event: TelegramObject) -> bool:
        if isinstance(event, Message):
            return event.chat.type != "private"
        if isinstance(event, CallbackQuery):
            return event.message is None or event.message.chat.type != "private"
        return False


class GroupHandlers:
    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx
        self.told: OrderedDict[int, None] = OrderedDict()

    def router(self) -> Router:
        router = Router(name="groups")
        elsewhere = Elsewhere()
        router.message.register(self.on_message, elsewhere)
        router.callback_query.register(self.on_tap, elsewhere)
        router.my_chat_member.register(self.on_membership)
        return router

    def _first_time(self, chat_id: int) -> bool:
        """True once per chat (and process); the check and the record are one step."""
        if chat_id in self.told:
            return False
        self.told[chat_id] = None
        if len(self.told) > REMEMBERED:
            self.told.popitem(last=False)
        return True

    async def on_message(self, message: Message, bot: Bot) -> None:
        chat = message.chat
        if message.left_chat_member is not None and message.left_chat_member.id == bot.id:
            return
        if not self._first_time(chat.id):
            log.debug("message in %s %s: already told, ignored", chat.type, chat.id)
            return
        user = message.from_user
        await self._point_and_leave(bot, chat, user.language_code if user else None)

    async def on_membership(self, update: ChatMemberUpdated, bot: Bot) -> None:
        chat = update.chat
        if chat.type == "private" or update.new_chat_member.status not in PRESENT:
            return  # a person blocked or unblocked the bot; or the bot left a group
        if not self._first_time(chat.id):
            return
        await self._point_and_leave(bot, chat, update.from_user.language_code)

    async def on_tap(self, query: CallbackQuery) -> None:
        chat = query.message.chat if query.message is not None else None
        log.info(
            "tap from %s in %s %s ignored",
            query.from_user.id,
            chat.type if chat else "inline",
            chat.id if chat else "message",
        )
        language = self.ctx.language_for(query.from_user.language_code)
        try:
            await query.answer(t(language, "group.tap"))
        except TelegramAPIError as exc:
            log.warning("could not answer callback query %s: %s", query.id, exc)

    async def _point_and_leave(self, bot: Bot, chat: Chat, language_code: str | None) -> None:
        if chat.type != "channel":  # a post in a channel would reach all its subscribers
            language = self.ctx.language_for(language_code)
            me = await bot.me()
            link = f"https://t.me/{me.username}" if me.username else ""
            try:
                await Sender(bot).send_text(chat.id, t(language, "group.pointer", link=link))
            except (Blocked, TelegramAPIError) as exc:
                log.info("could not post the pointer in %s %s: %s", chat.type, chat.id, exc)
        try:
            await bot.leave_chat(chat.id)
        except TelegramAPIError as exc:
            log.warning("could not leave %s %s: %s", chat.type, chat.id, exc)
            return
        log.info("left %s %s: the bot acts in private chats only", chat.type, chat.id)
