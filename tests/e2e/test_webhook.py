"""Webhook mode, end to end: the bot's aiohttp app listens on a local port, the local Bot API
server POSTs the updates to it with the secret header, and the participant gets answers."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import ClientSession, web

from bot.app import set_commands
from bot.runner import Running, build_web_app, running_bot
from dialogs import Survey
from dialogs.state import Answer, Phase
from tests.e2e.harness import ManualClock, Participant, RecordingBotAPI, settings_for

pytestmark = pytest.mark.e2e

SECRET = "s3cret-Token_42"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass
class WebhookBot:
    running: Running
    base: str
    """http://127.0.0.1:<port>"""

    @property
    def url(self) -> str:
        return f"{self.base}/telegram/webhook"


@contextlib.asynccontextmanager
async def webhook_bot(
    api: RecordingBotAPI, database_url: str, clock: ManualClock
) -> AsyncIterator[WebhookBot]:
    """The bot serving its webhook app on a free local port, registered with the server."""
    settings = settings_for(
        api,
        database_url,
        WEBHOOK_URL="http://127.0.0.1/telegram/webhook",
        WEBHOOK_SECRET=SECRET,
    )
    async with running_bot(settings, clock) as running:
        runner = web.AppRunner(build_web_app(running, settings), handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            port = runner.addresses[0][1]
            served = WebhookBot(running, f"http://127.0.0.1:{port}")
            await running.bot.set_webhook(
                served.url,
                secret_token=SECRET,
                allowed_updates=["message", "callback_query"],
            )
            await set_commands(running.bot, running.ctx.survey.languages)
            yield served
        finally:
            await running.bot.delete_webhook()
            await site.stop()
            await running.guard.drain(5)
            await runner.cleanup()


async def test_webhook_mode_serves_a_participant_and_refuses_a_wrong_secret(
    api: RecordingBotAPI, database_url: str, clock: ManualClock, survey: Survey
) -> None:
    async with webhook_bot(api, database_url, clock) as served:
        running = served.running
        assert api.webhook_url == served.url
        p = Participant(api, 2001, running=running)

        reply = await p.send("/start")
        assert "▱▱▱▱▱▱▱▱▱▱ 0 % · " in (reply.text or "")
        reply = await p.tap("J’accepte")
        assert survey.by_id["actor_type"].text.get("fr") in (reply.text or "")
        reply = await p.send("2")
        assert survey.by_id["company_rd"].text.get("fr") in (reply.text or "")
        deliveries = [d for d in api.webhook_deliveries if d.status == 200]
        assert len(deliveries) == 3, api.webhook_deliveries
        before = await running.ctx.store.load(p.key)
        assert before.state.answers["actor_type"] == Answer("company_sme")
        assert before.state.phase is Phase.ANSWERING

        # A forged POST: a well-formed update answering the question, with a wrong secret or none.
        update = {
            "update_id": 900_001,
            "message": {
                "message_id": 9_999,
                "date": 1_643_706_000,
                "chat": {"id": p.user_id, "type": "private", "first_name": "Test"},
                "from": {"id": p.user_id, "is_bot": False, "first_name": "Test"},
                "text": "1",
            },
        }
        count = len(p.messages())
        async with ClientSession() as http:
            for headers in ({SECRET_HEADER: "wrong"}, {}, {SECRET_HEADER: SECRET + "x"}):
                async with http.post(
                    served.url,
                    data=json.dumps(update),
                    headers={"Content-Type": "application/json", **headers},
                ) as response:
                    assert response.status == 401
            await p.settle()
            assert len(p.messages()) == count
            after = await running.ctx.store.load(p.key)
            assert after.state.answers == before.state.answers
            assert after.version == before.version
            assert after.state.current == before.state.current

            async with http.get(f"{served.base}/healthz") as response:
                assert response.status == 200
                assert (await response.json())["status"] == "ok"

            # The right secret: the same update is taken (so the 401s were about the secret).
            async with http.post(
                served.url,
                data=json.dumps(update),
                headers={"Content-Type": "application/json", SECRET_HEADER: SECRET},
            ) as response:
                assert response.status == 200
        await p.settle()
        assert len(p.messages()) == count + 1
        taken = await running.ctx.store.load(p.key)
        assert taken.state.answers["company_rd"] == Answer("regular")

    wanted = ["start", "help", "status", "language", "delete"]
    for language in ("fr", "en"):
        assert [c["command"] for c in api.commands(language_code=language)] == wanted
