"""End-to-end harness: the real bot (in this process, or as a `consultbot run` subprocess) talking
HTTP to the local Bot API server, and a participant who reads the questions and answers them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import ALLOWED_UPDATES, set_commands
from bot.config import DEFAULT_SURVEY, Settings
from bot.polling import Poller
from bot.runner import Running, running_bot
from bot.survey_file import LoadedSurvey
from dialogs import QuestionType, State, Survey
from dialogs.model import Question
from dialogs.state import Phase
from storage.database import Database
from storage.repository import ParticipantKey, Snapshot, Store
from storage.schema import ensure_schema
from tests.botapi.server import FakeBotAPI, SentMessage

INSIDE_WINDOW = datetime.fromisoformat("2022-02-01T10:00:00+01:00")


class RecordingBotAPI(FakeBotAPI):
    """The local server, keeping every update it queued so that a test can deliver one again
    with the same `update_id` (`redeliver`), as Telegram does after a lost acknowledgement."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.updates: dict[int, dict[str, Any]] = {}

    def push_raw_update(self, update: Mapping[str, Any]) -> int:
        update_id = super().push_raw_update(update)
        self.updates.setdefault(update_id, {**update, "update_id": update_id})
        return update_id

    def redeliver(self, update_id: int) -> int:
        return self.push_raw_update(self.updates[update_id])


class ManualClock:
    """A clock the test sets and moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def settings_for(api: FakeBotAPI, database_url: str, **extra: str) -> Settings:
    """The bot's settings for a test: the test's environment (workers' pace set by fixtures),
    then these."""
    env = {
        **os.environ,
        "BOT_TOKEN": api.token,
        "TELEGRAM_API_URL": api.base_url,
        "DATABASE_URL": database_url,
        "SURVEY_FILE": str(DEFAULT_SURVEY),
        **extra,
    }
    return Settings.from_env(env)


@contextlib.asynccontextmanager
async def polling_bot(
    api: FakeBotAPI,
    database_url: str,
    clock: ManualClock,
    *,
    commands: bool = False,
    **extra: str,
) -> AsyncIterator[Running]:
    """The bot, in this process, long-polling the local server until the block ends
    (`commands`: set the command menu first, as `run_polling` does)."""
    settings = settings_for(api, database_url, **extra)
    async with running_bot(settings, clock) as running:
        if commands:
            await set_commands(running.bot, running.ctx.survey.languages)
        poller = Poller(
            running.bot,
            running.dispatcher,
            timeout=1,
            allowed_updates=ALLOWED_UPDATES,
        )
        task = asyncio.create_task(poller.run())
        try:
            yield running
        finally:
            poller.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await poller.finish(5)
            await running.guard.drain(5)


@contextlib.asynccontextmanager
async def open_store(database_url: str, loaded: LoadedSurvey) -> AsyncIterator[Store]:
    """The bot's database, opened by the test (to look at what a bot process stored)."""
    await ensure_schema(database_url)
    async with Database(database_url) as db:
        yield Store(db, loaded.survey, file_hash=loaded.file_hash)


@dataclass
class BotProcess:
    """`consultbot run` as a child process, so that it can be killed for real."""

    api: FakeBotAPI
    database_url: str
    now: datetime = INSIDE_WINDOW
    extra: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    stderr: Path | None = None
    """A file to write the process's standard error to (else inherited)."""
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "BOT_TOKEN": self.api.token,
            "TELEGRAM_API_URL": self.extra.get("TELEGRAM_API_URL") or self.api.base_url,
            "DATABASE_URL": self.database_url,
            "SURVEY_FILE": str(DEFAULT_SURVEY),
            "CONSULTBOT_NOW": self.now.isoformat(),
            "LOG_LEVEL": "WARNING",
            "METRICS_LISTEN": "",  # tests run side by side: no fixed port unless a test asks
            **self.extra,
        }
        with contextlib.ExitStack() as files:
            err = files.enter_context(self.stderr.open("wb")) if self.stderr else None
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run", *self.args],
                env=env,
                cwd=Path(__file__).resolve().parents[2],
                stderr=err,
            )

    def errors(self) -> str:
        """What the process wrote to standard error so far (with `stderr` set)."""
        assert self.stderr is not None
        return self.stderr.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    async def terminate(self, timeout: float = 20) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.process.wait, timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    async def wait_polling(self, timeout: float = 120) -> None:
        """Wait until the process holds a getUpdates request open (it is serving); fail at once
        if it exits. The timeout is only a safety net: starting a process costs about 5 s of CPU
        (importing aiogram's types), 20-30 s of wall time on a machine with both cores busy."""
        await self._wait_started(lambda: self.api.polling, "start polling", timeout)

    async def wait_webhook(self, url: str, timeout: float = 120) -> None:
        """Wait until the process has set its webhook to `url` and its command menu (it is
        serving); fail at once if it exits. The timeout is a safety net (see `wait_polling`)."""

        def serving() -> bool:
            return self.api.webhook_url == url and bool(self.api.commands(language_code="en"))

        await self._wait_started(serving, f"set its webhook to {url}", timeout)

    async def _wait_started(self, started: Callable[[], bool], what: str, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not started():
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"the bot exited with {self.process.returncode}")
            if loop.time() > deadline:
                raise TimeoutError(f"the bot process did not {what} within {timeout}s")
            await asyncio.sleep(0.02)


