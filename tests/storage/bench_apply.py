"""Timings of the storage hot path (not a test): `python -m tests.storage.bench_apply [URL...]`.

For each database URL (default: a temporary SQLite file, plus TEST_DATABASE_URL if set; a
PostgreSQL database is emptied first): 1,000 sequential applies (one answer each, with an update
id, as the bot does), 1,000 loads, then 2,000 applies from 200 participants at once. With
`--bulk N`: N synthetic submitted responses through the bulk path, then streamed back.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from dialogs import Answer, Phase, State
from dialogs.events import Start, TextInput
from storage.database import Database
from storage.repository import NewResponse, ParticipantKey, Store
from storage.schema import upgrade
from tests.storage.conftest import reset_postgres
from tests.storage.helpers import bundled_survey, during, fixed, stepper, texts_survey, tg


async def bench(url: str, bulk: int) -> None:
    if url.startswith("postgresql"):
        await reset_postgres(url)
    await upgrade(url)
    db = Database(url)
    survey = texts_survey(60)
    store = Store(db, survey, file_hash="b" * 64)
    await store.register_survey()
    now = during(survey)
    clock = fixed(now)
    update_ids = iter(range(1, 10**9))
    name = db.engine.dialect.name
    try:
        for i in range(50):
            await store.apply(tg(i), stepper(survey, Start(), now), clock=clock)
        timings = []
        started = time.perf_counter()
        for i in range(1000):
            step = stepper(survey, TextInput(f"answer {i}"), now)
            t = time.perf_counter()
            await store.apply(tg(i % 50), step, clock=clock, update_id=next(update_ids))
            timings.append(time.perf_counter() - t)
        total = time.perf_counter() - started
        print(
            f"{name}: 1,000 sequential applies: {total * 1000 / 1000:.2f} ms per apply "
            f"(median {statistics.median(timings) * 1000:.2f} ms, "
            f"p99 {sorted(timings)[989] * 1000:.2f} ms)"
        )
        started = time.perf_counter()
        for i in range(1000):
            await store.load(tg(i % 50))
        print(f"{name}: 1,000 loads: {(time.perf_counter() - started):.2f} ms per load")

        async def participant(i: int) -> None:
            key = tg(10_000 + i)
            await store.apply(key, stepper(survey, Start(), now), clock=clock)
            for j in range(9):
                step = stepper(survey, TextInput(f"p{i} a{j}"), now)
                await store.apply(key, step, clock=clock, update_id=next(update_ids))

        started = time.perf_counter()
        await asyncio.gather(*(participant(i) for i in range(200)))
        elapsed = time.perf_counter() - started
        print(f"{name}: 2,000 applies by 200 participants at once: {2000 / elapsed:.0f} applies/s")

        if bulk:
            await bench_bulk(db, bulk)
    finally:
        await db.close()


async def bench_bulk(db: Database, count: int) -> None:
    survey = bundled_survey()
    store = Store(db, survey, file_hash="c" * 64)
    at = during(survey)

    def rows() -> list[NewResponse]:
        made = []
        for i in range(count):
            answers = {
                q.id: Answer(q.options[i % len(q.options)].id)
                if q.options and q.type.value == "single_choice"
                else Answer(f"texte {i} – {q.id}")
                for q in survey.questions[:15]
            }
            state = State(
                language="fr",
                phase=Phase.SUBMITTED,
                answers=answers,
                reference=f"B{i:08d}",
                submitted_at=at + timedelta(seconds=i),
            )
            made.append(NewResponse(ParticipantKey.telegram(5_000_000 + i), state, started_at=at))
        return made

    name = store.engine.dialect.name
    data = rows()
    started = time.perf_counter()
    await store.bulk_insert_responses(data)
    print(f"{name}: bulk insert of {count:,} responses: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    seen = 0
    async for batch in store.stream_responses():
        seen += len(batch)
    print(f"{name}: streamed {seen:,} responses in {time.perf_counter() - started:.1f} s")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("urls", nargs="*")
    parser.add_argument("--bulk", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    urls = list(args.urls)
    with tempfile.TemporaryDirectory() as folder:
        if not urls:
            urls.append(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")
            if os.environ.get("TEST_DATABASE_URL"):
                urls.append(os.environ["TEST_DATABASE_URL"])
        for url in urls:
            await bench(url, args.bulk)


if __name__ == "__main__":
    asyncio.run(main())
