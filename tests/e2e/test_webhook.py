"""Webhook mode, end to end: the bot's aiohttp app listens on a local port, the local Bot API
server POSTs the updates to it with the secret header, and the participant gets answers."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import ClientSession, web

from bot.app import ALLOWED_UPDATES, set_commands
from bot.runner import Running, build_web_app, metrics_listener, running_bot, web_runner
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
    """http://127.0.0.1:<port>: the public listener (webhook, /healthz)."""
    metrics_base: str
    """http://127.0.0.1:<port>: the metrics listener."""

    @property
    def url(self) -> str:
        return f"{self.base}/telegram/webhook"


def _port(runner: web.AppRunner) -> int:
    port: int = runner.addresses[0][1]
    return port


@contextlib.asynccontextmanager
async def webhook_bot(
    api: RecordingBotAPI, database_url: str, clock: ManualClock, **extra: str
) -> AsyncIterator[WebhookBot]:
    """The bot serving its webhook app on a free local port, registered with the server, and
    its metrics on another."""
    settings = settings_for(
        api,
        database_url,
        WEBHOOK_URL="http://127.0.0.1/telegram/webhook",
        WEBHOOK_SECRET=SECRET,
        METRICS_LISTEN="127.0.0.1:0",
        **extra,
    )
    async with running_bot(settings, clock) as running, metrics_listener(settings) as metrics:
        assert metrics is not None
        runner = web_runner(build_web_app(running, settings), settings)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            served = WebhookBot(
                running, f"http://127.0.0.1:{_port(runner)}", f"http://127.0.0.1:{_port(metrics)}"
            )
            await running.bot.set_webhook(
                served.url,
                secret_token=SECRET,
                allowed_updates=ALLOWED_UPDATES,
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


def _update(update_id: object, user_id: int, text: str = "1") -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 9_000 + len(text),
            "date": 1_643_706_000,
            "chat": {"id": user_id, "type": "private", "first_name": "Test"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Test"},
            "text": text,
        },
    }


async def test_a_body_that_is_not_an_update_is_refused_with_400_and_no_traceback(
    api: RecordingBotAPI,
    database_url: str,
    clock: ManualClock,
    survey: Survey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with webhook_bot(api, database_url, clock) as served:
        p = Participant(api, 2101, running=served.running)
        await p.send("/start")
        before = await served.running.ctx.store.load(p.key)
        missing_chat = _update(900_104, p.user_id)
        del missing_chat["message"]["chat"]  # type: ignore[attr-defined]
        bodies = [
            b'{"update_id": 900101, "message": ',  # cut short
            b"\xff\xfe not even text",
            b"[]",
            b'[{"update_id": 900102}]',
            b"null",
            b"42",
            b'"update"',
            json.dumps({"message": _update(0, p.user_id)["message"]}).encode(),  # no update_id
            json.dumps(_update("900103", p.user_id)).encode(),  # update_id not a number
            json.dumps(_update(True, p.user_id)).encode(),
            json.dumps(missing_chat).encode(),  # not a valid Update
        ]
        caplog.clear()
        async with ClientSession() as http:
            for body in bodies:
                async with http.post(
                    served.url,
                    data=body,
                    headers={"Content-Type": "application/json", SECRET_HEADER: SECRET},
                ) as response:
                    assert response.status == 400, body
                    assert "Traceback" not in await response.text()
            # A body over the size limit.
            async with http.post(
                served.url,
                data=b" " * (1024 * 1024),
                headers={"Content-Type": "application/json", SECRET_HEADER: SECRET},
            ) as response:
                assert response.status == 413
        await p.settle()
        refusals = [r for r in caplog.records if "refused (400)" in r.getMessage()]
        assert len(refusals) == len(bodies)
        for record in caplog.records:
            assert record.exc_info is None, record.getMessage()
            assert record.levelno < logging.ERROR, record.getMessage()
        # Nothing was applied; the next real update is.
        after = await served.running.ctx.store.load(p.key)
        assert after.version == before.version
        reply = await p.tap("J’accepte")
        assert survey.by_id["actor_type"].text.get("fr") in (reply.text or "")


async def test_metrics_are_not_served_on_the_public_listener(
    api: RecordingBotAPI, database_url: str, clock: ManualClock
) -> None:
    async with webhook_bot(api, database_url, clock) as served, ClientSession() as http:
        async with http.get(f"{served.base}/metrics") as response:
            assert response.status == 404
        async with http.get(f"{served.base}/healthz") as response:
            assert response.status == 200
        async with http.get(f"{served.metrics_base}/metrics") as response:
            assert response.status == 200
            assert "consultbot_updates_handled_total" in await response.text()
