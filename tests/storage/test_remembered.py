"""`Store.apply` remembers the state it wrote last for each participant and, at the next answer,
reads only a short row to know whether the database still holds exactly that. Whatever happens
to the participant meanwhile (another process answering for them, their data erased, a later
participant given the erased one's row ids), an answer is always applied to what is stored.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialogs import Answer, Survey
from dialogs.events import Start, TextInput
from storage.database import Database
from storage.plan import Key
from storage.repository import Store
from tests.dialogs.test_properties import random_event
from tests.sqlite_template import migrated_sqlite
from tests.storage.helpers import bundled_survey, during, fixed, stepper, texts_survey, tg


def remembered(store: Store, telegram_id: int) -> object:
    return store._recent.get(Key(telegram_id, None, None))


async def check_remembered(store: Store, telegram_id: int) -> None:
    """What the store remembers is what a read of the database gives."""
    found = store._recent.get(Key(telegram_id, None, None))
    if found is None:
        return
    stored = await store.load(tg(telegram_id))
    assert found.state == stored.state
    assert found.participant == stored.participant
    assert (found.response_id, found.status, found.version) == (
        stored.response_id,
        stored.status,
        stored.version,
    )


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_what_is_remembered_is_what_is_stored_after_any_events(data: st.DataObject) -> None:
    """Any events (answers, back, edits, "other" texts, long lists, a language switch, the
    review, submissions, amendments): after each one, the state remembered equals the state read
    back from the database, and the next answer starts from it."""
    survey = replace(bundled_survey(), allow_amend=True)
    now = during(survey)

    async def run() -> None:
        with tempfile.TemporaryDirectory() as folder:
            url = await migrated_sqlite(Path(folder) / "consultbot.db")
            async with Database(url) as db:
                store = Store(db, survey, file_hash="0" * 64)
                await store.apply(tg(1), stepper(survey, Start(), now), clock=fixed(now))
                moment = now
                for _ in range(60):
                    state = (await store.load(tg(1))).state
                    event = random_event(data, survey, state, "focused")
                    moment += timedelta(seconds=1, microseconds=7)
                    await store.apply(tg(1), stepper(survey, event, moment), clock=fixed(moment))
                    await check_remembered(store, 1)

    asyncio.run(run())


async def test_answers_through_two_processes_never_miss_each_other(url: str) -> None:
    """Two stores on one database (two processes behind a load balancer) answer in turn for one
    participant: each sees the other's answers, though it remembers its own last write."""
    survey: Survey = texts_survey(12)
    now = during(survey)
    async with Database(url) as first_db, Database(url) as second_db:
        first = Store(first_db, survey, file_hash="t" * 64)
        second = Store(second_db, survey, file_hash="t" * 64)
        await first.apply(tg(5), stepper(survey, Start(), now), clock=fixed(now))
        stores = [first, second]
        for i in range(12):
            moment = now + timedelta(seconds=i + 1)
            store = stores[i % 2]
            applied = await store.apply(
                tg(5), stepper(survey, TextInput(f"answer {i}"), moment), clock=fixed(moment)
            )
            assert len(applied.state.answers) == i + 1, "an answer of the other store was missed"
            await check_remembered(store, 5)
        final = (await first.load(tg(5))).state
        assert final.answers == {f"q{i + 1:02d}": Answer(f"answer {i}") for i in range(12)}


async def test_an_erased_participant_who_comes_back_starts_afresh(url: str) -> None:
    """Erased by another process (a staff command) after their answers, then back through that
    other process: the store that remembers their old state must not bring it back, though the
    database gives the new rows the erased rows' ids (SQLite reuses the highest row id once
    deleted) and the same version numbers."""
    survey = texts_survey(5)
    now = during(survey)
    async with Database(url) as bot_db, Database(url) as other_db:
        bot = Store(bot_db, survey, file_hash="t" * 64)
        other = Store(other_db, survey, file_hash="t" * 64)
        await bot.apply(tg(9), stepper(survey, Start(), now), clock=fixed(now))
        await bot.apply(tg(9), stepper(survey, TextInput("before"), now), clock=fixed(now))
        before = remembered(bot, 9)
        assert before is not None
        assert await other.erase(tg(9))
        later = now + timedelta(seconds=1)
        await other.apply(tg(9), stepper(survey, Start(), later), clock=fixed(later))
        await other.apply(tg(9), stepper(survey, TextInput("again"), later), clock=fixed(later))
        again = await other.load(tg(9))
        assert again.version == 2  # what the bot remembers had version 2 too
        last = later + timedelta(seconds=1)
        applied = await bot.apply(
            tg(9), stepper(survey, TextInput("after"), last), clock=fixed(last)
        )
        assert applied.state.answers == {"q01": Answer("again"), "q02": Answer("after")}
        stored = await other.load(tg(9))
        assert stored.state.answers == {"q01": Answer("again"), "q02": Answer("after")}


async def test_a_participant_marked_blocked_meanwhile_is_unmarked_by_their_next_answer(
    url: str,
) -> None:
    survey = texts_survey(3)
    now = during(survey)
    async with Database(url) as db:
        store = Store(db, survey, file_hash="t" * 64)
        await store.apply(tg(3), stepper(survey, Start(), now), clock=fixed(now))
        await store.apply(tg(3), stepper(survey, TextInput("a"), now), clock=fixed(now))
        await store.mark_blocked(3, True, now=now)
        assert (await store.load(tg(3))).participant.blocked  # type: ignore[union-attr]
        await store.apply(tg(3), stepper(survey, TextInput("b"), now), clock=fixed(now))
        stored = await store.load(tg(3))
        assert stored.participant is not None and not stored.participant.blocked
        assert stored.state.answers == {"q01": Answer("a"), "q02": Answer("b")}