class Participant:
    """A Telegram user who talks to the bot through the local server."""

    SETTLE_TIMEOUT = 120.0
    """Only a guard against a hang: settling waits for the bot's confirmation, however long a
    loaded machine makes it take."""

    def __init__(
        self,
        api: FakeBotAPI,
        user_id: int,
        *,
        language: str = "fr",
        running: Running | None = None,
        replies: bool = False,
    ) -> None:
        self.api = api
        self.user_id = user_id
        self.language = language
        self.running = running
        """The in-process bot: settling also waits for its handlers in flight."""
        self.replies = replies
        """Every action of this participant gets a message or an edit: settle checks that."""

    @property
    def key(self) -> ParticipantKey:
        return ParticipantKey(telegram_id=self.user_id)

    def messages(self) -> list[SentMessage]:
        return [m for m in self.api.transcript(self.user_id) if not m.deleted]

    def last(self) -> SentMessage:
        message = self.api.last_message(self.user_id)
        assert message is not None, "the bot has not written to this participant"
        return message

    async def settle(self, since: int | None = None) -> None:
        """Wait until the bot has handled every update queued so far (this participant's and
        anyone else's): the bot confirms an update only once its handler has finished, its
        transaction committed and its replies sent (polling: the offset of its next getUpdates;
        webhook: the 2xx answer to the delivery). `since` (a `seq` taken before the action):
        with `replies`, the action must have changed the chat."""
        await self.api.wait_confirmed(self.api.pending_ids(), self.SETTLE_TIMEOUT)
        if self.running is not None:
            # Updates the in-process bot got by other ways than this server's queue.
            assert await self.running.guard.drain(self.SETTLE_TIMEOUT), "the bot did not settle"
        if self.replies and since is not None:
            assert self.api.changes_since(self.user_id, since) > 0, (
                "the bot handled the action without writing to the participant"
            )

    async def send(self, text: str) -> SentMessage:
        since = self.api.seq
        if text.startswith("/"):
            self.api.send_command(self.user_id, text, language_code=self.language)
        else:
            self.api.send_text(self.user_id, text, language_code=self.language)
        await self.settle(since)
        return self.last()

    async def press(self, data: str, message: SentMessage | None = None) -> SentMessage:
        target = message or self.last()
        since = self.api.seq
        self.api.press_button(self.user_id, target.message_id, data, language_code=self.language)
        await self.settle(since)
        return self.last()

    async def tap(self, label: str, message: SentMessage | None = None) -> SentMessage:
        target = message or self.last()
        return await self.press(target.button_data(label), target)

    def buttons(self, message: SentMessage | None = None) -> list[tuple[str, str]]:
        return [(text, data) for text, data in (message or self.last()).buttons if data]


def answer_plan(question: Question) -> tuple[str, ...]:
    """What a participant does to answer `question` validly: `press:PREFIX` or a typed text."""
    qtype = question.type
    if qtype is QuestionType.TEXT:
        return ("Les pôles doivent rester proches des PME — et de leurs territoires ! 🚀",)
    if qtype is QuestionType.EMAIL:
        return ("marie.dupont@example.fr",)
    if qtype is QuestionType.ORGANISATION_ID:
        return ("732 829 320 00074",)
    if qtype is QuestionType.NUMBER:
        low = question.min if question.min is not None else 0
        return (str(int(low) + 1 if question.integer else low + 0.5),)
    return ()


async def answer_current(participant: Participant, survey: Survey, state: State) -> None:
    """Answer the question on screen the way a person would: tap, tick and confirm, or type."""
    assert state.current is not None
    question = survey.by_id[state.current]
    typed = answer_plan(question)
    if typed:
        await participant.send(typed[0])
        return
    buttons = participant.buttons()
    options = [(label, data) for label, data in buttons if data[:2] in ("c:", "t:")]
    if question.type in (QuestionType.SINGLE_CHOICE, QuestionType.SCALE, QuestionType.CONSENT):
        await participant.press(options[0][1])
        return
    wanted = question.top if question.type is QuestionType.RANKING else max(1, question.min_choices)
    message = participant.last()
    for _, data in options[:wanted]:
        message = await participant.press(data, message)
    confirm = next(data for _, data in participant.buttons(message) if data.startswith("k:"))
    await participant.press(confirm, message)


async def answer_until(
    participant: Participant,
    survey: Survey,
    load: Callable[[], Awaitable[Snapshot]],
    done: Callable[[State], bool] = lambda state: state.phase is not Phase.ANSWERING,
) -> State:
    """Answer question after question (`answer_current`) until `done(state)`; returns the state.
    `load()` reads the stored Snapshot."""
    for _ in range(len(survey.questions) + 5):
        snapshot = await load()
        if done(snapshot.state) or snapshot.state.phase is not Phase.ANSWERING:
            return snapshot.state
        await answer_current(participant, survey, snapshot.state)
    raise AssertionError("the questionnaire did not end")
