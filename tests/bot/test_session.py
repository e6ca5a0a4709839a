"""The bot's HTTP session (`bot.session.LeanSession`) against the local Bot API server: the
answers it does not validate still carry what the bot reads, and errors are raised as before."""

from __future__ import annotations

import json
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


async def test_a_method_without_a_file_goes_as_json_and_a_file_as_a_multipart_form() -> None:
    """What the Bot API server receives: one JSON body whose keyboard is an object (not a JSON
    string inside a percent-escaped form), the defaults of the bot applied, nothing empty; a
    document still as a multipart form with its bytes."""
    from aiogram.types import BufferedInputFile
    from aiohttp import web

    received: list[tuple[str, str, bytes]] = []

    async def method(request: web.Request) -> web.Response:
        received.append((request.match_info["method"], request.content_type, await request.read()))
        result = {"message_id": 1, "date": 0, "chat": {"id": CHAT, "type": "private"}}
        return web.json_response({"ok": True, "result": result})

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", method)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    bot = build_bot("1:token", f"http://127.0.0.1:{port}")
    try:
        markup = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Oui & non", callback_data="c:1:q:o")]]
        )
        await bot.send_message(CHAT, "Élan <b>fort</b>", parse_mode="HTML", reply_markup=markup)
        await bot.send_document(CHAT, BufferedInputFile(b"a;b\n1;2\n", "export.csv"))
    finally:
        await bot.session.close()
        await runner.cleanup()
    (name, ctype, body), (doc_name, doc_ctype, doc_body) = received
    assert (name, ctype) == ("sendMessage", "application/json")
    sent = json.loads(body)
    assert sent["chat_id"] == CHAT
    assert sent["text"] == "Élan <b>fort</b>"
    assert sent["reply_markup"] == {
        "inline_keyboard": [[{"text": "Oui & non", "callback_data": "c:1:q:o"}]]
    }
    assert "" not in sent.values() and None not in sent.values()
    assert (doc_name, doc_ctype) == ("sendDocument", "multipart/form-data")
    assert b"a;b\n1;2\n" in doc_body
