"""The bot as a real process (`python -m bot.cli run`): killed with SIGKILL half-way through a
participant's answers and started again, it resumes where they were; SIGTERM stops it cleanly,
finishing the update in flight. Polling and webhook modes."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from collections.abc import Iterator

import pytest
from aiohttp import ClientSession

from bot.survey_file import LoadedSurvey
from dialogs import Survey
from dialogs.flow import progress
from dialogs.state import Answer, Phase
from storage.repository import Snapshot, Store
from tests.e2e.harness import (
    BotProcess,
    Participant,
    RecordingBotAPI,
    answer_current,
    answer_until,
    open_store,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

COMMANDS = ["start", "help", "status", "language", "delete"]


@pytest.fixture
def processes() -> Iterator[list[BotProcess]]:
    """Bot processes started by a test; any still alive at the end is killed."""
    started: list[BotProcess] = []
    yield started
    for process in started:
        process.stop()


def launch(
    processes: list[BotProcess], api: RecordingBotAPI, database_url: str, **kw: object
) -> BotProcess:
    process = BotProcess(api, database_url, **kw)  # type: ignore[arg-type]
    process.start()
    processes.append(process)
    return process


async def test_killed_with_sigkill_and_restarted_it_resumes_at_the_next_question(
    api: RecordingBotAPI,
    database_url: str,
    loaded: LoadedSurvey,
    survey: Survey,
    processes: list[BotProcess],
) -> None:
    first = launch(processes, api, database_url)
    await first.wait_polling()
    # run_polling set the command menu in both languages.
    assert [c["command"] for c in api.commands(language_code="fr")] == COMMANDS
    assert [c["command"] for c in api.commands(language_code="en")] == COMMANDS

    p = Participant(api, 3001, replies=True)
    async with open_store(database_url, loaded) as store:

        async def load() -> Snapshot:
            return await store.load(p.key)

        await p.send("/start")
        half = len(survey.questions) // 2
        await answer_until(p, survey, load, lambda state: len(state.answers) >= half)
        before = await load()
        assert len(before.state.answers) == half
        assert before.state.phase is Phase.ANSWERING

        first.kill()
        assert first.process is not None and first.process.returncode == -signal.SIGKILL

        second = launch(processes, api, database_url)
        await second.wait_polling()
        reply = await p.send("/start")
        text = reply.text or ""
        question = survey.by_id[before.state.current or ""]
        where = progress(survey, before.state.answers, question)
        assert question.id not in before.state.answers
        assert "Bon retour" in text
        assert question.text.get("fr") in text
        assert f"{where.percent} %" in text
        assert where.question_number == half + 1
        resumed = await load()
        assert resumed.state.answers == before.state.answers
        assert resumed.state.current == question.id

        # And the participant goes on from there.
        await answer_current(p, survey, resumed.state)
        going_on = await load()
        assert set(going_on.state.answers) == {*before.state.answers, question.id}
        assert going_on.state.current not in (None, question.id)
        assert await second.terminate() == 0


async def _slow_callback_answers(api: RecordingBotAPI, seconds: float) -> asyncio.Event:
    """answerCallbackQuery takes `seconds`: a tap stays in flight that long. Returns an event
    set when the first such call arrives."""
    arrived = asyncio.Event()

    async def slow(params: dict[str, object]) -> bool:
        arrived.set()
        await asyncio.sleep(seconds)
        return True

    api.set_method("answerCallbackQuery", slow)
    return arrived


async def test_sigterm_finishes_the_update_in_flight_and_exits_0(
    api: RecordingBotAPI,
    database_url: str,
    loaded: LoadedSurvey,
    survey: Survey,
    processes: list[BotProcess],
) -> None:
    bot = launch(processes, api, database_url)
    await bot.wait_polling()
    p = Participant(api, 3101, replies=True)
    await p.send("/start")
    consent = p.last()
    arrived = await _slow_callback_answers(api, 1.0)
    api.press_button(p.user_id, consent.message_id, consent.button_data("J’accepte"))
    await asyncio.wait_for(arrived.wait(), 10)

    started = time.monotonic()
    code = await bot.terminate(timeout=15)
    elapsed = time.monotonic() - started
    assert code == 0
    assert elapsed < 6, f"the bot took {elapsed:.1f}s to stop"
    # The tap being handled when SIGTERM came was finished: stored, and the next question sent.
    assert survey.by_id["actor_type"].text.get("fr") in (p.last().text or "")
    async with open_store(database_url, loaded) as store:
        snapshot = await store.load(p.key)
    assert snapshot.state.answers == {"consent": Answer(True)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_webhook_process_serves_refuses_a_wrong_secret_and_stops_on_sigterm(
    api: RecordingBotAPI,
    database_url: str,
    loaded: LoadedSurvey,
    processes: list[BotProcess],
) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/hook"
    bot = launch(
        processes,
        api,
        database_url,
        args=("--webhook",),
        extra={
            "WEBHOOK_URL": url,
            "WEBHOOK_SECRET": "right-secret",
            "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
        },
    )
    await api.wait_for(lambda: api.webhook_url == url and api.commands(language_code="en"), 20)
    assert [c["command"] for c in api.commands(language_code="fr")] == COMMANDS

    p = Participant(api, 3201, replies=True)
    reply = await p.send("/start")
    assert "▱▱▱▱▱▱▱▱▱▱ 0 % · " in (reply.text or "")
    async with ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert response.status == 200
            assert (await response.json())["status"] == "ok"
        update = {
            "update_id": 777_001,
            "message": {
                "message_id": 5_000,
                "date": 1_643_706_000,
                "chat": {"id": p.user_id, "type": "private", "first_name": "Test"},
                "from": {"id": p.user_id, "is_bot": False, "first_name": "Test"},
                "text": "1",
            },
        }
        count = len(p.messages())
        async with http.post(
            url,
            data=json.dumps(update),
            headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"},
        ) as response:
            assert response.status == 401
    await p.settle()
    assert len(p.messages()) == count
    async with open_store(database_url, loaded) as store:
        assert (await store.load(p.key)).state.answers == {}
        code = await bot.terminate(timeout=15)
        assert code == 0
        assert await _counts(store) == {"draft": 1}


async def _counts(store: Store) -> dict[str, int]:
    return {k: v for k, v in (await store.counts_by_status()).items() if v}
