"""The bot as a real process (`python -m bot.cli run`): killed with SIGKILL half-way through a
participant's answers and started again, it resumes where they were; SIGTERM stops it cleanly,
finishing the update in flight. Polling and webhook modes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import ClientSession

from bot.survey_file import LoadedSurvey
from dialogs import Survey
from dialogs.flow import progress
from dialogs.state import Answer, Phase
from storage.repository import Snapshot, Store
from tests.botapi.server import SentMessage
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
    await bot.wait_webhook(url)
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


def _sqlite_path(database_url: str) -> str:
    return database_url.removeprefix("sqlite+aiosqlite:///")


async def _people_at_consent(
    api: RecordingBotAPI, first_id: int, count: int
) -> list[tuple[Participant, SentMessage]]:
    """`count` participants who sent /start: each with the consent question on screen."""
    people = []
    for i in range(count):
        p = Participant(api, first_id + i, replies=True)
        people.append((p, await p.send("/start")))
    return people


def _tap_consents(api: RecordingBotAPI, people: list[tuple[Participant, SentMessage]]) -> list[int]:
    return [
        api.press_button(p.user_id, consent.message_id, consent.button_data("J’accepte"))[0]
        for p, consent in people
    ]


@contextlib.contextmanager
def _write_lock(database_url: str) -> Iterator[None]:
    """The SQLite write lock held by the test: the bot's transactions wait for it."""
    lock = sqlite3.connect(_sqlite_path(database_url), isolation_level=None, timeout=30)
    try:
        lock.execute("BEGIN IMMEDIATE")
        yield
    finally:
        lock.rollback()
        lock.close()


async def _each_consent_applied_once(
    api: RecordingBotAPI,
    database_url: str,
    loaded: LoadedSurvey,
    survey: Survey,
    people: list[tuple[Participant, SentMessage]],
    timeout: float,
) -> None:
    """Every tap was applied once after the restart, and each participant was asked the next
    question once."""
    question = survey.by_id["actor_type"].text.get("fr") or ""
    # The new process confirms each tap once its handler has finished (stored, next question
    # sent); a tap that was lost would never be applied.
    await api.wait_confirmed(api.pending_ids(), timeout)
    assert not api.dropped_updates
    async with open_store(database_url, loaded) as store:
        for p, _ in people:
            snapshot = await store.load(p.key)
            assert snapshot.state.answers == {"consent": Answer(True)}, "a tap was lost"
            assert snapshot.version == 2  # /start, then the tap: applied once
            shown = [m for m in p.messages() if question in (m.text or "")]
            assert len(shown) == 1, [m.text for m in p.messages()]


async def test_taps_in_flight_at_a_sigkill_are_applied_once_after_the_restart(
    api: RecordingBotAPI,
    database_url: str,
    loaded: LoadedSurvey,
    survey: Survey,
    processes: list[BotProcess],
) -> None:
    """Six taps are being handled, each waiting for the database's write lock (held by the test),
    when the process is killed: none was confirmed to Telegram, so the next process gets them
    all and applies each once."""
    first = launch(processes, api, database_url)
    await first.wait_polling()
    people = await _people_at_consent(api, 3301, 6)
    with _write_lock(database_url):
        taps = _tap_consents(api, people)
        # Every tap reached a handler (the spinner is stopped first), and the bot asked for
        # updates again since: what it confirmed then is what a kill can lose.
        await api.wait_for_calls("answerCallbackQuery", len(taps), timeout=30)
        await api.wait_for(
            lambda: any(
                int(call.params.get("offset") or 0) >= taps[0] for call in api.calls("getUpdates")
            ),
            30,
        )
        first.kill()

    second = launch(processes, api, database_url)
    await second.wait_polling()
    await _each_consent_applied_once(api, database_url, loaded, survey, people, timeout=120)
    assert api.pending_update_count == 0
    assert await second.terminate() == 0


async def test_webhook_taps_in_flight_at_a_sigkill_are_applied_once_after_the_restart(
    api: RecordingBotAPI,
    database_url: str,
    loaded: LoadedSurvey,
    survey: Survey,
    processes: list[BotProcess],
) -> None:
    """In webhook mode the 200 that tells Telegram an update is delivered comes after its
    handler has committed: taps waiting for the database's write lock when the process is killed
    were never answered 200, so they are delivered again to the next process and applied once."""
    api.webhook_retries = 200  # as Telegram does, deliver again while the bot is down
    api.webhook_backoff = 0.1
    port = _free_port()
    url = f"http://127.0.0.1:{port}/hook"
    extra = {
        "WEBHOOK_URL": url,
        "WEBHOOK_SECRET": "right-secret",
        "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
    }

    def start() -> BotProcess:
        return launch(processes, api, database_url, args=("--webhook",), extra=extra)

    first = start()
    await first.wait_webhook(url)
    people = await _people_at_consent(api, 3401, 4)
    with _write_lock(database_url):
        _tap_consents(api, people)
        # Every tap reached a handler (its spinner is stopped first): they wait for the lock.
        await api.wait_for_calls("answerCallbackQuery", len(people), timeout=30)
        first.kill()

    second = start()
    await _each_consent_applied_once(api, database_url, loaded, survey, people, timeout=120)
    assert not api.dropped_updates
    assert await second.terminate(timeout=15) == 0


