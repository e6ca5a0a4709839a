"""The bot's HTTP session (`bot.session.LeanSession`) against the local Bot API server: the
answers it does not validate still carry what the bot reads, and errors are raised as before."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.app import build_bot
from bot.session import GetUpdatesSkipping
from tests.botapi.server import FakeBotAPI

CHAT = 4242


@pytest.fixture
async def served() -> AsyncIterator[tuple[FakeBotAPI, Bot]]:
    api = FakeBotAPI()
    await api.start()
    bot = build_bot(api.token, api.base_url)
    try:
        yield api, bot
    finally:
        await bot.session.close()
        await api.stop()


async def test_sent_and_edited_messages_carry_their_id(served: tuple[FakeBotAPI, Bot]) -> None:
    api, bot = served
    api.add_user(CHAT)
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Oui", callback_data="x")]]
    )
    sent = await bot.send_message(CHAT, "<b>Bonjour</b>", parse_mode="HTML", reply_markup=markup)
    assert isinstance(sent, Message)
    last = api.last_message(CHAT)
    assert last is not None
    assert sent.message_id == last.message_id
    assert sent.from_user is not None  # the alias "from" is mapped
    edited = await bot.edit_message_text(text="Re", chat_id=CHAT, message_id=sent.message_id)
    assert isinstance(edited, Message)
    assert edited.message_id == sent.message_id
    assert api.last_message(CHAT).text == "Re"  # type: ignore[union-attr]


async def test_errors_are_still_raised(served: tuple[FakeBotAPI, Bot]) -> None:
    api, bot = served
    api.add_user(CHAT)
    api.inject_429(1, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as raised:
        await bot.send_message(CHAT, "un")
    assert raised.value.retry_after == 3
    api.block(CHAT)
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(CHAT, "deux")


async def test_get_updates_skipping_leaves_out_the_known_updates(
    served: tuple[FakeBotAPI, Bot],
) -> None:
    api, bot = served
    first = api.send_text(CHAT, "un")
    second = api.send_text(CHAT, "deux")
    plain = await bot(GetUpdatesSkipping(timeout=0))
    assert [u.update_id for u in plain] == [first, second]
    skipping = await bot(GetUpdatesSkipping(timeout=0).skipping(frozenset({first})))
    assert [u.update_id for u in skipping] == [second]
    assert skipping[0].message is not None and skipping[0].message.text == "deux"
    # Nothing was confirmed: the skipped update is still there for a plain getUpdates.
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [first, second]
    assert "skip" not in str(api.calls("getUpdates")[-2].params)
