"""Two `consultbot run --webhook` processes on one PostgreSQL database behind one webhook URL
(a round-robin proxy in front of them): 200 participants whose updates alternate between the
processes, some sent twice at once, each end with exactly their answers; a few submit, tapping
the submit button twice at once, and get one submission each (one reference); a broadcast started
while both run reaches every recipient exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from aiohttp import ClientSession
from sqlalchemy import func, select

from bot.survey_file import LoadedSurvey
from dialogs import Survey
from dialogs.state import Phase
from storage.broadcasts import BroadcastStore
from storage.models import processed_updates
from storage.repository import ParticipantKey, Store
from storage.schema import upgrade
from tests.botapi.proxy import free_port, round_robin_proxy
from tests.botapi.server import SentMessage
from tests.e2e.harness import (
    INSIDE_WINDOW,
    BotProcess,
    Participant,
    RecordingBotAPI,
    answer_until,
    open_store,
)
from tests.postgres import scratch_database

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres]

PARTICIPANTS = int(os.environ.get("TWO_PROCESSES_N", "200"))
SUBMITTERS = 4
TEXT = "La consultation ferme vendredi : merci à toutes et à tous !"
SECRET = "two-processes-secret"


@pytest.fixture
async def fresh_database() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database next to TEST_DATABASE_URL's, dropped afterwards."""
    async with scratch_database("consultbot_two") as url:
        yield url


@pytest.fixture
def processes() -> Iterator[list[BotProcess]]:
    started: list[BotProcess] = []
    yield started
    for process in started:
        process.stop()


