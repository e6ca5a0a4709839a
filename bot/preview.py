"""Wiring of the terminal preview: the survey, where its answers are kept, the terminal session.

By default the preview's answers are stored (status `preview`, left out of exports) under a
name, so that `consultbot try --as NAME` resumes it; `--no-store` keeps them in memory only.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from datetime import datetime

from bot.config import Settings
from bot.survey_file import LoadedSurvey
from bot.terminal import TerminalSession
from dialogs.engine import Result, new_state
from dialogs.state import State
from storage.database import Database
from storage.repository import ParticipantKey, Store
from storage.schema import ensure_schema


async def _read_line() -> str | None:
    line = await asyncio.to_thread(sys.stdin.readline)
    return line if line else None


async def _in_memory(
    loaded: LoadedSurvey, language: str | None, clock: Callable[[], datetime]
) -> None:
    state = new_state(loaded.survey, language)

    async def apply(step: Callable[[State], Result]) -> Result:
        nonlocal state
        result = step(state)
        state = result.state
        return result

    session = TerminalSession(loaded.survey, apply, clock, sys.stdout, state.language)
    await session.run(_read_line)


async def run_preview(
    loaded: LoadedSurvey,
    settings: Settings,
    *,
    name: str,
    language: str | None,
    fresh: bool,
    memory: bool,
    clock: Callable[[], datetime],
) -> int:
    if memory:
        await _in_memory(loaded, language, clock)
        return 0
    await ensure_schema(settings.database_url)
    db = Database(settings.database_url)
    try:
        store = Store(db, loaded.survey, file_hash=loaded.file_hash)
        await store.register_survey()
        key = ParticipantKey(preview_name=name)
        if fresh:
            await store.erase(key)
        snapshot = await store.load(key, language)

        async def apply(step: Callable[[State], Result]) -> Result:
            applied = await store.apply(
                key, step, clock=clock, language_hint=language, preview=True
            )
            assert applied.result is not None
            return applied.result

        session = TerminalSession(loaded.survey, apply, clock, sys.stdout, snapshot.state.language)
        await session.run(_read_line)
    finally:
        await db.close()
    return 0
