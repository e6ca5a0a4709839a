"""On a SQLite file `Store.apply` runs as plain SQL on the writer thread's sqlite3 connection
(`storage.apply_ops.SQLiteOps`); on PostgreSQL as two statements on the asyncpg connection
(`storage.pg_apply`); elsewhere through SQLAlchemy Core. The same story told through a fast path
and through Core must leave the same rows in the database and return the same results."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from dialogs import Survey
from dialogs.events import Amend, Choose, Edit, Start, Submit, SwitchLanguage, TextInput
from storage.database import AsyncRunner, Database, ThreadedSQLiteRunner
from storage.repository import Applied, ParticipantKey, Store
from storage.schema import upgrade
from tests.postgres import scratch_database
from tests.storage.helpers import bundled_survey, during, fixed, stepper, tg, walk_to_review

TABLES = ("participants", "responses", "answers", "processed_updates", "response_versions")


async def story(store: Store, survey: Survey) -> list[tuple[Any, ...]]:
    """Every kind of write `apply` does; returns what each call answered."""
    now = during(survey)
    seen: list[tuple[Any, ...]] = []

    def note(applied: Applied) -> None:
        seen.append((applied.state, applied.duplicate, applied.refused_closed, applied.status))
        seen.append((applied.version,))

    key = tg(7001)
    state = await walk_to_review(store, key, now)
    # an edit that hides answers (they are deleted), then a language switch
    note(
        await store.apply(
            key, stepper(survey, Edit("cluster_member", state.step), now), clock=fixed(now)
        )
    )
    note(
        await store.apply(
            key,
            stepper(survey, lambda s: Choose("cluster_member", "no", s.step), now),
            clock=fixed(now),
            update_id=501,
        )
    )
    note(
        await store.apply(
            key, stepper(survey, SwitchLanguage("en"), now), clock=fixed(now), update_id=502
        )
    )
    # the same update again: nothing happens
    note(
        await store.apply(
            key, stepper(survey, SwitchLanguage("fr"), now), clock=fixed(now), update_id=502
        )
    )
    # blocked, then back: the flag is cleared by the next answer
    await store.mark_blocked(7001, True, now=now)
    review = await store.apply(key, stepper(survey, TextInput("ignored"), now), clock=fixed(now))
    note(review)
    later = now + timedelta(minutes=5, microseconds=123)
    note(
        await store.apply(
            key, stepper(survey, lambda s: Submit("REF-PATHS", s.step), later), clock=fixed(later)
        )
    )
    # amended and submitted again: a second submitted version
    amended = later + timedelta(hours=1, microseconds=7)
    note(await store.apply(key, stepper(survey, Amend(), amended), clock=fixed(amended)))
    note(
        await store.apply(
            key,
            stepper(survey, lambda s: Submit("REF-PATHS", s.step), amended),
            clock=fixed(amended),
        )
    )
    # a second participant wants the same reference: the store draws another
    other = tg(7002)
    other_state = await walk_to_review(store, other, now)
    note(
        await store.apply(
            other,
            stepper(survey, Submit("REF-PATHS", other_state.step), now),
            clock=fixed(now),
            update_id=503,
            draw_reference=lambda: "REF-OTHER",
        )
    )
    # a terminal preview, and a participant who only asked for their status
    preview = ParticipantKey.preview("alice")
    note(
        await store.apply(
            preview, stepper(survey, Start(), now, preview=True), clock=fixed(now), preview=True
        )
    )
    note(
        await store.apply(
            tg(7003), stepper(survey, Start(), now), clock=fixed(now), language_hint="en"
        )
    )
    # a web participant (channel 'web', known by their web key), and a web preview
    web = ParticipantKey.web("web-key-of-the-story")
    note(await store.apply(web, stepper(survey, Start(), now), clock=fixed(now)))
    note(
        await store.apply(
            web,
            stepper(survey, lambda s: Choose("consent", "accept", s.step), now),
            clock=fixed(now),
        )
    )
    note(
        await store.apply(
            ParticipantKey.web("web-preview"),
            stepper(survey, Start(), now, preview=True),
            clock=fixed(now),
            preview=True,
        )
    )
    return seen


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the hot path's tables, as SQLite holds them (types included)."""
    connection = sqlite3.connect(path)
    try:
        return {
            table: [
                tuple((type(v).__name__, v) for v in row)
                for row in connection.execute(f"SELECT * FROM {table} ORDER BY 1, 2")
            ]
            for table in TABLES
        }
    finally:
        connection.close()