async def test_a_second_poller_on_the_token_stops_with_one_clear_line(
    api: RecordingBotAPI,
    database_url: str,
    tmp_path: Path,
    processes: list[BotProcess],
) -> None:
    first = launch(processes, api, database_url)
    await first.wait_polling()
    second = launch(processes, api, database_url, stderr=tmp_path / "second.err")
    assert second.process is not None
    code = await asyncio.to_thread(second.process.wait, 60)
    assert code == 3
    lines = second.errors().strip().splitlines()
    assert len(lines) == 1, lines
    assert "409 Conflict" in lines[0] and "another process is polling" in lines[0]
    # The first one goes on serving.
    reply = await Participant(api, 3401, replies=True).send("/start")
    assert "▱▱▱▱▱▱▱▱▱▱ 0 % · " in (reply.text or "")
    assert first.process is not None and first.process.poll() is None
    assert await first.terminate() == 0


async def test_at_start_an_unreachable_api_is_retried_with_backoff(
    database_url: str, tmp_path: Path, processes: list[BotProcess]
) -> None:
    api = RecordingBotAPI()
    port = _free_port()
    bot = launch(
        processes,
        api,
        database_url,
        extra={"TELEGRAM_API_URL": f"http://127.0.0.1:{port}"},
        stderr=tmp_path / "bot.err",
    )
    try:
        deadline = time.monotonic() + 60
        while bot.errors().count("did not answer") < 2:
            assert bot.process is not None and bot.process.poll() is None, bot.errors()
            assert time.monotonic() < deadline, bot.errors()
            await asyncio.sleep(0.1)
        await api.start(port=port)
        await bot.wait_polling()
        reply = await Participant(api, 3501, replies=True).send("/start")
        assert "▱▱▱▱▱▱▱▱▱▱ 0 % · " in (reply.text or "")
        assert await bot.terminate() == 0
    finally:
        await api.stop()
    lines = bot.errors().strip().splitlines()
    assert "Traceback" not in bot.errors()
    assert len(lines) >= 2 and all("getMe: the Bot API" in line for line in lines), lines
    assert "attempt 1:" in lines[0] and "trying again in 1s" in lines[0]
    assert "attempt 2:" in lines[1] and "trying again in 2s" in lines[1]


async def test_at_start_the_retries_are_bounded(
    database_url: str, tmp_path: Path, processes: list[BotProcess]
) -> None:
    bot = launch(
        processes,
        RecordingBotAPI(),
        database_url,
        extra={
            "TELEGRAM_API_URL": f"http://127.0.0.1:{_free_port()}",
            "STARTUP_RETRY_SECONDS": "2",
        },
        stderr=tmp_path / "bot.err",
    )
    assert bot.process is not None
    assert await asyncio.to_thread(bot.process.wait, 60) == 1
    errors = bot.errors()
    assert "Traceback" not in errors
    assert (
        errors.strip().splitlines()[-1].startswith("consultbot: the Bot API at http://127.0.0.1:")
    )
    assert "giving up" in errors


async def _trickle(port: int, head: bytes, limit: float = 15.0) -> tuple[float, bytes]:
    """Connect, send `head`, then one byte every 0.2 s until the server closes the connection
    (or `limit` seconds). Returns how long the server kept it open, and what it answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    answer = b""
    try:
        writer.write(head)
        while time.monotonic() - started < limit:
            try:
                writer.write(b"a")
                await writer.drain()
                chunk = await asyncio.wait_for(reader.read(4096), 0.2)
            except TimeoutError:
                continue
            except (ConnectionResetError, BrokenPipeError):
                break
            if not chunk:
                break
            answer += chunk
    finally:
        writer.close()
    return time.monotonic() - started, answer


async def test_webhook_listener_drops_slow_clients_and_serves_metrics_apart(
    api: RecordingBotAPI, database_url: str, processes: list[BotProcess]
) -> None:
    port, metrics_port = _free_port(), _free_port()
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
            "WEBHOOK_READ_TIMEOUT": "1",
            "METRICS_LISTEN": f"127.0.0.1:{metrics_port}",
        },
    )
    await bot.wait_webhook(url)

    # Headers sent a byte at a time: the connection is closed once the read timeout is over.
    held, _ = await _trickle(port, b"POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    assert held < 5, f"a client trickling its headers was kept {held:.1f}s"
    # Complete headers with the right secret, then a body a byte at a time: 408, closed.
    head = (
        b"POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"X-Telegram-Bot-Api-Secret-Token: right-secret\r\nContent-Length: 100000\r\n\r\n{"
    )
    held, answer = await _trickle(port, head)
    assert held < 5, f"a client trickling its body was kept {held:.1f}s"
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]

    async with ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
            assert response.status == 404
        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert response.status == 200
        async with http.get(f"http://127.0.0.1:{metrics_port}/metrics") as response:
            assert response.status == 200
            assert "consultbot_updates_handled_total" in await response.text()
    reply = await Participant(api, 3601, replies=True).send("/start")
    assert "▱▱▱▱▱▱▱▱▱▱ 0 % · " in (reply.text or "")
