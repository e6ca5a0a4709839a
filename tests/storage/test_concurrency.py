"""Concurrent updates: nothing lost, nothing applied twice, one response per participant.

On SQLite the writers of one process take turns and other processes wait on the busy timeout;
on PostgreSQL the participant's row lock serialises their transactions. Either way every
acknowledged transition must be in the database, in some serial order.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from dialogs import Answer, Survey
from dialogs.events import Start, TextInput
from storage.database import Database
from storage.models import answers, participants, responses
from storage.repository import Applied, Store
from tests.storage.helpers import during, fixed, stepper, texts_survey, texts_yaml, tg
from tests.storage.test_durability import spawn


async def total(engine: AsyncEngine, table: object) -> int:
    async with engine.connect() as connection:
        value = await connection.scalar(select(func.count()).select_from(table))  # type: ignore[arg-type]
    return int(value or 0)


def texts_store(db: Database, count: int = 60) -> Store:
    return Store(db, texts_survey(count), file_hash="t" * 64)


async def answer_all(store: Store, telegram_id: int, texts: list[str]) -> list[Applied]:
    survey = store.survey
    now = during(survey)
    return await asyncio.gather(
        *(
            store.apply(tg(telegram_id), stepper(survey, TextInput(text), now), clock=fixed(now))
            for text in texts
        )
    )


def check_serial(survey: Survey, results: list[Applied], texts: list[str], first: int) -> None:
    """Each apply saw the state left by another: n applies, n distinct answer counts."""
    counts = sorted(len(r.state.answers) for r in results)
    assert counts == list(range(first, first + len(texts)))


async def test_fifty_simultaneous_answers_of_one_participant(
    db: Database,
) -> None:
    store = texts_store(db)
    survey = store.survey
    now = during(survey)
    await store.apply(tg(7), stepper(survey, Start(), now), clock=fixed(now))
    texts = [f"réponse {i}" for i in range(50)]
    results = await answer_all(store, 7, texts)

    check_serial(survey, results, texts, 1)
    final = await store.load(tg(7))
    assert final.version == 1 + len(texts)
    assert sorted(a.value for a in final.state.answers.values()) == sorted(texts)  # type: ignore[type-var]
    assert set(final.state.answers) == {f"q{i:02d}" for i in range(1, 51)}
    assert final.state.current == "q51"
    assert await total(db.engine, responses) == 1
    assert await total(db.engine, answers) == 50


async def test_five_hundred_participants_at_once(db: Database) -> None:
    store = texts_store(db, 3)
    survey = store.survey
    now = during(survey)
    ids = itertools.count(1)

    async def participant(i: int) -> None:
        key = tg(100_000 + i)
        # First contact: a double /start at the same moment creates one participant, one response.
        await asyncio.gather(
            store.apply(key, stepper(survey, Start(), now), clock=fixed(now), update_id=next(ids)),
            store.apply(key, stepper(survey, Start(), now), clock=fixed(now), update_id=next(ids)),
        )
        for j in range(3):
            # Every answer delivered twice with its update id, as Telegram may redeliver it.
            update_id = next(ids)
            step = stepper(survey, TextInput(f"p{i} a{j}"), now)
            twice = await asyncio.gather(
                store.apply(key, step, clock=fixed(now), update_id=update_id),
                store.apply(key, step, clock=fixed(now), update_id=update_id),
            )
            assert sorted(a.duplicate for a in twice) == [False, True]

    # A hundred participants at a time (two hundred events racing for the pool's connections):
    # with all 500 at once, the last ones wait for a connection as long as the whole run takes,
    # which passes the pool's timeout (30 s on PostgreSQL) on a loaded machine.
    at_a_time = asyncio.Semaphore(100)

    async def one_of_many(i: int) -> None:
        async with at_a_time:
            await participant(i)

    await asyncio.gather(*(one_of_many(i) for i in range(500)))

    assert await total(db.engine, participants) == 500
    assert await total(db.engine, responses) == 500
    assert await total(db.engine, answers) == 1500
    async with db.engine.connect() as connection:
        per_response = await connection.execute(
            select(responses.c.participant_id, func.count())
            .join(answers)
            .group_by(responses.c.participant_id)
        )
        assert {n for _, n in per_response} == {3}
    for i in (0, 123, 499):
        state = (await store.load(tg(100_000 + i))).state
        assert state.answers == {f"q{j + 1:02d}": Answer(f"p{i} a{j}") for j in range(3)}


async def test_two_engines_hammer_one_participant(url: str, db: Database) -> None:
    second = Database(url)
    try:
        one, two = texts_store(db), texts_store(second)
        survey = one.survey
        now = during(survey)
        await one.register_survey()
        await one.apply(tg(8), stepper(survey, Start(), now), clock=fixed(now))
        first_texts = [f"un {i}" for i in range(25)]
        second_texts = [f"deux {i}" for i in range(25)]
        results = await asyncio.gather(
            answer_all(one, 8, first_texts), answer_all(two, 8, second_texts)
        )
    finally:
        await second.close()
    applied = results[0] + results[1]
    check_serial(survey, applied, first_texts + second_texts, 1)
    final = await one.load(tg(8))
    assert final.version == 51
    values = sorted(str(a.value) for a in final.state.answers.values())
    assert values == sorted(first_texts + second_texts)
    assert await total(db.engine, responses) == 1


async def test_two_processes_hammer_one_participant(url: str, db: Database, tmp_path: Path) -> None:
    survey_file = tmp_path / "texts.yaml"
    survey_file.write_text(texts_yaml(60), encoding="utf-8")
    store = texts_store(db)
    now = during(store.survey)
    await store.apply(tg(9), stepper(store.survey, Start(), now), clock=fixed(now))

    workers = [spawn(url, str(survey_file), "hammer", "9", "25", name) for name in ("A", "B")]
    try:
        for worker in workers:
            assert worker.stdout is not None
            ready = await asyncio.wait_for(asyncio.to_thread(worker.stdout.readline), 30)
            assert ready.strip() == "READY", worker.stderr.read() if worker.stderr else ""
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = await asyncio.gather(
            *(asyncio.to_thread(worker.communicate, timeout=60) for worker in workers)
        )
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
        assert out.startswith("DONE"), err
        assert "database is locked" not in err

    final = await store.load(tg(9))
    assert final.version == 51
    expected = sorted(f"{name} {i}" for name in ("A", "B") for i in range(25))
    assert sorted(str(a.value) for a in final.state.answers.values()) == expected
    assert await total(db.engine, responses) == 1


async def test_postgres_answers_beyond_the_pool_wait_for_a_connection(
    backend: str, url: str
) -> None:
    """PostgreSQL: never more connections than the pool's size, whatever the answers in flight:
    those beyond it wait for one (opening and closing extra connections under load cost the
    bot a fifth of its throughput), and every answer is kept."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL's connection pool")

    async def sessions_opened() -> int:
        async with Database(url, pool_size=1) as probe, probe.engine.connect() as connection:
            value = await connection.exec_driver_sql(
                "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
            )
            return int(value.scalar_one())

    async with Database(url, pool_size=3) as db:
        store = texts_store(db, 3)
        await store.register_survey()
        survey = store.survey
        now = during(survey)
        before = await sessions_opened()

        async def participant(i: int) -> None:
            key = tg(200_000 + i)
            await store.apply(key, stepper(survey, Start(), now), clock=fixed(now))
            for j in range(3):
                await store.apply(key, stepper(survey, TextInput(f"a{j}"), now), clock=fixed(now))

        await asyncio.gather(*(participant(i) for i in range(40)))
        opened = await sessions_opened() - before
        assert await total(db.engine, answers) == 120
    # The 40 participants' answers used at most the pool's 3 connections (the probe: 1 more).
    assert opened <= 3 + 1, opened