async def run_story(
    path: Path, survey: Survey, *, core: bool
) -> tuple[list[tuple[Any, ...]], dict[str, list[tuple[Any, ...]]]]:
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    async with Database(url, threaded=not core) as db:
        expected = AsyncRunner if core else ThreadedSQLiteRunner
        assert isinstance(db.runner, expected)
        store = Store(db, survey, file_hash="0" * 64, bot_id=4_200_000_001)
        results = await story(store, survey)
    return results, dump(path)


async def test_plain_sqlite_and_core_write_the_same(tmp_path: Path) -> None:
    survey = replace(bundled_survey(), allow_amend=True)
    raw_results, raw_rows = await run_story(tmp_path / "raw.db", survey, core=False)
    core_results, core_rows = await run_story(tmp_path / "core.db", survey, core=True)
    assert raw_results == core_results
    for table in TABLES:
        assert raw_rows[table] == core_rows[table], table
    # the story did write every kind of row
    assert len(raw_rows["participants"]) == 6
    connection = sqlite3.connect(tmp_path / "raw.db")
    channels = [
        row[0] for row in connection.execute("SELECT channel FROM participants ORDER BY id")
    ]
    connection.close()
    assert channels == ["telegram"] * 4 + ["web"] * 2
    assert {row[3][1] for row in raw_rows["responses"]} == {"submitted", "draft", "preview"}
    assert len(raw_rows["processed_updates"]) == 3
    # the submission kept its version 1: (response_id, 1, submitted_at, reference, answers)
    assert [row[1:4] for row in raw_rows["response_versions"]] == [
        (("int", 1), ("str", "2022-01-20 08:05:00.000123"), ("str", "REF-PATHS")),
        (("int", 2), ("str", "2022-01-20 09:05:00.000130"), ("str", "REF-PATHS")),
        (("int", 1), ("str", "2022-01-20 08:00:00.000000"), ("str", "REF-OTHER")),
    ]
    assert {row[2] for row in raw_rows["processed_updates"]} == {("int", 4_200_000_001)}


async def test_default_sqlite_store_takes_the_plain_path(tmp_path: Path) -> None:
    async with Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}") as db:
        assert isinstance(db.runner, ThreadedSQLiteRunner)


async def run_pg_story(
    url: str, survey: Survey, *, core: bool
) -> tuple[list[tuple[Any, ...]], dict[str, list[tuple[Any, ...]]]]:
    await upgrade(url)
    async with Database(url) as db:
        store = Store(db, survey, file_hash="0" * 64, bot_id=4_200_000_001)
        store._direct_pg = not core
        results = await story(store, survey)
        rows: dict[str, list[tuple[Any, ...]]] = {}
        async with db.engine.connect() as connection:
            for table in TABLES:
                found = await connection.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2"))
                rows[table] = [tuple(row) for row in found]
    return results, rows


@pytest.mark.postgres
async def test_postgres_two_statements_and_core_write_the_same() -> None:
    survey = replace(bundled_survey(), allow_amend=True)
    async with scratch_database("fast") as fast_url, scratch_database("core") as core_url:
        fast_results, fast_rows = await run_pg_story(fast_url, survey, core=False)
        core_results, core_rows = await run_pg_story(core_url, survey, core=True)
    assert fast_results == core_results
    for table in TABLES:
        assert fast_rows[table] == core_rows[table], table
    assert len(fast_rows["participants"]) == 6
    assert len(fast_rows["processed_updates"]) == 3
    assert [row[3] for row in fast_rows["response_versions"]] == [
        "REF-PATHS",
        "REF-PATHS",
        "REF-OTHER",
    ]
