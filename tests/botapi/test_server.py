"""Tests of the local Bot API server, driven over HTTP by a real aiogram Bot."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import SendMessage
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from tests.botapi.server import FakeBotAPI, SentMessage, parse_html

CHAT = 42
PNG = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + (640).to_bytes(4, "big") + (480).to_bytes(4, "big")


def make_bot(api: FakeBotAPI, token: str | None = None) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
    return Bot(token or api.token, session=session)


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=f"Option {d}", callback_data=d)] for d in data]
    )


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    bot = make_bot(api)
    yield bot
    await bot.session.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def echo_dispatcher() -> Dispatcher:
    dp = Dispatcher()

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {message.text}", reply_markup=keyboard("a", "b"))

    @dp.callback_query()
    async def pressed(query: CallbackQuery) -> None:
        await query.answer("ok")
        assert isinstance(query.message, Message)
        await query.message.edit_text(f"chosen: {query.data}")

    return dp


@contextlib.asynccontextmanager
async def polling(dp: Dispatcher, bot: Bot) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False))
    try:
        yield task
    finally:
        with contextlib.suppress(RuntimeError):
            await dp.stop_polling()
        await asyncio.wait_for(task, 5)


# ------------------------------------------------------------------------------ basics


async def test_get_me_and_errors(api: FakeBotAPI, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.id == 123456 and me.username == "test_bot"
    assert me.can_join_groups is False

    wrong = make_bot(api, "999:wrong")
    with pytest.raises(TelegramUnauthorizedError):
        await wrong.get_me()
    await wrong.session.close()

    async with aiohttp.ClientSession() as http:
        async with http.post(f"{api.base_url}/bot{api.token}/noSuchMethod") as resp:
            assert resp.status == 404
            body = await resp.json()
            assert body == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found: method not found",
            }
        async with http.get(f"{api.base_url}/bot{api.token}/getMe") as resp:
            assert (await resp.json())["result"]["is_bot"] is True
    assert api.calls("noSuchMethod")[0].status == 404


async def test_request_formats(api: FakeBotAPI) -> None:
    url = f"{api.base_url}/bot{api.token}"
    async with aiohttp.ClientSession() as http:
        markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
        payload = {"chat_id": CHAT, "text": "json body", "reply_markup": markup}
        async with http.post(f"{url}/sendMessage", json=payload) as resp:
            assert resp.status == 200
        form = aiohttp.FormData()
        form.add_field("chat_id", str(CHAT))
        form.add_field("caption", "direct bytes")
        form.add_field("document", b"a,b\n1,2\n", filename="data.csv")
        async with http.post(f"{url}/sendDocument", data=form) as resp:
            result = (await resp.json())["result"]
            assert result["document"]["file_name"] == "data.csv"
            assert result["document"]["mime_type"] == "text/csv"
        query = {"chat_id": str(CHAT), "text": "query string"}
        async with http.get(f"{url}/sendMessage", params=query) as resp:
            assert resp.status == 200
    first, document, third = api.transcript(CHAT)
    assert first.reply_markup == markup and first.text == "json body"
    assert document.document == b"a,b\n1,2\n" and document.caption == "direct bytes"
    assert third.text == "query string" and third.message_id == 3
    assert api.calls("sendMessage")[0].params["chat_id"] == CHAT


async def test_send_message_keyboard_and_transcript(api: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "Question 1", reply_markup=keyboard("q1:a", "q1:b"))
    assert sent.message_id == 1 and sent.chat.type == "private"
    assert sent.from_user is not None and sent.from_user.is_bot
    assert sent.reply_markup is not None
    message = api.last_message(CHAT)
    assert message is not None and message.text == "Question 1" and message.kind == "text"
    assert message.buttons == [("Option q1:a", "q1:a"), ("Option q1:b", "q1:b")]
    assert message.button_data("q1:b") == "q1:b"
    second = await bot.send_message(CHAT, "<b>Bold</b> &amp; more", parse_mode="HTML")
    assert second.message_id == 2
    assert second.text == "Bold & more"
    assert second.entities is not None and second.entities[0].type == "bold"
    assert [m.text for m in api.transcript(CHAT)] == ["Question 1", "Bold & more"]
    assert api.transcript(CHAT)[1].source_text == "<b>Bold</b> &amp; more"


async def test_edits(api: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "Question 1", reply_markup=keyboard("a"))
    edited = await bot.edit_message_text(
        "Question 2", chat_id=CHAT, message_id=sent.message_id, reply_markup=keyboard("b")
    )
    assert isinstance(edited, Message) and edited.edit_date is not None
    message = api.last_message(CHAT)
    assert message is not None
    assert message.text == "Question 2" and message.history == ["Question 1", "Question 2"]
    assert message.buttons == [("Option b", "b")]

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "Question 2", chat_id=CHAT, message_id=sent.message_id, reply_markup=keyboard("b")
        )
    # Editing the text without reply_markup removes the keyboard.
    await bot.edit_message_text("Question 2", chat_id=CHAT, message_id=sent.message_id)
    assert message.reply_markup is None and len(message.edits) == 2
    await bot.edit_message_reply_markup(
        chat_id=CHAT, message_id=sent.message_id, reply_markup=keyboard("c")
    )
    assert message.buttons == [("Option c", "c")]
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=CHAT, message_id=99)
    assert await bot.delete_message(CHAT, sent.message_id)
    assert message.deleted and api.last_message(CHAT) is None
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(CHAT, sent.message_id)


async def test_validation(api: FakeBotAPI, bot: Bot) -> None:
    await bot.send_message(CHAT, "ok", reply_markup=keyboard("x" * 64))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(CHAT, "too long data", reply_markup=keyboard("x" * 65))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(CHAT, "multibyte", reply_markup=keyboard("é" * 33))
    await bot.send_message(CHAT, "x" * 4096)
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(CHAT, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(CHAT, "   ")
    with pytest.raises(TelegramBadRequest, match="caption is too long"):
        await bot.send_document(CHAT, BufferedInputFile(b"1", "a.txt"), caption="c" * 1025)
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(CHAT, "<b>unclosed", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(CHAT, "1 < 2", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(CHAT, "<div>x</div>", parse_mode="HTML")
    assert len(api.transcript(CHAT)) == 2
    assert api.stats["sendMessage"].ok == 2 and api.stats["sendMessage"].other == 7


def test_parse_html() -> None:
    text, entities = parse_html('😀 <b>a<i>b</i></b> <a href="https://x.org/?a=1&amp;b=2">l</a>')
    assert text == "😀 ab l"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 2},
        {"type": "italic", "offset": 4, "length": 1},
        {"type": "text_link", "offset": 6, "length": 1, "url": "https://x.org/?a=1&b=2"},
    ]
    text, entities = parse_html('<pre><code class="language-py">x = 1</code></pre>')
    assert text == "x = 1"
    assert entities == [{"type": "pre", "offset": 0, "length": 5, "language": "py"}]
    assert parse_html("a & b &lt; c &#65;")[0] == "a & b < c A"


# ------------------------------------------------------------------------------ switches


async def test_rate_limits_and_injected_429() -> None:
    clock = FakeClock()
    async with FakeBotAPI(rate_limit=2, per_chat_rate=1, retry_after=3, clock=clock) as api:
        bot = make_bot(api)
        await bot.send_message(1, "a")
        with pytest.raises(TelegramRetryAfter) as info:
            await bot.send_message(1, "b")  # one a second in this chat
        assert info.value.retry_after == 3
        await bot.send_message(2, "c")
        with pytest.raises(TelegramRetryAfter):
            await bot.send_message(3, "d")  # two a second overall
        clock.now += 1.0
        await bot.send_message(1, "b")
        await bot.get_me()  # not rate limited

        api.rate_limit = api.per_chat_rate = None
        api.inject_429(2, retry_after=5)
        for _ in range(2):
            with pytest.raises(TelegramRetryAfter) as info:
                await bot.send_message(1, "x")
            assert info.value.retry_after == 5
        await bot.send_message(1, "x")
        stats = api.stats["sendMessage"]
        assert (stats.ok, stats.too_many) == (4, 4)
        assert api.calls("sendMessage")[1].description == "Too Many Requests: retry after 3"
        await bot.session.close()


async def test_block_and_fault_injection(api: FakeBotAPI, bot: Bot) -> None:
    api.block(7)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(7, "hello")
    with pytest.raises(TelegramForbiddenError):
        await bot.send_document(7, BufferedInputFile(b"1", "a.txt"))
    await bot.send_message(8, "hello")
    api.fail_next("sendMessage", 502, "Bad Gateway", count=2)
    for _ in range(2):
        with pytest.raises(TelegramServerError):
            await bot.send_message(8, "again")
    await bot.send_message(8, "again")
    assert api.stats["sendMessage"].forbidden == 1
    assert api.stats["sendMessage"].other == 2 and api.stats["sendMessage"].ok == 2
    assert api.totals().forbidden == 2


# ------------------------------------------------------------------------------ files & misc


async def test_documents_and_photos(api: FakeBotAPI, bot: Bot) -> None:
    data = b"col1,col2\n1,2\n"
    sent = await bot.send_document(
        CHAT, BufferedInputFile(data, filename="export.csv"), caption="Your export"
    )
    assert sent.document is not None and sent.document.file_name == "export.csv"
    assert sent.document.file_size == len(data) and sent.caption == "Your export"
    message = api.last_message(CHAT)
    assert message is not None and message.kind == "document"
    assert message.document == data and message.file_name == "export.csv"
    again = await bot.send_document(CHAT, sent.document.file_id)  # re-send by file_id
    assert again.document is not None and again.document.file_id == sent.document.file_id

    photo = await bot.send_photo(CHAT, BufferedInputFile(PNG, filename="chart.png"))
    assert photo.photo is not None and (photo.photo[-1].width, photo.photo[-1].height) == (
        640,
        480,
    )
    last = api.last_message(CHAT)
    assert last is not None and last.kind == "photo" and last.photo == PNG
    await bot.edit_message_caption(chat_id=CHAT, message_id=photo.message_id, caption="Chart")
    assert last.caption == "Chart"


async def test_callback_query_answered_once(api: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "Pick", reply_markup=keyboard("a"))
    update_id, query_id = api.press_button(CHAT, sent.message_id, "a")
    updates = await bot.get_updates(timeout=0)
    assert updates[0].update_id == update_id
    query = updates[0].callback_query
    assert query is not None and query.id == query_id and query.data == "a"
    assert isinstance(query.message, Message) and query.message.message_id == sent.message_id
    assert query.from_user.first_name == "Test" and query.chat_instance
    assert await bot.answer_callback_query(query_id, text="Saved")
    assert api.callback_answers[query_id]["text"] == "Saved"
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query("12345")


async def test_commands_chat_and_actions(api: FakeBotAPI, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand(command="start", description="Start")])
    await bot.set_my_commands(
        [BotCommand(command="start", description="Commencer")], language_code="fr"
    )
    await bot.set_my_commands(
        [BotCommand(command="admin", description="Admin")], scope=BotCommandScopeChat(chat_id=5)
    )
    assert [c.description for c in await bot.get_my_commands()] == ["Start"]
    assert [c.description for c in await bot.get_my_commands(language_code="fr")] == ["Commencer"]
    scoped = await bot.get_my_commands(scope=BotCommandScopeChat(chat_id=5))
    assert [c.command for c in scoped] == ["admin"]
    assert await bot.delete_my_commands(language_code="fr")
    assert await bot.get_my_commands(language_code="fr") == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Start", description="x")])

    api.add_user(CHAT, first_name="Alice")
    chat = await bot.get_chat(CHAT)
    assert chat.type == "private" and chat.first_name == "Alice" and chat.max_reaction_count
    assert await bot.send_chat_action(CHAT, "typing")
    info = await bot.get_webhook_info()
    assert info.url == "" and info.pending_update_count == 0


# ------------------------------------------------------------------------------ polling


async def test_polling_echo_bot(api: FakeBotAPI, bot: Bot) -> None:
    dp = echo_dispatcher()
    async with polling(dp, bot):
        api.send_text(CHAT, "hello", first_name="Alice")
        reply = await api.wait_for_message(CHAT)
        assert reply.text == "echo: hello" and reply.message_id == 2  # user's message is 1
        api.press_button(CHAT, reply.message_id, "b")
        edited = await api.wait_for_message(CHAT, lambda m: m.text == "chosen: b")
        assert edited.message_id == reply.message_id and edited.reply_markup is None
        await api.wait_idle()
        assert next(iter(api.callback_answers.values()))["text"] == "ok"
        api.send_command(CHAT, "/start")
        assert (await api.wait_for_message(CHAT)).text == "echo: /start"
    assert not api.polling  # the cancelled long poll released its mark

    # A new poller is served at once (no 409 from the cancelled request).
    async with polling(echo_dispatcher(), bot):
        api.send_text(CHAT, "again")
        await api.wait_for_message(CHAT, lambda m: m.text == "echo: again")
    cancelled = [c for c in api.calls("getUpdates") if c.status == 499]
    assert cancelled and api.stats["getUpdates"].other == len(cancelled)
    assert all(c.status != 409 for c in api.calls())
    assert api.pending_update_count == 0 and not api.errors


async def test_unconfirmed_updates_are_redelivered(api: FakeBotAPI, bot: Bot) -> None:
    update_id = api.send_text(CHAT, "before the crash")
    first = await bot.get_updates(timeout=0)
    again = await bot.get_updates(timeout=0)  # not confirmed: delivered again
    assert [u.update_id for u in first] == [u.update_id for u in again] == [update_id]

    seen: list[int] = []
    dp = Dispatcher()

    @dp.message()
    async def record(message: Message) -> None:
        seen.append(message.message_id)
        await message.answer("got it")

    async with polling(dp, bot):
        await api.wait_for_message(CHAT)
        # Redelivering the same update (same update_id) reaches the bot again.
        api.push_raw_update(first[0].model_dump(mode="json", exclude_none=True, by_alias=True))
        await api.wait_for(lambda: len(seen) == 2)
        await api.wait_idle()
    assert seen == [1, 1]
    assert api.pending_update_count == 0


async def test_long_poll_holds_and_conflicts(api: FakeBotAPI, bot: Bot) -> None:
    waiting = asyncio.create_task(bot.get_updates(timeout=5))
    await api.wait_for(lambda: api.polling)
    other = make_bot(api)
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
        await other.get_updates(timeout=0)
    await other.session.close()
    # The first request is still held open (the server answered only the second one) until an
    # update arrives.
    assert api.polling
    assert not waiting.done()
    update_id = api.send_text(CHAT, "wake up")
    updates = await asyncio.wait_for(waiting, 2)
    assert [u.update_id for u in updates] == [update_id]
    assert (await bot.get_updates(offset=update_id + 1, timeout=0)) == []
    assert api.pending_update_count == 0


# ------------------------------------------------------------------------------ webhook


@contextlib.asynccontextmanager
async def webhook_app(dp: Dispatcher, bot: Bot) -> AsyncIterator[str]:
    app = web.Application()
    # handle_in_background=False: a handler may answer with a method in the response body.
    handler = SimpleRequestHandler(
        dispatcher=dp, bot=bot, secret_token="s3cret", handle_in_background=False
    )
    handler.register(app, path="/webhook")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        await runner.cleanup()


async def test_webhook_mode(api: FakeBotAPI, bot: Bot) -> None:
    dp = Dispatcher()

    @dp.message(F.text == "reply")
    async def webhook_reply(message: Message) -> SendMessage:
        return message.answer("answered in the webhook response")

    @dp.message()
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {message.text}")

    async with webhook_app(dp, bot) as url:
        assert await bot.set_webhook(url, secret_token="s3cret", max_connections=5)
        info = await bot.get_webhook_info()
        assert info.url == url and info.max_connections == 5
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates(timeout=0)

        api.send_text(CHAT, "hi")
        assert (await api.wait_for_message(CHAT)).text == "echo: hi"
        api.send_text(CHAT, "reply")
        assert (await api.wait_for_message(CHAT)).text == "answered in the webhook response"
        await api.wait_idle()
        assert [d.status for d in api.webhook_deliveries] == [200, 200]
        reply_call = api.calls("sendMessage")[-1]
        assert reply_call.source == "webhook-reply" and reply_call.status == 200

        # A wrong secret: the bot answers 401, the server retries then gives up.
        api.webhook_backoff = 0.01
        await bot.set_webhook(url, secret_token="wrong")
        update_id = api.send_text(CHAT, "lost")
        await api.wait_for(lambda: update_id in api.dropped_updates)
        attempts = [d for d in api.webhook_deliveries if d.update_id == update_id]
        assert [d.status for d in attempts] == [401] * (1 + api.webhook_retries)
        info = await bot.get_webhook_info()
        assert info.last_error_message is not None and "401" in info.last_error_message

        assert await bot.delete_webhook()
        assert api.webhook_url is None
        api.send_text(CHAT, "polled")
        updates = await bot.get_updates(timeout=0)
        assert updates[0].message is not None and updates[0].message.text == "polled"


async def test_webhook_secret_header_sent(api: FakeBotAPI) -> None:
    received: list[tuple[str | None, dict[str, object]]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        if len(received) == 1:
            return web.Response(status=500)  # retried
        reply = {"method": "sendMessage", "chat_id": CHAT, "text": "from json reply"}
        return web.json_response(reply)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        async with aiohttp.ClientSession() as http:
            body = {"url": url, "secret_token": "abc_DEF-1"}
            async with http.post(f"{api.base_url}/bot{api.token}/setWebhook", data=body) as resp:
                assert (await resp.json())["result"] is True
        update_id = api.send_sticker(CHAT)
        message = await api.wait_for_message(CHAT)
        assert message.text == "from json reply"
        assert [r[0] for r in received] == ["abc_DEF-1", "abc_DEF-1"]
        assert received[0][1]["update_id"] == update_id
        assert [d.status for d in api.webhook_deliveries] == [500, 200]
    finally:
        await runner.cleanup()


def test_sent_message_helpers() -> None:
    message = SentMessage(
        message_id=1,
        chat_id=1,
        kind="text",
        text="t",
        reply_markup={"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}]]},
        date=0,
        time=0.0,
        method="sendMessage",
    )
    assert message.keyboard == [["Yes"]] and message.button_data("Ye") == "y"
    with pytest.raises(LookupError):
        message.button_data("No")
    assert json.dumps(message.buttons) == '[["Yes", "y"]]'


async def test_group_updates_and_leave_chat(api: FakeBotAPI, bot: Bot) -> None:
    group, channel = -1001234, -1005678
    api.group_chat(channel, kind="channel", title="News")
    api.send_in_chat(group, "/start", user_id=7)
    api.send_in_chat(group, "/start", anonymous_admin=True)
    api.send_in_chat(group, "/status")  # no `from`: a channel-style post
    api.send_in_chat(group, "hello", user_id=8, sender_chat_id=channel)
    api.press_button_in_chat(group, 7, 99, "c:1:0:0")
    api.add_bot_to_chat(group, 7)
    api.add_bot_to_chat(channel, 7, administrator=True)
    updates = await bot.get_updates(timeout=0, allowed_updates=[])
    # aiogram accepts every one of them.
    first, anonymous, post, as_channel, tap, added, service, promoted = updates
    assert first.message is not None and first.message.chat.type == "supergroup"
    assert first.message.from_user is not None and first.message.from_user.id == 7
    assert first.message.entities and first.message.entities[0].type == "bot_command"
    assert anonymous.message is not None and anonymous.message.sender_chat is not None
    assert anonymous.message.from_user is not None
    assert anonymous.message.from_user.username == "GroupAnonymousBot"
    assert post.message is not None and post.message.from_user is None
    assert post.message.sender_chat is not None and post.message.sender_chat.id == group
    assert as_channel.message is not None and as_channel.message.sender_chat is not None
    assert as_channel.message.sender_chat.type == "channel"
    assert tap.callback_query is not None and tap.callback_query.message is not None
    assert tap.callback_query.message.chat.id == group
    assert added.my_chat_member is not None
    assert added.my_chat_member.new_chat_member.status == "member"
    assert service.message is not None and service.message.new_chat_members
    assert promoted.my_chat_member is not None
    assert promoted.my_chat_member.chat.type == "channel"
    assert promoted.my_chat_member.new_chat_member.status == "administrator"

    await bot.send_message(group, "once")
    assert await bot.leave_chat(group) is True
    assert api.left_chats == {group}
    with pytest.raises(TelegramForbiddenError, match="not a member of the supergroup chat"):
        await bot.send_message(group, "twice")
    with pytest.raises(TelegramBadRequest, match="private chats"):
        await bot.leave_chat(CHAT)
    api.add_bot_to_chat(group, 7)  # added again: it can write there again
    await bot.send_message(group, "again")
    assert [m.text for m in api.transcript(group)] == ["once", "again"]
