"""The retention promise kept by the running bot: its daily purger anonymises the participants
once the bundled survey's date (31 December 2022) has passed on the bot's clock, and /delete
says so before and after; `consultbot purge` does the same once from the command line."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

import bot.workers
from bot.runner import Running
from bot.survey_file import LoadedSurvey
from dialogs import Survey
from storage.models import participants
from storage.retention import PurgeResult
from tests.admin.conftest import workers
from tests.admin.test_cli import ROOT
from tests.e2e.harness import ManualClock, RecordingBotAPI, open_store, polling_bot
from tests.e2e.test_participant import participant, start_and_answer, stored, text_of

pytestmark = pytest.mark.e2e


async def telegram_ids(running: Running) -> list[int | None]:
    query = select(participants.c.telegram_id).order_by(participants.c.id)
    found: list[int | None] = await running.ctx.store.db.runner.read(
        lambda c: list(c.execute(query).scalars())
    )
    return found


async def consultbot(database_url: str, *args: str, now: str | None = None) -> tuple[int, str]:
    """`consultbot ARGS` as the operator runs it (`now`: the rehearsal clock, CONSULTBOT_NOW)."""
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    env.pop("SURVEY_FILE", None)
    env.pop("CONSULTBOT_NOW", None)
    if now is not None:
        env["CONSULTBOT_NOW"] = now
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode() + err.decode()


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 20) -> None:
    """Wait for `condition`, polling it, for at most `timeout` seconds."""
    for _ in range(int(timeout / 0.02)):
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise TimeoutError("the condition did not come true")


async def test_the_bot_anonymises_after_the_retention_date_and_delete_says_so(
    api: RecordingBotAPI,
    database_url: str,
    clock: ManualClock,
    survey: Survey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PURGE_EVERY", "0.05")
    runs: list[PurgeResult] = []
    real_purge = bot.workers.purge

    async def counted(*args: object, **kwargs: object) -> PurgeResult:
        result = await real_purge(*args, **kwargs)  # type: ignore[arg-type]
        runs.append(result)
        return result

    monkeypatch.setattr(bot.workers, "purge", counted)
    due = survey.anonymise_time()
    assert due is not None
    async with polling_bot(api, database_url, clock) as running:
        p = participant(api, running, 6101)
        before = await start_and_answer(p, survey, running, 3)
        assert len(before.state.answers) == 3

        ask = await p.send("/delete")
        assert "conservées jusqu’au 31 décembre 2022 inclus, puis anonymisées" in text_of(ask)
        await p.tap("Non", ask)

        async with workers(running):
            # While the consultation runs, and up to the last second of 31 December, the daily
            # purger runs and does nothing.

            def ran(count: int) -> Callable[[], Awaitable[bool]]:
                async def check() -> bool:
                    return len(runs) >= count

                return check

            await until(ran(2))
            clock.set(due - timedelta(seconds=1))
            await until(ran(len(runs) + 2))
            assert not any(r.ran for r in runs)
            assert await telegram_ids(running) == [6101]

            clock.set(due + timedelta(hours=3))

            async def anonymised() -> bool:
                return await telegram_ids(running) == [None]

            await until(anonymised)

        # The old response can no longer be found from the account ...
        assert (await stored(running, p)).participant is None
        ask = await p.send("/delete")
        assert "jusqu’au 31 décembre 2022 ont été anonymisées" in text_of(ask)
        reply = await p.tap("Oui", ask)
        assert "Je n’ai aucune donnée vous concernant" in text_of(reply)
        assert "anonymisées" in text_of(reply)
        # ... but it is still there, counted.
        assert (await running.ctx.store.counts_by_status())["draft"] == 1


async def test_consultbot_purge(
    api: RecordingBotAPI, database_url: str, clock: ManualClock, loaded: LoadedSurvey
) -> None:
    async with polling_bot(api, database_url, clock) as running:
        for user_id in (6201, 6202):
            await start_and_answer(participant(api, running, user_id), loaded.survey, running, 2)

    code, out = await consultbot(database_url, "purge", now="2022-12-31T23:59:00+01:00")
    assert code == 0
    assert "anonymisation is due at 2023-01-01T00:00+01:00 (Europe/Paris)" in out
    assert "nothing done" in out

    code, out = await consultbot(database_url, "purge", "--dry-run")
    assert code == 0, out
    assert "would remove 2 participants" in out and "nothing changed" in out
    async with open_store(database_url, loaded) as store:
        query = select(participants.c.telegram_id).order_by(participants.c.id)
        ids = await store.db.runner.read(lambda c: list(c.execute(query).scalars()))
    assert ids == [6201, 6202]

    code, out = await consultbot(database_url, "purge")
    assert code == 0, out
    assert "removed 2 participants" in out
    code, out = await consultbot(database_url, "purge")
    assert code == 0 and "removed 0 participants" in out
    async with open_store(database_url, loaded) as store:
        ids = await store.db.runner.read(lambda c: list(c.execute(query).scalars()))
        assert ids == [None, None]
        assert (await store.counts_by_status())["draft"] == 2