async def wait_up(process: BotProcess, http: ClientSession, port: int) -> None:
    """Wait until the process answers its health check; fail at once if it exits. 120 s is a
    safety net: a start costs about 5 s of CPU, 20-30 s of wall time with both cores busy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while True:
        assert process.process is not None
        if process.process.poll() is not None:
            raise AssertionError(f"the process on {port} exited with {process.process.returncode}")
        try:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if loop.time() > deadline:
            raise AssertionError(f"the process on {port} did not come up in 120 s")
        await asyncio.sleep(0.1)


async def settled(api: RecordingBotAPI, http: ClientSession, ports: list[int]) -> None:
    """Wait until every update pushed so far has been handled: a process answers the delivery
    of an update only once its handler has finished (stored, replies sent), and the API forgets
    an update then. Neither process has one in flight afterwards (their /healthz)."""
    await api.wait_confirmed(api.pending_ids(), timeout=120)
    for port in ports:
        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert (await response.json())["in_flight"] == 0, port


async def until(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 60) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise TimeoutError(f"waited {timeout}s for {what}")
        await asyncio.sleep(0.02)


async def recorded(store: Store, update_ids: list[int]) -> bool:
    """The bot has applied these updates (their ids are recorded with the answer they carry)."""
    query = select(func.count()).where(processed_updates.c.update_id.in_(update_ids))
    count: int = await store.db.runner.read(lambda c: c.scalar(query) or 0)
    return count == len(update_ids)


async def next_message(
    api: RecordingBotAPI, user: int, after: int, contains: str | None = None
) -> SentMessage:
    def found() -> SentMessage | None:
        for message in api.transcript(user)[after:]:
            if contains is None or contains in (message.text or ""):
                return message
        return None

    return await api.wait_for(found, timeout=60)


async def test_two_webhook_processes_behave_like_one_bot(
    api: RecordingBotAPI,
    fresh_database: str,
    loaded: LoadedSurvey,
    survey: Survey,
    processes: list[BotProcess],
) -> None:
    await upgrade(fresh_database)
    ports = [free_port(), free_port()]
    proxy, proxy_port, served = await round_robin_proxy(ports, "/hook")
    url = f"http://127.0.0.1:{proxy_port}/hook"
    stack = contextlib.AsyncExitStack()
    try:
        for port in ports:
            process = BotProcess(
                api,
                fresh_database,
                args=("--webhook",),
                extra={
                    "WEBHOOK_URL": url,
                    "WEBHOOK_SECRET": SECRET,
                    "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
                    "BROADCAST_RATE": "1000",
                },
            )
            process.start()
            processes.append(process)
        http = await stack.enter_async_context(ClientSession())
        for process, port in zip(processes, ports, strict=True):
            await wait_up(process, http, port)
        await api.wait_for(lambda: api.webhook_url == url, 60)
        watcher = await stack.enter_async_context(open_store(fresh_database, loaded))

        actor = survey.by_id["actor_type"]
        first = survey.questions[0]
        users = [70_000 + i for i in range(PARTICIPANTS)]

        async def participant(i: int, user: int) -> None:
            api.send_command(user, "/start", language_code="fr")
            welcome = await next_message(api, user, 0, "▱▱▱▱▱▱▱▱▱▱ 0 % · ")
            seen = len(api.transcript(user))
            # The same tap twice at once: the two updates go to the two processes.
            consent = welcome.button_data("J’accepte")
            taps = [
                api.press_button(user, welcome.message_id, consent, language_code="fr")[0]
                for _ in range(2)
            ]
            await next_message(api, user, seen, actor.text.get("fr"))
            # Both taps applied (the second one finds the question already on screen).
            await until(lambda: recorded(watcher, taps), f"the taps of {user} to be applied")
            question = [m for m in api.transcript(user) if actor.text.get("fr") in (m.text or "")]
            seen = len(api.transcript(user))
            option = actor.options[i % len(actor.options)]
            api.press_button(
                user,
                question[-1].message_id,
                question[-1].button_data(option.label.get("fr")),
                language_code="fr",
            )
            await next_message(api, user, seen)

        await asyncio.gather(*(participant(i, u) for i, u in enumerate(users)))
        await settled(api, http, ports)
        assert min(served) > PARTICIPANTS, served

        # A few go to the end and tap "Envoyer" twice at once: one submission each.
        submitters = [90_000 + i for i in range(SUBMITTERS)]
        async with open_store(fresh_database, loaded) as store:

            async def submitter(user: int) -> None:
                p = Participant(api, user, replies=True)
                await p.send("/start")
                await answer_until(p, survey, lambda: store.load(p.key))
                review = p.last()
                data = review.button_data("Envoyer")
                taps = [
                    api.press_button(user, review.message_id, data, language_code="fr")[0]
                    for _ in range(2)
                ]
                await until(lambda: recorded(store, taps), f"the taps of {user} to be applied")

            await asyncio.gather(*(submitter(user) for user in submitters))
            await settled(api, http, ports)
            for user in submitters:
                snapshot = await store.load(ParticipantKey(telegram_id=user))
                assert snapshot.state.phase is Phase.SUBMITTED, user
                assert snapshot.state.reference
                receipts = [
                    m.text or "" for m in api.transcript(user) if "Référence" in (m.text or "")
                ]
                # The second tap shows the receipt again (an idempotent submit): same reference.
                assert receipts, user
                assert all(snapshot.state.reference in text for text in receipts), receipts

        async with open_store(fresh_database, loaded) as store:
            for i, user in enumerate(users):
                snapshot = await store.load(ParticipantKey(telegram_id=user))
                answers = snapshot.state.answers
                assert set(answers) == {first.id, actor.id}, (user, answers)
                assert answers[actor.id].value == actor.options[i % len(actor.options)].id
            counts = await store.counts_by_status()
            assert counts.get("draft") == PARTICIPANTS, counts
            assert counts.get("submitted") == SUBMITTERS, counts

            broadcasts = BroadcastStore(store.db, survey.id, survey.default_language)
            assert await broadcasts.count_recipients("all") == PARTICIPANTS + SUBMITTERS
            users = users + submitters
            created = await broadcasts.create("all", TEXT, now=INSIDE_WINDOW)
            assert created is not None

            def everyone() -> bool:
                return all(received(api, user) >= 1 for user in users)

            await api.wait_for(everyone, timeout=120)

            async def finished() -> bool:
                info = await broadcasts.get(created)
                return info is not None and info.status == "done"

            # Done: every delivery's outcome is recorded, after Telegram answered its send, so
            # a message sent twice would be in the transcript by now.
            await until(finished, "the broadcast to be done")
            assert all(received(api, user) == 1 for user in users)
        for process in processes:
            assert await process.terminate(timeout=60) == 0
    finally:
        await stack.aclose()
        await proxy.cleanup()


def received(api: RecordingBotAPI, user: int) -> int:
    return sum(1 for m in api.transcript(user) if m.text == TEXT)
