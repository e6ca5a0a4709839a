"""Sending views to Telegram: messages with inline keyboards, edits in place, and the handling
of Telegram's answers (429: wait and retry; 403: the participant blocked the bot)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.render import Button, View

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_RETRIES = 3
MAX_RETRY_WAIT = 30.0


class Blocked(Exception):
    """The participant blocked the bot (403)."""


def keyboard(view: View) -> InlineKeyboardMarkup | None:
    rows: list[list[InlineKeyboardButton]] = []
    columns = max(1, view.option_columns)
    for start in range(0, len(view.options), columns):
        rows.append([_button(b) for b in view.options[start : start + columns]])
    rows.extend([_button(b) for b in row] for row in view.rows if row)
    if view.nav:
        rows.append([_button(b) for b in view.nav])
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def _button(button: Button) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=button.label, callback_data=button.data)


async def call(make: Callable[[], Awaitable[T]], *, chat_id: int) -> T:
    """Run one Bot API call, waiting out 429s; a 403 raises Blocked."""
    for attempt in range(MAX_RETRIES + 1):
        try:
            return await make()
        except TelegramRetryAfter as exc:
            if attempt == MAX_RETRIES or exc.retry_after > MAX_RETRY_WAIT:
                raise
            log.warning("429 for chat %s: waiting %ss", chat_id, exc.retry_after)
            await asyncio.sleep(exc.retry_after)
        except TelegramForbiddenError as exc:
            raise Blocked(str(exc)) from exc
    raise AssertionError("unreachable")


class Sender:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send_text(
        self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> Message:
        return await call(
            lambda: self.bot.send_message(chat_id, text, parse_mode="HTML", reply_markup=markup),
            chat_id=chat_id,
        )

    async def send_view(self, chat_id: int, view: View, prefix: str = "") -> Message:
        texts = list(view.texts)
        if prefix:
            texts[0] = f"{prefix}\n\n{texts[0]}"
        for text in texts[:-1]:
            await self.send_text(chat_id, text)
        return await self.send_text(chat_id, texts[-1], keyboard(view))

    async def edit_view(self, chat_id: int, message_id: int, view: View) -> None:
        """Show `view` in the message the participant tapped (falls back to a new message)."""
        if len(view.texts) != 1:
            await self.send_view(chat_id, view)
            return
        try:
            await call(
                lambda: self.bot.edit_message_text(
                    text=view.texts[0],
                    chat_id=chat_id,
                    message_id=message_id,
                    parse_mode="HTML",
                    reply_markup=keyboard(view),
                ),
                chat_id=chat_id,
            )
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                return
            log.warning(
                "edit of message %s in chat %s failed (%s); sending anew",
                message_id,
                chat_id,
                exc.message,
            )
            await self.send_view(chat_id, view)
